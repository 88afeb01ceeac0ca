"""Checkpoints of a running batch of runs (a single run is a batch of one), written atomically.

A checkpoint is one ``.npz`` file holding the loop's per-run arrays (only the runs still in the
batch: times, steps, the step-size controller's history, the primary and plasma, event
positions), every site's state, modifiers and lesion cohorts, and the outputs recorded so far,
plus a JSON header with the batch's fingerprint (base parameters and every varied column, sites,
horizons, geometry, seed, output options, package version). The capillary layouts are not
stored: they are rebuilt from the seed, the only source of randomness. Floats are stored as
float64 arrays, so a resumed batch continues bit for bit: the field factorisations it rebuilds
are the same numbers.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from fields.core.errors import FieldsInputError
from fields.core.files import atomic_path
from fields.core.version import __version__
from fields.engine.inputs import positive_days
from fields.model.interventions import Modifiers

FORMAT = "fields-checkpoint-6"
#: formats written by earlier versions, which this one cannot continue
_EARLIER = {"fields-checkpoint-5": "fields 0.2 (the per-run engine)"}
_RECORD = ("death_day", "steps", "max_error")


def fingerprint(meta: dict[str, Any]) -> str:
    text = json.dumps(meta, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def save(path: str | Path, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Write atomically: a temporary file beside ``path``, renamed when complete."""
    path = Path(path)
    payload = {f"a/{key}": np.asarray(value) for key, value in arrays.items()}
    payload["header"] = np.frombuffer(
        json.dumps({"format": FORMAT, **header}).encode(), dtype=np.uint8
    )
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **payload)
        handle.flush()
        os.fsync(handle.fileno())  # on disk before the rename makes it the checkpoint


def load(path: str | Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read a checkpoint; a damaged or foreign file is one clear FieldsInputError."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(bytes(data["header"]).decode())
            arrays = {key[2:]: data[key] for key in data.files if key.startswith("a/")}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise FieldsInputError(
            f"checkpoint = '{path}' is not allowed: not a readable fields checkpoint "
            f"({type(exc).__name__})"
        ) from None
    if header.get("format") != FORMAT:
        found = header.get("format")
        written = _EARLIER.get(found, f"fields {header.get('fields_version', 'unknown')}")
        raise FieldsInputError(
            f"checkpoint = '{path}' is not allowed: format {found!r} was written by {written}; "
            f"fields {__version__} continues only {FORMAT!r} checkpoints: run again without "
            "resume (or with the version that wrote it)"
        )
    return header, arrays


def load_same(path: str | Path, header: dict[str, Any], what: str, same: str) -> dict:
    """The arrays of a checkpoint whose header has the fingerprint of ``header``; a checkpoint of
    another ``what`` is one clear FieldsInputError naming what differs (``same``: what must
    match, for the message)."""
    stored, arrays = load(path)
    if stored.get("run") != header["run"]:
        differs = [k for k in header if k != "run" and stored.get(k) != header[k]]
        raise FieldsInputError(
            f"checkpoint = '{path}' is not allowed: it belongs to another {what} (differs in "
            f"{', '.join(differs) or 'its fingerprint'}); resume with the same {same} and "
            "package version"
        )
    return arrays


# ------------------------------------------------------------------------- run checkpoints
def check_options(checkpoint: str | Path | None, every: float | None, resume: bool) -> float | None:
    """Days between checkpoints (None: no checkpoint), or one clear FieldsInputError."""
    if checkpoint is None:
        if every is not None or resume:
            raise FieldsInputError(
                "checkpoint = None is not allowed with checkpoint_every_days or resume: "
                "give a checkpoint file"
            )
        return None
    path = Path(checkpoint)
    if not path.resolve().parent.is_dir():
        raise FieldsInputError(
            f"checkpoint = '{path}' is not allowed: folder '{path.parent}' does not exist"
        )
    return positive_days("checkpoint_every_days", 365.0 if every is None else every)


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
    header["run"] = fingerprint(header)
    return header


def save_batch(path: str | Path, header: dict, loop) -> None:
    """Checkpoint the loop ``loop`` (a :class:`fields.engine.loop.Loop`)."""
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
        a[f"site/{name}/vessels"] = np.array([patch.vessel.sum() for patch in site.patches])
        for key, values in site.state.items():
            a[f"site/{name}/state/{key}"] = values
        for key, value in vars(site.modifiers).items():
            a[f"site/{name}/modifiers/{key}"] = np.broadcast_to(value, (rows, 1))
        for key in site.lesions.STATE:
            a[f"site/{name}/lesions/{key}"] = getattr(site.lesions, key)
    save(path, header, a)


def restore_batch(path: str | Path, header: dict, loop) -> None:
    """Fill a fresh loop from a checkpoint of the same batch."""
    what = "batch" if loop.batch.size > 1 else "run"
    a = load_same(path, header, what, "parameters, sites, horizons, geometry, seed, outputs")
    loop._take(np.array(a["loop/ids"], dtype=int))
    for name, site in loop.sites.items():
        vessels = np.array([patch.vessel.sum() for patch in site.patches])
        if not np.array_equal(a[f"site/{name}/vessels"], vessels):
            raise FieldsInputError(
                f"checkpoint = '{path}' is not allowed: the capillary layout of {name} differs"
            )
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
        site.state["hypoxia"].flags.writeable = False  # as the oxygen solve leaves it
        site.modifiers = Modifiers(**_group(a, f"site/{name}/modifiers/"))
        for key in site.lesions.STATE:
            setattr(site.lesions, key, np.array(a[f"site/{name}/lesions/{key}"]))


def _group(a: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {k[len(prefix) :]: np.array(a[k]) for k in a if k.startswith(prefix)}
