"""Concepts of metastasis as variants: ``[variant.NAME]`` tables of a calibration file, each a
named parameter file on top of the cohort's, fitted on the same targets
(:mod:`fields.experiments.population.concepts`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fields.experiments.population.cohort_file import Cohort
from fields.experiments.varied import bad, keyed_table, text
from fields.parameters import flatten, read_toml


@dataclass(frozen=True)
class Variant:
    """A concept of metastasis as a named parameter file, fitted on the same targets."""

    name: str
    description: str
    source: str
    updates: dict[str, Any]


_VARIANT_KEYS = {"parameters", "description", "source"}


def parse_variants(tables: Any, path: Path, cohort: Cohort) -> tuple[Variant, ...]:
    """``[variant.NAME]`` tables, each a parameter file that the cohort accepts."""
    if not isinstance(tables, dict):
        raise bad("variant", tables, "tables [variant.NAME] with a parameters file")
    out = []
    for name, table in tables.items():
        where = f"variant.{name}"
        table = keyed_table(where, table, _VARIANT_KEYS)
        for key in ("description", "source"):
            text(f"{where}.{key}", table.get(key))
        file = table.get("parameters")
        if not isinstance(file, str) or not (path.parent / file).is_file():
            raise bad(f"{where}.parameters", file, "a parameter file, relative to this file")
        updates = flatten(read_toml(path.parent / file))
        try:
            cohort.with_updates(updates)
        except Exception as exc:
            raise bad(f"{where}.parameters", file, f"values the cohort accepts ({exc})") from None
        out.append(Variant(str(name), table["description"], table["source"], updates))
    if len(out) == 1:
        raise bad("variant", list(tables), "two or more variants to compare, or none")
    return tuple(out)
