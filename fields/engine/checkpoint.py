"""Checkpoints of a running simulation: the full state, written atomically.

A checkpoint is one ``.npz`` file holding every site's state arrays, the outputs recorded so far,
the systemic state, the step-size controller (its step, history and error estimate) and the
loop position, plus a JSON header with the run's fingerprint (parameters, sites, geometry,
horizon, seed, output options, package version). The capillary layouts are not stored: they are
rebuilt from the seed, which is the only source of randomness, and the header checks that they
come out the same. Floats are stored as float64 arrays, so a resumed run continues bit for bit.
"""

from __future__ import annotations

import dataclasses
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
from fields.engine.contract import field_names
from fields.engine.inputs import positive_days
from fields.engine.recorder import Recorder, stacked
from fields.engine.site import SiteModel
from fields.engine.state import LoopState
from fields.model.interventions import Modifiers
from fields.parameters import Parameters

FORMAT = "fields-checkpoint-5"
_SCALARS = (
    "t",
    "dt",
    "cells",
    "resect_pending",
    "next_out",
    "stop_index",
    "shed_per_day",
    "death_day",
    "previous_burden",
    "last_step",
    "steps",
    "max_error",
)


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
        raise FieldsInputError(
            f"checkpoint = '{path}' is not allowed: format {header.get('format')!r}, "
            f"expected {FORMAT!r}"
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


def run_header(
    p: Parameters,
    names: list[str],
    days: float,
    geometry: str,
    seed: int,
    output_every_days: float,
    store_fields: bool,
) -> dict[str, Any]:
    """What identifies a run in its checkpoints, with its fingerprint under ``run``."""
    header = {
        "parameters": p.to_json(),
        "sites": names,
        "days": days,
        "geometry": geometry,
        "seed": int(seed),
        "output_every_days": float(output_every_days),
        "store_fields": bool(store_fields),
        "fields_version": __version__,
    }
    header["run"] = fingerprint(header)
    return header


def save_run(
    path: str | Path, header: dict, loop: LoopState, models: dict[str, SiteModel], rec: Recorder
) -> None:
    """Checkpoint the loop, every site's state and the outputs recorded so far."""
    arrays: dict[str, np.ndarray] = {
        f"loop/{key}": np.float64(getattr(loop, key)) for key in _SCALARS
    }
    for name, value in loop.plasma.items():
        arrays[f"loop/plasma/{name}"] = np.float64(value)
    arrays["loop/z"] = np.asarray(loop.z, dtype=np.float64)
    arrays["loop/last_dz"] = np.asarray(loop.last_dz, dtype=np.float64)
    arrays["rec/times"] = np.array(rec.times, dtype=np.float64)
    for key, values in rec.systemic.items():
        arrays[f"rec/systemic/{key}"] = np.array(values, dtype=np.float64)
    for name, model in models.items():
        arrays[f"site/{name}/outgrowth"] = np.float64(loop.outgrowth[name])
        arrays[f"site/{name}/previous_expected"] = np.float64(loop.previous_expected[name])
        for key in model.lesions.STATE:
            arrays[f"site/{name}/lesions/{key}"] = getattr(model.lesions, key)
        for key in model.lesions.SCALARS:
            arrays[f"site/{name}/lesions/{key}"] = np.float64(getattr(model.lesions, key))
        arrays[f"rec/density/{name}"] = np.array(rec.lesion_density[name], dtype=np.float64)
        arrays[f"site/{name}/modifiers"] = np.array(
            dataclasses.astuple(model.modifiers), dtype=np.float64
        )
        arrays[f"site/{name}/vessel"] = model.patch.vessel.astype(np.int8)
        for key, values in model.state.items():
            arrays[f"site/{name}/state/{key}"] = values
        for key, values in rec.site_series[name].items():
            arrays[f"rec/series/{name}/{key}"] = np.array(values, dtype=np.float64)
        if rec.store_fields:
            for key, frames in rec.site_fields[name].items():
                arrays[f"rec/fields/{name}/{key}"] = stacked(frames)
    save(path, header, arrays)


def restore(
    path: str | Path,
    header: dict,
    models: dict[str, SiteModel],
    rec: Recorder,
    fresh: LoopState,
) -> LoopState:
    """Fill ``models`` and ``rec`` from a checkpoint of the same run; return the loop state."""
    a = load_same(path, header, "run", "parameters, sites, geometry, horizon, seed, outputs")
    loop = dataclasses.replace(
        fresh,
        t=float(a["loop/t"]),
        dt=float(a["loop/dt"]),
        cells=float(a["loop/cells"]),
        resect_pending=bool(a["loop/resect_pending"]),
        next_out=int(a["loop/next_out"]),
        stop_index=int(a["loop/stop_index"]),
        shed_per_day=float(a["loop/shed_per_day"]),
        death_day=float(a["loop/death_day"]),
        previous_burden=float(a["loop/previous_burden"]),
        last_step=float(a["loop/last_step"]),
        steps=int(a["loop/steps"]),
        max_error=float(a["loop/max_error"]),
        z=np.array(a["loop/z"]),
        last_dz=np.array(a["loop/last_dz"]),
        plasma={k[len("loop/plasma/") :]: float(a[k]) for k in a if k.startswith("loop/plasma/")},
        outgrowth={},
        previous_expected={},
    )
    rec.times = a["rec/times"].tolist()
    rec.systemic = {
        key[len("rec/systemic/") :]: a[key].tolist() for key in a if key.startswith("rec/systemic/")
    }
    for name, model in models.items():
        if not np.array_equal(a[f"site/{name}/vessel"], model.patch.vessel.astype(np.int8)):
            raise FieldsInputError(
                f"checkpoint = '{path}' is not allowed: the capillary layout of {name} differs"
            )
        loop.outgrowth[name] = float(a[f"site/{name}/outgrowth"])
        loop.previous_expected[name] = float(a[f"site/{name}/previous_expected"])
        for key in model.lesions.STATE:
            setattr(model.lesions, key, np.array(a[f"site/{name}/lesions/{key}"]))
        for key in model.lesions.SCALARS:
            setattr(model.lesions, key, float(a[f"site/{name}/lesions/{key}"]))
        rec.lesion_density[name] = [row.copy() for row in a[f"rec/density/{name}"]]
        model.modifiers = Modifiers(*(float(v) for v in a[f"site/{name}/modifiers"]))
        for key in field_names(model.species):
            model.state[key] = np.array(a[f"site/{name}/state/{key}"])
        prefix = f"rec/series/{name}/"
        rec.site_series[name] = {k[len(prefix) :]: a[k].tolist() for k in a if k.startswith(prefix)}
        if rec.store_fields:
            prefix = f"rec/fields/{name}/"
            rec.site_fields[name] = {
                k[len(prefix) :]: [frame.copy() for frame in a[k]]
                for k in a
                if k.startswith(prefix)
            }
    return loop
