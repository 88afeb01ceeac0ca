"""Sourced values in TOML: ``key = {value = ..., source = "...", confidence = "..."}``.

The packaged organ sites and species are such files (``data/sites``, ``data/species``, listed in
``data/catalog.toml``), and a parameter file may give any value this way, so that a value and its
source travel together into :meth:`fields.Parameters.leaves` and the documentation.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

from fields.core.errors import FieldsInputError, ParameterError
from fields.parameters.spec import CONFIDENCE

DATA = Path(__file__).resolve().parent / "data"
SOURCED_KEYS = frozenset({"value", "source", "confidence"})
#: Confidence of a value set without a source (``--set``, ``with_updates``, a plain TOML value).
USER = "user"


class Provenance(NamedTuple):
    """Where a value comes from: a source text citing bibliography keys, and a confidence."""

    source: str
    confidence: str


def is_sourced(entry: Any) -> bool:
    """True for a ``{value, source, confidence}`` table."""
    return isinstance(entry, Mapping) and "value" in entry and set(entry) <= SOURCED_KEYS


def unpack(entry: Mapping[str, Any], key: str) -> tuple[Any, Provenance]:
    """(value, provenance) of a sourced table; a bad source or confidence names the key."""
    source = entry.get("source", "")
    confidence = entry.get("confidence", "assumed")
    if not isinstance(source, str) or not source.strip():
        raise ParameterError(f"{key}.source", source, "a non-empty text citing the value's source")
    if confidence not in CONFIDENCE:
        raise ParameterError(f"{key}.confidence", confidence, "one of " + ", ".join(CONFIDENCE))
    return entry["value"], Provenance(source, confidence)


def split(table: Mapping[str, Any], prefix: str) -> tuple[dict[str, Any], dict[str, Provenance]]:
    """Nested values and the provenance of every sourced leaf, keyed by dotted path."""
    values: dict[str, Any] = {}
    provenance: dict[str, Provenance] = {}
    for key, entry in table.items():
        full = f"{prefix}.{key}" if prefix else str(key)
        if is_sourced(entry):
            values[key], provenance[full] = unpack(entry, full)
        elif isinstance(entry, Mapping):
            values[key], inner = split(entry, full)
            provenance.update(inner)
        else:
            values[key] = entry
    return values, provenance


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:  # a broken install
        raise FieldsInputError(f"packaged data file '{path.name}' is unreadable: {exc}") from None


@cache
def catalog() -> dict[str, tuple[str, ...]]:
    """The packaged names, in order: ``{"sites": (...), "species": (...)}``."""
    doc = _read(DATA / "catalog.toml")
    return {kind: tuple(doc[kind]) for kind in ("sites", "species")}


@cache
def packaged(kind: str, name: str) -> tuple[dict[str, Any], dict[str, Provenance]]:
    """Values and provenance of one packaged site or species (``kind``: sites | species)."""
    return split(_read(DATA / kind / f"{name}.toml"), f"{kind}.{name}")
