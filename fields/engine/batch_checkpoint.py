"""Checkpoints of a running batch: every run's state and outputs so far, written atomically.

The same file format as a run's checkpoint (:mod:`fields.engine.checkpoint`: one ``.npz`` with a
JSON header), holding the loop's per-run arrays (only the runs still in the batch), every site's
state, modifiers and lesion cohorts, and the batch record. The header fingerprints the batch (base
parameters and every varied column), the sites, horizons, geometry, seed and output options. A
resumed batch continues bit for bit: the field factorisations it rebuilds are the same numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from fields.core.version import __version__
from fields.engine import checkpoint as ckpt
from fields.model.interventions import Modifiers

_RECORD = ("death_day", "steps", "max_error")


def batch_header(batch, names, horizons, geometry, seed, every, store_fields, keep, stop) -> dict:
    """What identifies a batch in its checkpoints, with its fingerprint under ``run``."""
    header: dict[str, Any] = {
        "parameters": batch.base.to_json(),
        "varied": {key: np.asarray(v, dtype=float).tolist() for key, v in batch.varied.items()},
        "runs": int(batch.size),
        "sites": list(names),
        "horizons": np.asarray(horizons, dtype=float).tolist(),
        "geometry": geometry,
        "seed": int(seed),
        "output_every_days": float(every),
        "store_fields": bool(store_fields),
        "keep": keep,
        "stop_at_death": bool(stop),
        "fields_version": __version__,
    }
    header["run"] = ckpt.fingerprint(header)
    return header


def save_batch(path: str | Path, header: dict, loop) -> None:
    """Checkpoint the batch loop ``loop`` (a :class:`fields.engine.batch._Loop`)."""
    a: dict[str, np.ndarray] = {f"loop/{key}": np.asarray(getattr(loop, key)) for key in loop.ROWS}
    for group in loop.KEYED:
        for name, value in getattr(loop, group).items():
            a[f"loop/{group}/{name}"] = np.asarray(value)
    rec = loop.rec
    for key in _RECORD:
        a[f"rec/{key}"] = getattr(rec, key)
    for name, values in rec.outgrowth.items():
        a[f"rec/outgrowth/{name}"] = values
    for key, values in rec.systemic.items():
        a[f"rec/systemic/{key}"] = values
    for site, series in rec.site_series.items():
        for key, values in series.items():
            a[f"rec/series/{site}/{key}"] = values
    for site, frames in rec.fields.items():
        for key, values in frames.items():
            a[f"rec/fields/{site}/{key}"] = values
    for site, values in rec.density.items():
        a[f"rec/density/{site}"] = values
    a["rec/error_runs"] = np.array(sorted(rec.errors), dtype=np.int64)
    a["rec/error_messages"] = np.array([rec.errors[i] for i in sorted(rec.errors)], dtype=str)
    rows = loop.ids.size
    for name, site in loop.sites.items():
        for key, values in site.state.items():
            a[f"site/{name}/state/{key}"] = values
        for key, value in vars(site.modifiers).items():
            a[f"site/{name}/modifiers/{key}"] = np.broadcast_to(value, (rows, 1))
        for key in site.lesions.STATE:
            a[f"site/{name}/lesions/{key}"] = getattr(site.lesions, key)
    ckpt.save(path, header, a)


def restore_batch(path: str | Path, header: dict, loop) -> None:
    """Fill a fresh batch loop from a checkpoint of the same batch."""
    a = ckpt.load_same(
        path, header, "batch", "parameters, sites, horizons, geometry, seed, outputs"
    )
    loop._take(np.array(a["loop/ids"], dtype=int))
    for key in loop.ROWS:
        setattr(loop, key, np.array(a[f"loop/{key}"]))
    for group in loop.KEYED:
        prefix = f"loop/{group}/"
        setattr(loop, group, {k[len(prefix) :]: np.array(a[k]) for k in a if k.startswith(prefix)})
    rec = loop.rec
    for key in _RECORD:
        setattr(rec, key, np.array(a[f"rec/{key}"]))
    rec.outgrowth = _group(a, "rec/outgrowth/")
    rec.systemic = _group(a, "rec/systemic/")
    rec.site_series = {name: _group(a, f"rec/series/{name}/") for name in loop.names}
    if rec.fields:
        rec.fields = {name: _group(a, f"rec/fields/{name}/") for name in loop.names}
    if rec.density:
        rec.density = _group(a, "rec/density/")
    rec.errors = dict(
        zip(
            (int(i) for i in a["rec/error_runs"]),
            (str(m) for m in a["rec/error_messages"]),
            strict=True,
        )
    )
    for name, site in loop.sites.items():
        site.state = _group(a, f"site/{name}/state/")
        site.modifiers = Modifiers(**_group(a, f"site/{name}/modifiers/"))
        for key in site.lesions.STATE:
            setattr(site.lesions, key, np.array(a[f"site/{name}/lesions/{key}"]))


def _group(a: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {k[len(prefix) :]: np.array(a[k]) for k in a if k.startswith(prefix)}
