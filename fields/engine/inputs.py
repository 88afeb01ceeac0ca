"""A run's inputs, checked: its arguments and horizons, output days, events and patches.

Every function serves a batch of runs; a single run is a batch of one.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from fields.core.errors import FieldsInputError
from fields.model import primary
from fields.model.interventions import event_times
from fields.numerics.geometry import Patch, make_patch
from fields.parameters import GEOMETRIES, Parameters, check_geometry
from fields.parameters.batch import ParameterBatch


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
        or not isinstance(value, int | float | np.integer | np.floating)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise FieldsInputError(f"{key} = {value!r} is not allowed: a finite number > 0 (unit: day)")
    return float(value)


def horizons(days, runs: int, every: float) -> np.ndarray:
    """One horizon per run (days), each checked like ``days`` and on the shared output grid."""
    if np.ndim(days) == 0:
        return np.full(runs, float(positive_days("days", days)))
    values = np.asarray(days, dtype=float).reshape(-1)
    if values.size != runs:
        raise FieldsInputError(
            f"days = {values.size} horizons is not allowed: one per run ({runs})"
        )
    for i, value in enumerate(values):
        positive_days(f"days (run {i})", value)
    longest = float(values.max())
    off = np.abs(values / float(every) - np.round(values / float(every))) > 1e-9
    bad = np.nonzero(off & (values < longest))[0]
    if bad.size:
        raise FieldsInputError(
            f"days (run {int(bad[0])}) = {values[bad[0]]} is not allowed: a multiple of "
            f"output_every_days = {every} or the longest horizon ({longest})"
        )
    return values


def output_days(days: float, every: float) -> np.ndarray:
    """Requested output days: 0, every, 2 every, ... and the last day."""
    n = math.floor(days / every + 1e-9)
    times = [i * every for i in range(n + 1)]
    if days - times[-1] > 1e-9 * max(days, 1.0):
        times.append(float(days))
    return np.array(times, dtype=float)


def run_events(p: Parameters, runs: int, days, out_days: np.ndarray):
    """Per run: resection and onset days (runs, 1), event lists, padded stops and event days
    (``p``: the batch's stacked parameters; ``days``: the horizon, one or one per run)."""
    shape = (runs, 1)
    ends = np.broadcast_to(np.asarray(days, dtype=float), (runs,))
    resect = primary.resection_time(p.primary)
    resect = np.full(shape, np.inf) if resect is None else np.broadcast_to(resect, shape) + 0.0
    onset = np.broadcast_to(primary.onset_time(p.primary, p.dissemination), shape) + 0.0
    candidates = [
        (np.broadcast_to(day, shape), label) for day, label in event_times(p.interventions, resect)
    ]
    candidates.append((resect, "resection"))
    candidates.append((np.where(onset < resect, onset, np.inf), "dissemination onset"))
    events: list[list[tuple[float, str]]] = []
    for r in range(runs):
        mine = [(float(t[r, 0]), label) for t, label in candidates]
        events.append(sorted((t, label) for t, label in mine if 0.0 < t < ends[r]))
    width = max((len(e) for e in events), default=0)
    event_days = np.full((runs, max(width, 1)), np.inf)
    stops = np.full((runs, out_days.size - 1 + width + 1), np.inf)
    for r, mine in enumerate(events):
        times = [t for t, _ in mine]
        event_days[r, : len(times)] = times
        grid = out_days[1:][out_days[1:] <= ends[r] + 1e-9 * max(ends[r], 1.0)]
        row = sorted({*grid.tolist(), *times})
        stops[r, : len(row)] = row
    return resect, onset, events, stops, event_days


#: the patches made last, least recently used first (runs with the same site and geometry
#: values share one; a patch keeps its mesh probes in ``extra``)
_PATCHES: OrderedDict[tuple, Patch] = OrderedDict()
PATCHES_KEPT = 64


def _patch(geometry: str, p: Parameters, name: str, seed: int) -> Patch:
    """Site ``name``'s patch, from the kept patches when it was made before."""
    key = (geometry, seed, repr(p.sites[name]), repr(p.geometry))
    if key in _PATCHES:
        _PATCHES.move_to_end(key)
    else:
        _PATCHES[key] = make_patch(geometry, p.sites[name], p.geometry, seed)
        if len(_PATCHES) > PATCHES_KEPT:
            _PATCHES.popitem(last=False)
    return _PATCHES[key]


def site_patches(p: Parameters, names: Sequence[str], geometry: str, seed: int) -> dict[str, Patch]:
    """Each site's patch of one run; the i-th site's capillary layout uses seed + 1000 i."""
    return {name: _patch(geometry, p, name, seed + 1000 * i) for i, name in enumerate(names)}


def run_patches(
    batch: ParameterBatch, names: Sequence[str], geometry: str, seed: int
) -> dict[str, list[Patch]]:
    """Each run's patch per site (as :func:`site_patches`); runs with the same site and
    geometry values share one, and every run's grid is checked against the mesh limits."""
    out: dict[str, list[Patch]] = {}
    for index, name in enumerate(names):
        keys = [k for k in batch.varied if k.startswith((f"sites.{name}.", "geometry."))]
        groups: dict[tuple, list[int]] = {}
        for r in range(batch.size):
            groups.setdefault(tuple(batch.varied[k][r] for k in keys), []).append(r)
        row: list[Patch | None] = [None] * batch.size
        for members in groups.values():
            p = batch.member(members[0]) if keys else batch.base
            try:  # a varied grid size is checked per run, as a run alone checks its own
                check_geometry(p, geometry)
            except FieldsInputError as exc:
                raise FieldsInputError(f"run {members[0]}: {exc}") from None
            patch = _patch(geometry, p, name, seed + 1000 * index)
            for r in members:
                row[r] = patch
        sizes = sorted({patch.n_cells for patch in row})  # type: ignore[union-attr]
        if len(sizes) > 1:  # the state is one (runs, cells) array per field
            raise FieldsInputError(
                f"sites.{name}: patches of {sizes} cells in one batch are not allowed: every "
                "run of a batch needs the same grid (geometry.* equal)"
            )
        out[name] = row  # type: ignore[assignment]
    return out
