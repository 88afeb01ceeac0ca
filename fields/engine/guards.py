"""Numerical guards: stop a run at the first NaN, Inf or bound violation, with a message that
names the site, the variable, the time and the likely cause.

In a batch the rows that fail are found at once (:func:`check_systemic_rows`,
:func:`check_site_rows`); each gets the message the checks of one run give, and the batch goes
on without it."""

from __future__ import annotations

import math

import numpy as np

from fields.core.errors import NumericalError
from fields.numerics import kernels

_CAUSES = {
    "oxygen": "the oxygen solve failed (sites.<site>.o2_uptake_mmhg_per_s, oxygen.km_mmhg, "
    "oxygen.vessel_exchange_per_s or the site's vessel pO2 out of a sensible range)",
    "hypoxia": "a non-finite oxygen field (see oxygen)",
    "lox": "LOX induction or lifetime produced a non-finite value (stroma.lox_*)",
    "stiffness": "a stiffening rate times the step is too large (stroma.*_stiffening_*, "
    "stepping.dt_max_days)",
    "niche": "a niche rate produced a non-finite value (stroma.niche_*)",
    "dtc_dormant": "DTC growth over one step overflowed: a growth or reactivation rate times the "
    "step is too large (dtc.reactivation_max_per_day, dtc.founding_per_day, "
    "stepping.dt_max_days)",
    "dtc_proliferating": "DTC growth over one step overflowed: the growth rate times the step is "
    "too large (dtc.reactivation_max_per_day, stepping.dt_max_days)",
}

#: Fields bounded to [0, 1] and to >= 0 (oxygen and stiffness bounds depend on the site; every
#: species is >= 0).
_UNIT_INTERVAL = ("hypoxia", "niche")
_NON_NEGATIVE = ("lox", "dtc_dormant", "dtc_proliferating")


def _cause(var: str) -> str:
    if var in _CAUSES:
        return _CAUSES[var]
    return (
        f"a non-finite source or sink of the factor {var} (its plasma level, secretion, "
        f"permeability or resident rates: species.{var}.*)"
    )


def _fail(
    site: str, var: str, value: float, index: int, t: float, what: str, context: str
) -> NumericalError:
    cause = _cause(var)
    return NumericalError(
        f"numerical failure in site {site}: {var} = {value!r} {what} at day {t:.6g} "
        f"(cell {index}); likely cause: {cause}{context}. The run was stopped; nothing was "
        "written."
    )


def check_site(
    site: str,
    state: dict[str, np.ndarray],
    t: float,
    top_po2: float,
    baseline_kpa: float,
    systemic: dict[str, float] | None = None,
) -> None:
    """Raise NumericalError at the first non-finite or out-of-bounds value of a site's state.

    ``systemic`` (tumour cells, plasma levels) is quoted in the message: an absurd primary is
    often the real cause of a failure downstream."""
    context = ""
    if systemic:
        plasma = ", ".join(
            f"{key[len('plasma_') :]} {value:.3g}"
            for key, value in systemic.items()
            if key.startswith("plasma_")
        )
        context = (
            f"; at that time the primary has {systemic['tumour_cells']:.3g} cells and plasma "
            f"levels are {plasma} pg/mL"
        )
    tol = 1e-9
    bounds = {
        "oxygen": (-tol, top_po2 * (1 + tol)),
        "stiffness": (baseline_kpa * (1 - tol), math.inf),
        **{var: (-tol, 1.0 + tol) for var in _UNIT_INTERVAL},
        **{var: (0.0, math.inf) for var in _NON_NEGATIVE},
    }
    for var, values in state.items():  # one min and one max per field; NaN propagates into both
        low, high = float(values.min()), float(values.max())
        if not (math.isfinite(low) and math.isfinite(high)):
            i = int(np.argmin(np.isfinite(values)))
            raise _fail(site, var, float(values[i]), i, t, "is not finite", context)
        lo, hi = bounds.get(var, (0.0, math.inf))  # a species: non-negative
        if low < lo:
            i = int(np.argmin(values))
            raise _fail(site, var, low, i, t, f"is below its bound {lo:g}", context)
        if high > hi:
            i = int(np.argmax(values))
            raise _fail(site, var, high, i, t, f"is above its bound {hi:g}", context)


def check_systemic(values: dict[str, float], t: float) -> None:
    for name, value in values.items():
        if not np.isfinite(value) or value < 0.0:
            cause = (
                "primary growth overflowed (primary.tvdt_days too small for the horizon)"
                if name in ("tumour_cells", "dissemination_rate")
                else "a plasma secretion or clearance rate out of range"
            )
            raise NumericalError(
                f"numerical failure in the systemic state: {name} = {value!r} at day {t:.6g}; "
                f"likely cause: {cause}. The run was stopped; nothing was written."
            )


def check_lesions(site: str, size: np.ndarray, count: np.ndarray, t: float) -> None:
    """Lesion cohorts: finite log sizes and finite, non-negative expected counts."""
    if not (np.isfinite(size).all() and np.isfinite(count).all() and (count >= 0.0).all()):
        raise NumericalError(
            f"numerical failure in site {site}: a lesion cohort is not finite or negative at day "
            f"{t:.6g}; likely cause: a lesion growth or founding rate out of range "
            "(lesions.tvdt_days, dtc.founding_per_day, stepping.dt_max_days). The run was "
            "stopped; nothing was written."
        )


#: The bound each guarded field has beyond >= 0: 1 at most 1, 2 at most the vessel pO2,
#: 3 at least the baseline stiffness (as :func:`check_site`).
_KIND = {"hypoxia": 1, "niche": 1, "oxygen": 2, "stiffness": 3}


def check_systemic_rows(
    systemic: dict[str, np.ndarray], t_new: np.ndarray, failed: dict[int, str]
) -> None:
    """Add to ``failed`` (row -> message) the rows whose primary or plasma is not finite or < 0."""
    rows = t_new.shape[0]
    values = {k: np.broadcast_to(v, (rows, 1))[:, 0] for k, v in systemic.items()}
    bad = np.zeros(rows, dtype=bool)
    for v in values.values():
        bad |= ~np.isfinite(v) | (v < 0.0)
    for row in np.nonzero(bad)[0]:
        one = {k: float(v[row]) for k, v in values.items()}
        t = float(t_new[row, 0])
        failed.setdefault(int(row), _message(lambda one=one, t=t: check_systemic(one, t), t))


def check_site_rows(
    name: str,
    site,
    t_new: np.ndarray,
    failed: dict[int, str],
    systemic: dict[str, np.ndarray] | None = None,
) -> None:
    """Add to ``failed`` the rows of ``site`` (a :class:`fields.engine.site.Site`) that a site
    guard would stop, with its message (quoting the row's ``systemic`` values)."""
    rows = t_new.shape[0]
    po2 = site._po2()[:, 0]
    base = np.broadcast_to(site.site.baseline_stiffness_kpa, (rows, 1))[:, 0]
    keys = list(site.state)
    kinds = [_KIND.get(k, 0) for k in keys]
    out = kernels.rows_out_of_bounds([site.state[k] for k in keys], kinds, po2, base)
    bad = ~site.lesions.finite() | out
    for row in np.nonzero(bad)[0]:
        state = {k: v[row] for k, v in site.state.items()}
        t = float(t_new[row, 0])
        mine = None
        if systemic is not None:
            mine = {k: float(np.broadcast_to(v, (rows, 1))[row, 0]) for k, v in systemic.items()}

        def check(state=state, row=row, t=t, mine=mine) -> None:
            check_site(name, state, t, float(po2[row]), float(base[row]), mine)
            check_lesions(name, *site.lesions.guarded(row), t)

        failed.setdefault(int(row), _message(check, t))


def _message(check, t: float) -> str:
    """The guard's message for one run."""
    try:
        check()
    except NumericalError as exc:
        return str(exc)
    return f"numerical failure at day {t:.6g}"
