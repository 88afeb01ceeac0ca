"""Parameter files: TOML read with one clear error for every failure, and ``base =`` chains."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from fields.core.errors import FieldsInputError, ParameterError
from fields.parameters.tree import Parameters


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file, turning every failure into one clear :class:`FieldsInputError`."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise FieldsInputError(f"cannot read parameter file '{path}': {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FieldsInputError(
            f"parameter file '{path}' is not UTF-8 text (byte {exc.start}); TOML must be UTF-8"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FieldsInputError(f"parameter file '{path}' is not valid TOML: {exc}") from None


def load_parameters(path: str | Path) -> Parameters:
    """Parameters from a TOML file (defaults for anything it omits).

    A plain parameter file has groups at the top level (``[primary]``, ``[sites.lung]``,
    ``[species.plgf]``); any value may be a ``{value, source, confidence}`` table. A study file
    keeps them under ``[parameters]``. ``base = "x.toml"`` (relative to the file) loads another
    parameter file first.
    """
    path = Path(path)
    doc = read_toml(path)
    values = doc.get("parameters", {}) if ("parameters" in doc or "study" in doc) else doc
    if not isinstance(values, dict):
        raise ParameterError("parameters", values, "a table of parameter groups")
    values = dict(values)
    meta = doc.get("study", {})
    base = values.pop("base", None) or (meta.get("base") if isinstance(meta, dict) else None)
    params = Parameters()
    if base is not None:
        if not isinstance(base, str):
            raise ParameterError("base", base, "a path to another parameter file")
        params = load_parameters(path.parent / base)
    return params.with_updates(values)
