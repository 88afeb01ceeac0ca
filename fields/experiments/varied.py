"""Varied parameters of a study: explicit values, a range, or a distribution."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from fields.core.errors import FieldsInputError

DISTRIBUTIONS = ("uniform", "loguniform", "normal")
VARY_KEYS = {"values", "range", "num", "log", "distribution", "low", "high", "mean", "sd"}


def bad(key: str, value: object, allowed: str) -> FieldsInputError:
    return FieldsInputError(f"{key} = {value!r} is not allowed: {allowed}")


def header(
    doc: dict[str, Any], table: str, tables: set[str], keys: set[str], where: str
) -> dict[str, Any]:
    """The ``[table]`` of a study-like file, with every top-level table and key checked
    (``where`` names the module that documents the format)."""
    meta = doc.get(table)
    if not isinstance(meta, dict):
        raise bad(table, meta, f"a [{table}] table (see {where} for the format)")
    unknown = sorted(set(doc) - {table, *tables})
    if unknown:
        raise bad(unknown[0], doc[unknown[0]], f"one of {', '.join(sorted({table, *tables}))}")
    unknown = sorted(set(meta) - keys)
    if unknown:
        raise bad(f"{table}.{unknown[0]}", meta[unknown[0]], f"one of {', '.join(sorted(keys))}")
    return meta


def keyed_table(where: str, table: object, keys: set[str]) -> dict[str, Any]:
    """A table whose keys are all among ``keys`` (errors name the first unknown key)."""
    if not isinstance(table, dict):
        raise bad(where, table, f"a table with {', '.join(sorted(keys))}")
    unknown = sorted(set(table) - keys)
    if unknown:
        raise bad(f"{where}.{unknown[0]}", table[unknown[0]], ", ".join(sorted(keys)))
    return table


def text(where: str, value: object) -> str:
    """A non-empty text."""
    if not isinstance(value, str) or not value.strip():
        raise bad(where, value, "a non-empty text")
    return value


def dotted_tables(table: Any, where: str, depth: int = 0) -> dict[str, Any]:
    """Dotted keys (``[x."a.b"]`` or ``[x.a.b]``) down to their tables (``depth`` levels of
    fields below the key)."""
    if not isinstance(table, dict):
        raise bad(where, table, "tables keyed by dotted parameter names")
    out: dict[str, Any] = {}

    def walk(node: dict[str, Any], prefix: str) -> None:
        for key, value in node.items():
            name = f"{prefix}{key}"
            if not isinstance(value, dict):
                raise bad(f"{where}.{name}", value, "a table")
            leaf = (
                "distribution" in value
                if depth == 0
                else all(isinstance(v, dict) and "distribution" in v for v in value.values())
            )
            if leaf:
                out[name] = value
            else:
                walk(value, f"{name}.")

    walk(table, "")
    return out


def site_list(meta: dict[str, Any], key: str, known: Any, default: list[str]) -> list[str]:
    """A non-empty list of known site names (a single name is a list of one)."""
    sites = meta.get(key.split(".")[-1], default)
    if isinstance(sites, str):
        sites = [sites]
    names = ", ".join(known)
    if not isinstance(sites, list) or not sites:
        raise bad(key, sites, f"a non-empty list of {names}")
    for site in sites:
        if site not in known:
            raise bad(key, site, f"one of {names}")
    return list(dict.fromkeys(sites))


def seed_of(meta: dict[str, Any], key: str) -> int:
    seed = meta.get(key.split(".")[-1], 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise bad(key, seed, "an integer >= 0")
    return seed


def number(key: str, value: object, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise bad(key, value, "a finite number")
    if positive and value <= 0:
        raise bad(key, value, "a number > 0")
    return float(value)


@dataclass(frozen=True)
class Varied:
    """One varied parameter: explicit values, a range, or a distribution."""

    name: str
    values: tuple[Any, ...] | None = None
    distribution: str | None = None
    low: float | None = None
    high: float | None = None
    mean: float | None = None
    sd: float | None = None

    def grid_values(self) -> tuple[Any, ...]:
        if self.values is None:
            raise bad(
                f"vary.{self.name}",
                self.distribution,
                "for sampling = 'grid', give values = [...] or range = [lo, hi] with num",
            )
        return self.values

    def from_unit(self, u: np.ndarray) -> list[Any]:
        """Map uniform [0, 1) samples to this parameter's values (latin hypercube)."""
        from scipy.special import ndtri

        if self.values is not None:
            index = np.minimum((u * len(self.values)).astype(int), len(self.values) - 1)
            return [self.values[i] for i in index]
        if self.distribution == "uniform":
            return (self.low + (self.high - self.low) * u).tolist()
        if self.distribution == "loguniform":
            lo, hi = math.log(self.low), math.log(self.high)
            return np.exp(lo + (hi - lo) * u).tolist()
        return (self.mean + self.sd * ndtri(u)).tolist()


def parse_varied(name: str, spec: object) -> Varied:
    key = f"vary.{name}"
    if isinstance(spec, list):
        spec = {"values": spec}
    if not isinstance(spec, dict):
        raise bad(key, spec, "a list of values or a table with values, range or distribution")
    unknown = sorted(set(spec) - VARY_KEYS)
    if unknown:
        raise bad(f"{key}.{unknown[0]}", spec[unknown[0]], f"one of {', '.join(sorted(VARY_KEYS))}")
    if "values" in spec:
        values = spec["values"]
        if not isinstance(values, list) or not values:
            raise bad(f"{key}.values", values, "a non-empty list")
        return Varied(name, values=tuple(values))
    if "range" in spec:
        rng = spec["range"]
        if not isinstance(rng, list) or len(rng) != 2:
            raise bad(f"{key}.range", rng, "[low, high]")
        lo, hi = (number(f"{key}.range", v) for v in rng)
        num = spec.get("num", 5)
        if isinstance(num, bool) or not isinstance(num, int) or num < 2:
            raise bad(f"{key}.num", num, "an integer >= 2")
        log = spec.get("log", False)
        if not isinstance(log, bool):
            raise bad(f"{key}.log", log, "true or false")
        if log and (lo <= 0 or hi <= 0):
            raise bad(f"{key}.range", rng, "positive bounds when log = true")
        values = np.geomspace(lo, hi, num) if log else np.linspace(lo, hi, num)
        return Varied(name, values=tuple(float(v) for v in values))
    dist = spec.get("distribution")
    if dist not in DISTRIBUTIONS:
        raise bad(f"{key}.distribution", dist, f"one of {', '.join(DISTRIBUTIONS)}")
    if dist == "normal":
        mean = number(f"{key}.mean", spec.get("mean"))
        sd = number(f"{key}.sd", spec.get("sd"), positive=True)
        return Varied(name, distribution=dist, mean=mean, sd=sd)
    low = number(f"{key}.low", spec.get("low"))
    high = number(f"{key}.high", spec.get("high"))
    if not high > low:
        raise bad(f"{key}.high", high, f"a number > low = {low}")
    if dist == "loguniform" and low <= 0:
        raise bad(f"{key}.low", low, "a number > 0 for a loguniform distribution")
    return Varied(name, distribution=dist, low=low, high=high)


def flatten_vary(vary: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """[vary."a.b"] and [vary.a.b] both name parameter a.b."""
    out: dict[str, Any] = {}
    for key, spec in vary.items():
        name = f"{prefix}{key}"
        if isinstance(spec, dict) and not (set(spec) & VARY_KEYS):
            out.update(flatten_vary(spec, f"{name}."))
        else:
            out[name] = spec
    return out
