"""Step choice and event times shared by the per-run loop and the batched loop (days).

Each function takes floats (one run) or arrays of shape (runs, 1) (a batch) and gives the same
numbers for a run either way.
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
