"""Published targets of a cohort or a calibration: a statistic, its value and uncertainty, the
population it was measured in and its source."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from fields.experiments.population.cohort_stats import (
    SITE_STATISTICS,
    STATISTICS,
    YEARS_STATISTICS,
    statistic,
)
from fields.experiments.population.expected import Probabilities
from fields.experiments.varied import bad, number

_TARGET_KEYS = {
    "name",
    "statistic",
    "stages",
    "stage_mix",
    "years",
    "value",
    "sd",
    "population",
    "source",
    "site",
}


@dataclass(frozen=True)
class Target:
    name: str
    statistic: str
    stages: tuple[str, ...] | None
    years: float | None
    value: float
    sd: float
    population: str
    source: str
    stage_mix: dict[str, float] | None = None
    site: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in _TARGET_KEYS}


def evaluate(
    ds: xr.Dataset,
    target: Target,
    weights: np.ndarray | None = None,
    probs: Probabilities | None = None,
) -> float:
    """The target's statistic on a cohort Dataset (optionally weighted, or on scaled
    probabilities)."""
    return statistic(
        ds,
        target.statistic,
        target.stages,
        weights,
        target.years,
        target.stage_mix,
        target.site,
        probs,
    )


def parse_targets(tables: Any, where: str) -> tuple[Target, ...]:
    """``[[target]]`` (or ``[[validation]]``) tables, each checked."""
    if not isinstance(tables, list):
        raise bad(where, tables, f"[[{where}]] tables")
    return tuple(_target(t, f"{where}[{i}]") for i, t in enumerate(tables))


def _target(table: Any, where: str) -> Target:
    if not isinstance(table, dict):
        raise bad(where, table, "a table with name, statistic, value, sd, population, source")
    unknown = sorted(set(table) - _TARGET_KEYS)
    if unknown:
        raise bad(
            f"{where}.{unknown[0]}", table[unknown[0]], f"one of {', '.join(sorted(_TARGET_KEYS))}"
        )
    statistic = table.get("statistic")
    if statistic not in STATISTICS:
        raise bad(f"{where}.statistic", statistic, f"one of {', '.join(STATISTICS)}")
    stages = table.get("stages")
    if stages is not None and (
        not isinstance(stages, list) or not all(isinstance(s, str) for s in stages)
    ):
        raise bad(f"{where}.stages", stages, "a list of T stage names")
    mix = table.get("stage_mix")
    if mix is not None:
        if stages is not None:
            raise bad(f"{where}.stage_mix", mix, "either stages or stage_mix, not both")
        if not isinstance(mix, dict) or not mix:
            raise bad(f"{where}.stage_mix", mix, "a table of T stage = share of the population")
        mix = {str(k): number(f"{where}.stage_mix.{k}", v, positive=True) for k, v in mix.items()}
    years = table.get("years")
    if statistic == "percent_metastasis_within_years" or (
        statistic in YEARS_STATISTICS and years is not None
    ):
        years = number(f"{where}.years", years, positive=True)
    elif years is not None:
        raise bad(f"{where}.years", years, f"only with {', '.join(YEARS_STATISTICS)}")
    site = table.get("site")
    if statistic in SITE_STATISTICS:
        if not isinstance(site, str) or not site:
            raise bad(f"{where}.site", site, "an organ site of the cohort (for this statistic)")
    elif site is not None:
        raise bad(f"{where}.site", site, f"only with {', '.join(SITE_STATISTICS)}")
    for key in ("name", "population", "source"):
        if not isinstance(table.get(key), str) or not table[key].strip():
            raise bad(f"{where}.{key}", table.get(key), "a non-empty text")
    return Target(
        name=table["name"],
        statistic=statistic,
        stages=tuple(stages) if stages else None,
        years=years,
        value=number(f"{where}.value", table.get("value")),
        sd=number(f"{where}.sd", table.get("sd"), positive=True),
        population=table["population"],
        source=table["source"],
        stage_mix=mix,
        site=site,
    )
