"""Many parameter sets as one: a base tree and, for each varied number, one value per run.

A batch of runs (a sweep chunk, a virtual cohort) shares everything that is not a number: the
species and sites declared, the growth laws, which therapies are given. Every varied key is a
dotted numeric leaf (``primary.tvdt_days``) with one value per run, validated like a ``--set``
value. :meth:`ParameterBatch.stacked` gives the tree with every varied number as an array of shape
``(runs, 1)``, so the rate laws of :mod:`fields.model` evaluate all runs at once by broadcasting.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from fields.core.errors import FieldsInputError, ParameterError
from fields.parameters.spec import coerce_leaf
from fields.parameters.tree import Parameters
from fields.parameters.updates import flatten

#: Varied keys under these prefixes can contradict another key: their members are built whole.
_CROSS_CHECKED = (
    "geometry.",
    "sites.",
    "interventions.",
    "stepping.",
    "primary.initial_cells",
    "primary.carrying_capacity_cells",
)


def leaf_meta(p: Parameters, key: str, given: Any = None) -> dict[str, Any]:
    """The schema metadata (unit, bounds, kind) of a dotted leaf, or a clear error (naming
    ``given``, the value asked for)."""
    p.get(key)  # raises the usual unknown-key error
    parts = key.split(".")
    obj: Any = p
    for part in parts[:-1]:
        obj = obj[part] if isinstance(obj, Mapping) else getattr(obj, part)
    if not dataclasses.is_dataclass(obj):
        raise ParameterError(key, given, "a number of a parameter group, not a table entry")
    meta = {f.name: dict(f.metadata) for f in dataclasses.fields(obj)}[parts[-1]]
    if "kind" not in meta:  # a whole group ("species", "primary"), not one of its numbers
        raise ParameterError(key, given, "a number of a parameter group, not a whole group")
    return meta


class ParameterBatch:
    """Runs that differ only in numeric leaves: ``base`` and ``varied[key][run]``."""

    def __init__(self, base: Parameters, varied: Mapping[str, Sequence[float]] | None = None):
        if not isinstance(base, Parameters):
            raise FieldsInputError(
                f"base = {type(base).__name__} is not allowed: a fields.Parameters"
            )
        self.base = base
        columns: dict[str, np.ndarray] = {}
        size = None
        for key, values in (varied or {}).items():
            meta = leaf_meta(base, key, values)
            if meta["kind"] is not float:
                raise ParameterError(key, values, "a real-valued parameter (only those vary)")
            column = np.asarray(values, dtype=object).ravel()
            if size is None:
                size = column.size
            elif column.size != size:
                raise FieldsInputError(
                    f"{key} has {column.size} values, not {size}: every varied key has one "
                    "value per run"
                )
            checked = [coerce_leaf(f"{key} (run {i})", v, meta) for i, v in enumerate(column)]
            if any(v is None for v in checked):
                raise ParameterError(key, None, "a number for every run")
            columns[key] = np.asarray(checked, dtype=float)
        self.varied = columns
        self.size = 1 if size is None else int(size)
        if self.size < 1:
            raise FieldsInputError("a batch needs at least one run")
        for key in columns:
            if key.startswith(_CROSS_CHECKED):  # rare: check the whole members
                for i in range(self.size):
                    self.member(i)
                break

    @classmethod
    def from_sets(cls, sets: Sequence[Parameters]) -> ParameterBatch:
        """The batch of whole parameter trees (they may differ only in numbers)."""
        if not sets:
            raise FieldsInputError("a batch needs at least one parameter set")
        flats = [flatten(p.to_dict()) for p in sets]
        base = flats[0]
        varied: dict[str, list[float]] = {}
        for i, flat in enumerate(flats[1:], start=1):
            if flat.keys() != base.keys():
                extra = sorted(set(flat) ^ set(base))[0]
                raise FieldsInputError(
                    f"parameter set {i} declares {extra!r} and set 0 does not: a batch shares "
                    "its species and sites"
                )
            for key, value in flat.items():
                if value != base[key] and key not in varied:
                    if not _is_number(value) or not _is_number(base[key]):
                        raise FieldsInputError(
                            f"{key} = {value!r} in parameter set {i} differs from set 0 "
                            f"({base[key]!r}): only numbers may differ within a batch"
                        )
                    varied[key] = [float(f[key]) for f in flats]
        return cls(sets[0], varied)

    def member(self, i: int) -> Parameters:
        """Run i's whole parameter tree."""
        if not self.varied:
            return self.base
        return self.base.with_updates({k: float(v[i]) for k, v in self.varied.items()})

    def take(self, indices: Sequence[int] | np.ndarray) -> ParameterBatch:
        """The sub-batch of the given runs."""
        idx = np.asarray(indices, dtype=int)
        out = object.__new__(ParameterBatch)
        out.base, out.size = self.base, int(idx.size)
        out.varied = {k: v[idx] for k, v in self.varied.items()}
        return out

    def values(self, key: str) -> np.ndarray:
        """Every run's value of a numeric leaf."""
        if key in self.varied:
            return self.varied[key]
        return np.full(self.size, float(self.base.get(key)))

    def stacked(self) -> Parameters:
        """The tree with every varied number an array of shape (runs, 1) (the others stay
        scalars): read-only, not validated."""
        return _stack(self.base, "", self.varied, self.size)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _stack(obj: Any, prefix: str, varied: Mapping[str, np.ndarray], size: int) -> Any:
    if isinstance(obj, Mapping):
        return {k: _stack(v, f"{prefix}{k}.", varied, size) for k, v in obj.items()}
    if dataclasses.is_dataclass(obj):
        out = object.__new__(type(obj))
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if f.name == "provenance":
                object.__setattr__(out, f.name, value)
                continue
            object.__setattr__(out, f.name, _stack(value, f"{prefix}{f.name}.", varied, size))
        return out
    key = prefix[:-1]
    if key in varied:
        return varied[key].reshape(size, 1)
    return obj  # shared by every run: a scalar broadcasts, and keeps numpy's fast paths
