"""Checks of a run's arguments, the output days, the events and the site patches."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from fields.core.errors import FieldsInputError
from fields.model import primary
from fields.model.interventions import event_times
from fields.numerics.geometry import Patch, make_patch
from fields.parameters import GEOMETRIES, Parameters, check_geometry


def check_run(
    p: Parameters,
    sites: Sequence[str],
    days: float,
    geometry: str,
    output_every_days: float,
    seed: int,
) -> list[str]:
    """The run's site names, or one clear FieldsInputError naming the argument."""
    if isinstance(sites, str):
        sites = [sites]
    names = list(dict.fromkeys(sites))
    known = ", ".join(p.sites)
    if not names:
        raise FieldsInputError(f"sites = [] is not allowed: at least one of {known}")
    for name in names:
        if name not in p.sites:
            raise FieldsInputError(f"site = {name!r} is not allowed: one of {known}")
    if geometry not in GEOMETRIES:
        raise FieldsInputError(
            f"geometry = {geometry!r} is not allowed: one of {', '.join(GEOMETRIES)}"
        )
    check_geometry(p, geometry)
    positive_days("days", days)
    positive_days("output_every_days", output_every_days)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise FieldsInputError(f"seed = {seed!r} is not allowed: an integer >= 0")
    return names


def positive_days(key: str, value: object) -> float:
    """A finite number of days > 0, or one clear FieldsInputError naming the key."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise FieldsInputError(f"{key} = {value!r} is not allowed: a finite number > 0 (unit: day)")
    return float(value)


def output_days(days: float, every: float) -> np.ndarray:
    """Requested output days: 0, every, 2 every, ... and the last day."""
    n = math.floor(days / every + 1e-9)
    times = [i * every for i in range(n + 1)]
    if days - times[-1] > 1e-9 * max(days, 1.0):
        times.append(float(days))
    return np.array(times, dtype=float)


def run_events(p: Parameters, days: float) -> tuple[list[tuple[float, str]], float | None, float]:
    """(events inside the horizon, resection day or None, dissemination onset day)."""
    resect = primary.resection_time(p.primary)
    onset = primary.onset_time(p.primary, p.dissemination)
    events = event_times(p.interventions)
    if resect is not None:
        events.append((resect, "resection"))
    if math.isfinite(onset) and (resect is None or onset < resect):
        events.append((onset, "dissemination onset"))
    events = sorted((t, label) for t, label in events if 0.0 < t < days)
    return events, resect, onset


def site_patches(p: Parameters, names: Sequence[str], geometry: str, seed: int) -> dict[str, Patch]:
    """Each site's patch; the i-th site's capillary layout uses seed + 1000 i."""
    return {
        name: make_patch(geometry, p.sites[name], p.geometry, seed + 1000 * index)
        for index, name in enumerate(names)
    }
