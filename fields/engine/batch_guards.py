"""The numerical guards of :mod:`fields.engine.guards` for a batch: which rows fail, and the
message each would give alone (the batch keeps it and goes on without the row)."""

from __future__ import annotations

import numpy as np

from fields.core.errors import NumericalError
from fields.engine.batch_site import BatchSite
from fields.engine.guards import check_lesions, check_site, check_systemic
from fields.numerics import kernels

#: The bound each guarded field has beyond >= 0: 1 at most 1, 2 at most the vessel pO2,
#: 3 at least the baseline stiffness (as :func:`fields.engine.guards.check_site`).
_KIND = {"hypoxia": 1, "niche": 1, "oxygen": 2, "stiffness": 3}


def check_systemic_rows(
    systemic: dict[str, np.ndarray], t_new: np.ndarray, ids: np.ndarray, failed: dict[int, str]
) -> None:
    """Add to ``failed`` (row -> message) the rows whose primary or plasma is not finite or < 0."""
    values = {k: np.broadcast_to(v, (ids.size, 1))[:, 0] for k, v in systemic.items()}
    bad = np.zeros(ids.size, dtype=bool)
    for v in values.values():
        bad |= ~np.isfinite(v) | (v < 0.0)
    for row in np.nonzero(bad)[0]:
        one = {k: float(v[row]) for k, v in values.items()}
        t = float(t_new[row, 0])
        failed.setdefault(row, _message(lambda one=one, t=t: check_systemic(one, t), ids[row], t))


def check_site_rows(
    name: str, site: BatchSite, t_new: np.ndarray, ids: np.ndarray, failed: dict[int, str]
) -> None:
    """Add to ``failed`` the rows a site guard would stop, with its message."""
    po2 = site._po2()[:, 0]
    base = np.broadcast_to(site.site.baseline_stiffness_kpa, (ids.size, 1))[:, 0]
    keys = list(site.state)
    kinds = [_KIND.get(k, 0) for k in keys]
    out = kernels.rows_out_of_bounds([site.state[k] for k in keys], kinds, po2, base)
    bad = ~site.lesions.finite() | out
    for row in np.nonzero(bad)[0]:
        state = {k: v[row] for k, v in site.state.items()}
        n, t = site.lesions.filled[row], float(t_new[row, 0])

        def check(state=state, row=row, n=n, t=t) -> None:
            check_site(name, state, t, float(po2[row]), float(base[row]))
            check_lesions(name, *site.lesions.guarded(row), t)

        failed.setdefault(row, _message(check, ids[row], t))


def _message(check, run: int, t: float) -> str:
    """The guard's message for one run of the batch."""
    try:
        check()
    except NumericalError as exc:
        return f"run {run}: {exc}"
    return f"run {run}: numerical failure at day {t:.6g}"
