"""Checkpoints of a running simulation: the full state, written atomically (issue 7).

A checkpoint is one ``.npz`` file holding every site's state arrays, the outputs recorded so far,
the systemic state, the step-size controller and the loop position, plus a JSON header with the
run's fingerprint (parameters, sites, geometry, horizon, seed, output options, package version).
The capillary layouts are not stored: they are rebuilt from the seed, which is the only source of
randomness, and the header checks that they come out the same. Floats are stored as float64
arrays, so a resumed run continues bit for bit.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from fields.errors import FieldsInputError

FORMAT = "fields-checkpoint-1"


def fingerprint(meta: dict[str, Any]) -> str:
    text = json.dumps(meta, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def save(path: str | Path, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Write atomically: a temporary file beside ``path``, renamed when complete."""
    from fields.output import atomic_path

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
