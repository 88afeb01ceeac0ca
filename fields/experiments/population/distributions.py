"""Patient-level distributions of a cohort file: sampling from uniforms and log densities.

Each distribution maps a uniform ``u`` in (0, 1) to a value (``ppf``), so a patient's values come
from the patient's own stream whatever else is sampled, and gives its log density (``logpdf``),
which calibration needs to reweight a simulated pool. Declared in TOML as a table::

    [sample."primary.tvdt_days"]
    distribution = "lognormal"     # lognormal | normal | uniform | loguniform | stages
    median = 150.0
    sigma = 1.0
    source = "[peer1993] medians; sigma derived from [macinnes2020]"

``stages`` draws a stage by its weight, then a value log-uniform within the stage's bounds
(diameter at diagnosis by T stage). ``times = "other.key"`` makes the drawn number a factor of
another sampled key of the same patient (a metastasis doubling time as a ratio of the primary's):
the value is the draw times the other key's value, and densities are those of the factor.
``scaled_by = {key = "other.key", reference = 20.0, exponent = -0.2}`` makes the draw's scale
follow a power of another key: the value is the draw times ``(other / reference) ** exponent``,
so the declared median holds where the other key equals ``reference`` (a primary's doubling time
that shortens with its size at diagnosis). Densities are again those of the draw.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy import special

from fields.core.errors import FieldsInputError

FIELDS: dict[str, tuple[str, ...]] = {
    "lognormal": ("median", "sigma"),
    "normal": ("mean", "sd"),
    "uniform": ("low", "high"),
    "loguniform": ("low", "high"),
    "stages": ("edges", "weights", "names"),
}


def _bad(key: str, value: Any, allowed: str) -> FieldsInputError:
    return FieldsInputError(f"{key} = {value!r} is not allowed: {allowed}")


@dataclass(frozen=True)
class Scaling:
    """The draw is multiplied by ``(value of key / reference) ** exponent``."""

    key: str
    reference: float
    exponent: float

    def factor(self, other: np.ndarray) -> np.ndarray:
        return (np.asarray(other, dtype=float) / self.reference) ** self.exponent

    def describe(self) -> str:
        return f"({self.key} / {self.reference:g}) ** {self.exponent:g}"


@dataclass(frozen=True)
class Distribution:
    """One declared distribution; ``params`` are its numbers (see :data:`FIELDS`)."""

    kind: str
    params: dict[str, Any]
    source: str = ""
    #: another sampled key whose value multiplies the draw ("": none)
    times: str = ""
    #: a power of another sampled key that scales the draw (None: none)
    scaled_by: Scaling | None = None

    # ------------------------------------------------------------------ sampling
    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Values at uniforms ``u`` (0 < u < 1); ``stages`` uses two uniforms (shape (2, n))."""
        q = self.params
        if self.kind == "lognormal":
            return q["median"] * np.exp(q["sigma"] * math.sqrt(2.0) * special.erfinv(2 * u - 1))
        if self.kind == "normal":
            return q["mean"] + q["sd"] * math.sqrt(2.0) * special.erfinv(2 * u - 1)
        if self.kind == "uniform":
            return q["low"] + u * (q["high"] - q["low"])
        if self.kind == "loguniform":
            return np.exp(np.log(q["low"]) + u * (np.log(q["high"]) - np.log(q["low"])))
        stage = self.stage_of_uniform(u[0])
        edges = np.asarray(q["edges"], dtype=float)
        lo, hi = np.log(edges[stage]), np.log(edges[stage + 1])
        return np.exp(lo + u[1] * (hi - lo))

    @property
    def uniforms(self) -> int:
        """Uniforms one value needs."""
        return 2 if self.kind == "stages" else 1

    def stage_of_uniform(self, u: np.ndarray) -> np.ndarray:
        cumulative = np.cumsum(self.params["weights"])
        return np.minimum(np.searchsorted(cumulative / cumulative[-1], u), len(cumulative) - 1)

    # ------------------------------------------------------------------ densities
    def logpdf(self, x: np.ndarray) -> np.ndarray:
        """Log density at ``x`` (-inf outside the support)."""
        q = self.params
        x = np.asarray(x, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.kind == "lognormal":
                z = (np.log(x) - math.log(q["median"])) / q["sigma"]
                out = -0.5 * z**2 - np.log(x * q["sigma"] * math.sqrt(2 * math.pi))
                return np.where(x > 0, out, -np.inf)
            if self.kind == "normal":
                z = (x - q["mean"]) / q["sd"]
                return -0.5 * z**2 - math.log(q["sd"] * math.sqrt(2 * math.pi))
            if self.kind == "uniform":
                inside = (x >= q["low"]) & (x <= q["high"])
                return np.where(inside, -math.log(q["high"] - q["low"]), -np.inf)
            if self.kind == "loguniform":
                inside = (x >= q["low"]) & (x <= q["high"])
                width = math.log(q["high"]) - math.log(q["low"])
                return np.where(inside, -np.log(x * width), -np.inf)
            edges = np.asarray(q["edges"], dtype=float)
            weights = np.asarray(q["weights"], dtype=float) / sum(q["weights"])
            stage = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(weights) - 1)
            width = np.log(edges[stage + 1]) - np.log(edges[stage])
            inside = (x >= edges[0]) & (x <= edges[-1])
            return np.where(inside, np.log(weights[stage]) - np.log(x * width), -np.inf)

    def stage_names(self, x: np.ndarray) -> np.ndarray:
        """The stage name of each value (``stages`` only)."""
        edges = np.asarray(self.params["edges"], dtype=float)
        stage = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
        return np.asarray(self.params["names"], dtype=str)[stage]

    def with_params(self, **changes: float) -> Distribution:
        """The distribution with some numbers changed; ``exponent`` is that of ``scaled_by``."""
        if "exponent" in changes:
            if self.scaled_by is None:
                raise _bad("exponent", changes["exponent"], "a number of a scaled_by distribution")
            scaled = replace(self.scaled_by, exponent=float(changes.pop("exponent")))
            return replace(self, params={**self.params, **changes}, scaled_by=scaled)
        return replace(self, params={**self.params, **changes})

    def describe(self) -> str:
        """Kind, numbers and factors, as the Dataset's long names show them."""
        text = f"{self.kind} {json.dumps(self.params)}"
        if self.scaled_by is not None:
            text = f"{text} times {self.scaled_by.describe()}"
        return f"{text} times {self.times}" if self.times else text


def parse_distribution(key: str, table: Any) -> Distribution:
    """A :class:`Distribution` from its TOML table; errors name the key, value and what is allowed."""
    where = f"sample.{key!r}"
    if not isinstance(table, dict):
        raise _bad(where, table, "a table with distribution = ... and its numbers")
    kind = table.get("distribution")
    if kind not in FIELDS:
        raise _bad(f"{where}.distribution", kind, f"one of {', '.join(FIELDS)}")
    allowed = {*FIELDS[kind], "distribution", "source", "times", "scaled_by"}
    for name in table:
        if name not in allowed:
            raise _bad(
                f"{where}.{name}", table[name], f"a key of {kind}: {', '.join(FIELDS[kind])}"
            )
    params: dict[str, Any] = {}
    for name in FIELDS[kind]:
        if name not in table:
            raise _bad(f"{where}.{name}", None, f"required for a {kind} distribution")
        params[name] = table[name]
    if kind == "stages":
        _check_stages(where, params)
    else:
        for name, value in params.items():
            params[name] = _number(f"{where}.{name}", value)
        if kind == "lognormal":
            _positive(where, params, "median", "sigma")
        elif kind == "normal":
            _positive(where, params, "sd")
        else:
            if kind == "loguniform":
                _positive(where, params, "low")
            if not params["high"] > params["low"]:
                raise _bad(f"{where}.high", params["high"], f"greater than low = {params['low']}")
    source = table.get("source", "")
    if not isinstance(source, str) or not source.strip():
        raise _bad(f"{where}.source", source, "a non-empty text citing where the numbers come from")
    times = table.get("times", "")
    if not isinstance(times, str) or ("times" in table and not times):
        raise _bad(f"{where}.times", times, "the name of another sampled key")
    if times and kind == "stages":
        raise _bad(f"{where}.times", times, "a factor of a numeric distribution (not stages)")
    scaled_by = _scaling(where, table["scaled_by"]) if "scaled_by" in table else None
    if scaled_by is not None and kind == "stages":
        raise _bad(f"{where}.scaled_by", table["scaled_by"], "a numeric distribution (not stages)")
    return Distribution(kind, params, source, times, scaled_by)


def _scaling(where: str, table: Any) -> Scaling:
    allowed = "a table {key = 'other.key', reference = number > 0, exponent = number}"
    if not isinstance(table, dict) or set(table) != {"key", "reference", "exponent"}:
        raise _bad(f"{where}.scaled_by", table, allowed)
    if not isinstance(table["key"], str) or not table["key"]:
        raise _bad(f"{where}.scaled_by.key", table["key"], "the name of another sampled key")
    reference = _number(f"{where}.scaled_by.reference", table["reference"])
    if not reference > 0.0:
        raise _bad(f"{where}.scaled_by.reference", reference, "a number > 0")
    return Scaling(
        table["key"], reference, _number(f"{where}.scaled_by.exponent", table["exponent"])
    )


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _bad(key, value, "a finite number")
    return float(value)


def _positive(where: str, params: dict[str, Any], *names: str) -> None:
    for name in names:
        if not params[name] > 0.0:
            raise _bad(f"{where}.{name}", params[name], "a number > 0")


def _check_stages(where: str, params: dict[str, Any]) -> None:
    edges, weights, names = params["edges"], params["weights"], params["names"]
    if not isinstance(edges, list) or len(edges) < 2:
        raise _bad(f"{where}.edges", edges, "a list of at least two increasing numbers > 0")
    values = [_number(f"{where}.edges", e) for e in edges]
    if values[0] <= 0.0 or any(b <= a for a, b in itertools.pairwise(values)):
        raise _bad(f"{where}.edges", edges, "increasing numbers > 0")
    if not isinstance(weights, list) or len(weights) != len(values) - 1:
        raise _bad(f"{where}.weights", weights, f"{len(values) - 1} numbers >= 0 (one per stage)")
    w = [_number(f"{where}.weights", x) for x in weights]
    if min(w) < 0.0 or sum(w) <= 0.0:
        raise _bad(f"{where}.weights", weights, "numbers >= 0 with a positive sum")
    if (
        not isinstance(names, list)
        or len(names) != len(w)
        or not all(isinstance(n, str) and n for n in names)
    ):
        raise _bad(f"{where}.names", names, f"{len(w)} stage names (one per stage)")
    params.update(edges=values, weights=w, names=list(names))
