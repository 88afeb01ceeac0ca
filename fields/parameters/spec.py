"""Declarative parameter leaves: value, unit, source, confidence and allowed range in one place.

Each leaf of the parameter tree is a dataclass field created with :func:`param`. Its metadata is
read by validation (:func:`coerce_leaf`), by the parameter tables (``fields sites``, the docs) and
by the JSON export, so a value, its unit and its source can never drift apart. Sources cite the
bibliography by key in square brackets, e.g. ``[klein2009] Table 1`` (see
:mod:`fields.parameters.references`).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from fields.core.errors import ParameterError

NONE_WORDS = ("none", "off", "null")

#: How sure we are of a value: read in the cited source; remembered from the literature but not
#: re-read; a modelling choice without a measurement (the source says why); a name or switch.
CONFIDENCE = ("checked", "recalled", "calibrated", "assumed", "definition")


#: Marks a leaf without a default: its value must come from data.
REQUIRED: Any = object()


def param(
    default: Any,
    unit: str,
    source: str,
    *,
    confidence: str = "assumed",
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    choices: tuple[str, ...] | None = None,
    nullable: bool = False,
    kind: type = float,
    doc: str = "",
) -> Any:
    """A parameter leaf with its unit, its source and what values are allowed.

    ``lo``/``hi`` are inclusive bounds unless ``lo_open``; ``nullable`` allows ``None`` (TOML and
    ``--set`` spell it ``"none"``); ``kind`` is ``float``, ``int``, ``str``, ``bool`` or ``dict``
    (a table of numbers keyed by name, each checked like a float leaf). ``default=REQUIRED``
    makes the leaf one that data must give (organ sites and species come from data files).
    """
    if confidence not in CONFIDENCE:
        raise ValueError(f"confidence {confidence!r} is not one of {CONFIDENCE}")
    meta = {
        "unit": unit,
        "source": source,
        "confidence": confidence,
        "lo": lo,
        "hi": hi,
        "lo_open": lo_open,
        "choices": choices,
        "nullable": nullable,
        "kind": kind,
        "doc": doc,
    }
    if default is REQUIRED:
        return dataclasses.field(metadata=meta)
    if kind is dict:
        return dataclasses.field(default_factory=lambda: dict(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


#: Numeric parameters outside this magnitude range (except 0) are rejected: no rate, length or
#: count of the model comes near, and products of such values overflow double precision.
MIN_MAGNITUDE = 1e-30
MAX_MAGNITUDE = 1e30


def allowed_text(meta: dict[str, Any]) -> str:
    """Human description of what a leaf accepts, used in error messages."""
    kind = meta["kind"]
    if meta["choices"]:
        text = "one of " + ", ".join(repr(c) for c in meta["choices"])
    elif kind is bool:
        text = "true or false"
    else:
        name = "an integer" if kind is int else "a finite number"
        lo, hi = meta["lo"], meta["hi"]
        if lo is not None and hi is not None:
            text = f"{name} in {'(' if meta['lo_open'] else '['}{lo:g}, {hi:g}]"
        elif lo is not None:
            text = f"{name} {'>' if meta['lo_open'] else '>='} {lo:g}"
        elif hi is not None:
            text = f"{name} <= {hi:g}"
        else:
            text = name
    if meta["unit"] and meta["unit"] != "1" and not meta["choices"]:
        text += f" (unit: {meta['unit']})"
    if meta["nullable"]:
        text += ", or 'none'"
    return text


def coerce_leaf(key: str, value: Any, meta: dict[str, Any]) -> Any:
    """Convert ``value`` (from Python, TOML, JSON or a ``--set`` string) and validate it."""
    kind = meta["kind"]
    if kind is dict:
        return _coerce_table(key, value, meta)
    allowed = allowed_text(meta)
    if kind is str and meta["choices"] and value in meta["choices"]:
        return value  # a choice may itself be spelled 'none'
    if value is None or (isinstance(value, str) and value.strip().lower() in NONE_WORDS):
        if meta["nullable"]:
            return None
        raise ParameterError(key, value, allowed)
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise ParameterError(key, value, allowed)
    if kind is str:
        if not isinstance(value, str) or (meta["choices"] and value not in meta["choices"]):
            raise ParameterError(key, value, allowed)
        return value
    # numeric
    if isinstance(value, bool):
        raise ParameterError(key, value, allowed)
    if isinstance(value, str):
        try:
            number = float(value)  # trims ASCII whitespace only; control characters fail
        except ValueError:
            raise ParameterError(key, value, allowed) from None
    elif isinstance(value, int | float):
        number = float(value)
    else:
        try:  # numpy scalars
            number = float(value)
        except (TypeError, ValueError):
            raise ParameterError(key, value, allowed) from None
    if not math.isfinite(number):
        raise ParameterError(key, value, allowed)
    if number != 0.0 and not (MIN_MAGNITUDE <= abs(number) <= MAX_MAGNITUDE):
        raise ParameterError(
            key,
            value,
            f"{allowed}, of magnitude {MIN_MAGNITUDE:g} to {MAX_MAGNITUDE:g} (or 0): beyond "
            "that no quantity of this model is physical and the arithmetic overflows",
        )
    if kind is int:
        if number != int(number):
            raise ParameterError(key, value, allowed)
        number = int(number)
    lo, hi = meta["lo"], meta["hi"]
    if lo is not None and (number < lo or (meta["lo_open"] and number == lo)):
        raise ParameterError(key, value, allowed)
    if hi is not None and number > hi:
        raise ParameterError(key, value, allowed)
    return number


def _coerce_table(key: str, value: Any, meta: dict[str, Any]) -> dict[str, float]:
    """A table of numbers keyed by name (e.g. per-species rates), each value checked as a float."""
    if not isinstance(value, dict):
        raise ParameterError(key, value, f"a table of numbers keyed by name ({allowed_text(meta)})")
    number_meta = {**meta, "kind": float}
    out: dict[str, float] = {}
    for name, item in value.items():
        if not isinstance(name, str) or not name:
            raise ParameterError(f"{key}.{name}", item, "a non-empty text key")
        out[name] = coerce_leaf(f"{key}.{name}", item, number_meta)
    return out


def validate_dataclass(obj: Any, prefix: str) -> None:
    """Validate (and normalise in place) every leaf of a frozen parameter dataclass."""
    for f in dataclasses.fields(obj):
        if "unit" not in f.metadata:
            continue
        key = f"{prefix}.{f.name}" if prefix else f.name
        value = coerce_leaf(key, getattr(obj, f.name), dict(f.metadata))
        object.__setattr__(obj, f.name, value)
