"""A batch's inputs: each run's events and stops, and each run's patch per site."""

from __future__ import annotations

import numpy as np

from fields.core.errors import FieldsInputError
from fields.model import primary
from fields.numerics.geometry import Patch, make_patch
from fields.parameters import Parameters, check_geometry
from fields.parameters.batch import ParameterBatch
from fields.parameters.settings import THERAPIES


def batch_events(p: Parameters, runs: int, days, out_days: np.ndarray):
    """Per run: resection and onset days (runs, 1), event lists, padded stops and event days
    (``days``: the horizon, one or one per run)."""
    shape = (runs, 1)
    horizons = np.broadcast_to(np.asarray(days, dtype=float), (runs,))
    resect = primary.resection_time(p.primary)
    resect = np.full(shape, np.inf) if resect is None else np.broadcast_to(resect, shape) + 0.0
    onset = np.broadcast_to(primary.onset_time(p.primary, p.dissemination), shape) + 0.0
    candidates: list[tuple[np.ndarray, str]] = []
    for name in THERAPIES:
        window = getattr(p.interventions, name)
        if window.start_day is not None:
            candidates.append((np.broadcast_to(window.start_day, shape), f"{name} start"))
            if window.end_day is not None:
                candidates.append((np.broadcast_to(window.end_day, shape), f"{name} stop"))
    candidates.append((resect, "resection"))
    candidates.append((np.where(onset < resect, onset, np.inf), "dissemination onset"))
    events: list[list[tuple[float, str]]] = []
    for r in range(runs):
        mine = [(float(t[r, 0]), label) for t, label in candidates]
        events.append(sorted((t, label) for t, label in mine if 0.0 < t < horizons[r]))
    width = max((len(e) for e in events), default=0)
    event_days = np.full((runs, max(width, 1)), np.inf)
    stops = np.full((runs, out_days.size - 1 + width + 1), np.inf)
    for r, mine in enumerate(events):
        times = [t for t, _ in mine]
        event_days[r, : len(times)] = times
        grid = out_days[1:][out_days[1:] <= horizons[r] + 1e-9 * max(horizons[r], 1.0)]
        row = sorted({*grid.tolist(), *times})
        stops[r, : len(row)] = row
    return resect, onset, events, stops, event_days


_PATCHES: dict[tuple, Patch] = {}


def batch_patches(batch: ParameterBatch, names, geometry: str, seed: int) -> dict[str, list[Patch]]:
    """Each run's patch per site; runs with the same site and geometry values share one."""
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
            key = (geometry, seed + 1000 * index, repr(p.sites[name]), repr(p.geometry))
            if key not in _PATCHES:
                _PATCHES[key] = make_patch(geometry, p.sites[name], p.geometry, seed + 1000 * index)
            for r in members:
                row[r] = _PATCHES[key]
        sizes = sorted({patch.n_cells for patch in row})  # type: ignore[union-attr]
        if len(sizes) > 1:  # the state is one (runs, cells) array per field
            raise FieldsInputError(
                f"sites.{name}: patches of {sizes} cells in one batch are not allowed: every "
                "run of a batch needs the same grid (geometry.* equal)"
            )
        out[name] = row  # type: ignore[assignment]
    return out
