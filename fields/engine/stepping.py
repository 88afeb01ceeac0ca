"""Step choice and event times of the time loop (days).

Each function takes arrays of shape (runs, 1) (a batch; a single run is a batch of one), or
floats, and gives the same numbers for a run either way.

Error-controlled steps (``stepping.controller = "error"``). Every update of the loop is exact for
coefficients frozen over the step (growth laws, plasma, the DTC and stroma relaxations), so the
step's error is the splitting error: the coefficients move during the step. For a quantity y
with y' = k(t) y that error is dt^2/2 abs(k') in ln y, which the change of the step's mean
rate estimates::

    err = dt_n^2 / (dt_n + dt_{n-1}) * abs(dz_n / dt_n - dz_{n-1} / dt_{n-1}),   z = ln(y + floor),

the largest over the controlled quantities (:data:`CONTROLLED`, per site). The next step is
``dt_n * clip(0.9 sqrt(rtol / err), 0.2, growth_factor)``, rounded down to the ladder
dt_min * 2^(k/4) and at most dt_max; after an event the step restarts at dt_min with no
history. A step is not repeated when its estimate exceeds rtol; the next one shrinks, and the
largest estimate of a run is reported with its steps.
"""

from __future__ import annotations

import sys

import numpy as np


def _same(x):
    return float(x) if np.ndim(x) == 0 else x


def next_step(t, dt, target, scale: float):
    """(step, t_new): the step ``dt`` cut at the next stop ``target``, and stretched to it when
    it would stop short by less than 1e-9 of the horizon ``scale``; t_new hits target exactly."""
    step = np.minimum(dt, target - t)
    step = np.where(target - (t + step) < 1e-9 * scale, target - t, step)
    t_new = np.where(step == target - t, target, t + step)
    return _same(step), _same(t_new)


def crossing_time(t0, t1, y0, y1, level):
    """First time y reaches level, log-linear between step ends (output-interval independent);
    t1 when y0 <= 0 or y does not rise."""
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.log(level / y0) / np.log(y1 / y0)
    inside = t0 + np.clip(frac, 0.0, 1.0) * (t1 - t0)
    return _same(np.where((np.asarray(y0) <= 0.0) | (np.asarray(y1) <= y0), t1, inside))


def progress_bar(days: float, progress: bool | None, desc: str):
    """A tqdm bar over simulated days (None: only on a terminal; False: none)."""
    if progress is False or (progress is None and not sys.stderr.isatty()):
        return None
    from tqdm import tqdm

    return tqdm(total=days, unit="day", desc=desc, leave=False, file=sys.stderr)


#: What the error controller watches at each site, with the floor added before the logarithm
#: (below it a relative change does not matter): mean LOX (relative activity), mean stiffness
#: (kPa), mean niche (fraction), dormant and proliferating DTCs in the organ (cells), lesions
#: founded and expected detectable lesions (lesions). In transient mode the mean of each
#: factor is watched too.
CONTROLLED = (
    ("lox", 1e-3),
    ("stiffness", 1e-3),
    ("niche", 1e-2),
    ("dtc_dormant", 1.0),
    ("dtc_proliferating", 1.0),
    ("founded_lesions", 1e-3),
    ("expected_detectable_lesions", 1e-3),
)
_FLOORS = np.array([floor for _, floor in CONTROLLED])
FACTOR_FLOOR = 1e-3  # pg/mL: the mean of each factor, watched too in transient mode
LADDER = 4  # rungs per doubling of the error-controlled step


def controlled(site, lesion_series: dict) -> np.ndarray:
    """ln(y + floor) of the quantities of :data:`CONTROLLED` at one site
    (a :class:`~fields.engine.site.Site`), shape (runs, q)."""
    s, w = site.state, site.weights
    batch = np.ndim(s["lox"]) == 2

    def column(x):
        return np.reshape(x, (-1,)) if batch else float(x)

    organ = column(site.organ_mm3)
    means = [np.sum(s[key] * w, axis=-1) for key, _ in CONTROLLED[:5]]
    values = [
        means[0],
        means[1],
        means[2],
        means[3] * organ,
        means[4] * organ,
        column(lesion_series["founded_lesions"]),
        column(lesion_series["expected_detectable_lesions"]),
    ]
    floors = _FLOORS
    if site.transient:  # the factors then relax over the step too
        values += [np.sum(w * s[name], axis=-1) for name in site.species]
        floors = np.concatenate((floors, np.full(len(site.species), FACTOR_FLOOR)))
    if batch:
        values = [np.broadcast_to(v, s["lox"].shape[:1]) for v in values]
    return np.log(np.stack(values, axis=-1) + floors)


def local_error(step, dz, last_step, last_dz):
    """The step's estimated local error in ln y (largest over the quantities, last axis of dz);
    NaN where there is no previous step to compare with (``last_step`` 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        change = np.abs(dz / step - last_dz / last_step)
        err = np.max(step * step / (step + last_step) * change, axis=-1, keepdims=True)
    err = np.where(last_step > 0.0, err, np.nan)
    return err[0] if np.ndim(dz) == 1 else err


def next_dt(step, attempted, err, at_event, st):
    """The next step (days) of the ``stepping`` controller ``st`` after a step of ``step`` days
    (``attempted`` before a stop cut it) with local error estimate ``err``."""
    if st.controller == "doubling":
        return _same(
            np.where(
                at_event, st.dt_min_days, np.minimum(attempted * st.growth_factor, st.dt_max_days)
            )
        )
    err = np.asarray(err, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # tiny err: clipped
        factor = np.where(err > 0.0, 0.9 * np.sqrt(st.rtol / err), st.growth_factor)
    factor = np.clip(np.where(np.isnan(err), st.growth_factor, factor), 0.2, st.growth_factor)
    proposal = step * factor
    # a step cut short by a stop says little about the step the controller had chosen
    cut = (step < attempted) & ~(err > st.rtol)
    proposal = np.where(cut, np.maximum(proposal, attempted), proposal)
    # steps come from the ladder dt_min * 2^(k/4) (or dt_max): a round-off difference in the
    # estimate then leaves the step unchanged, so a run takes the same steps alone or batched
    with np.errstate(divide="ignore", invalid="ignore"):
        rung = np.floor(LADDER * np.log2(proposal / st.dt_min_days))
    dt = st.dt_min_days * np.exp2(np.maximum(rung, 0.0) / LADDER)
    dt = np.where(proposal >= st.dt_max_days, st.dt_max_days, np.minimum(dt, st.dt_max_days))
    return _same(np.where(at_event, st.dt_min_days, dt))
