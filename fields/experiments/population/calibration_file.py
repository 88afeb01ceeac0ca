"""Calibration files: published targets, priors on a cohort's population parameters, a method.

The format::

    [calibration]
    name = "lead_time"
    cohort = "lead_time.toml"          # the cohort whose population parameters are fitted
    pool = 2000                        # patients simulated once, from the proposal below
    seed = 1                           # the pool's patients and the ABC-SMC sampler
    population_size = 200              # ABC-SMC particles per generation
    generations = 8                    # at most
    minimum_epsilon = 1.0              # stop at this distance (in target sds; 1: within one)
    min_effective_size = 50            # fewer effective pool patients: the particle is refused
    check = 2000                       # patients of a direct cohort at the estimate (0: none)
    refine = 4000                      # patients of a second pool near the first posterior
                                       # (0: none; lognormal or normal keys; see .refine)

    [proposal."dtc.founding_per_day"]  # how the pool samples each calibrated key
    distribution = "loguniform"
    low = 1e-9
    high = 1e-5
    source = "..."

    [parameter."dtc.founding_per_day".median]   # a number of the key's cohort distribution
    distribution = "loguniform"        # the prior: uniform | loguniform
    low = 1e-8
    high = 1e-6
    source = "..."

    [[target]]                         # fitted (default: the cohort file's [[target]]);
                                       # [[validation]] has the same form and is not fitted
    name = "T1: median months to metastasis"
    statistic = "median_months_to_metastasis"   # see fields.experiments.population.cohort_stats
    stages = ["T1"]
    value = 35.0
    sd = 5.0
    population = "..."
    source = "..."
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fields.experiments.population.cohort_file import Cohort, load_cohort
from fields.experiments.population.distributions import FIELDS, Distribution, parse_distribution
from fields.experiments.population.targets import Target, parse_targets
from fields.experiments.varied import bad, header, number
from fields.parameters import read_toml

_KEYS = {
    "name",
    "cohort",
    "pool",
    "seed",
    "population_size",
    "generations",
    "minimum_epsilon",
    "min_effective_size",
    "check",
    "refine",
}


@dataclass(frozen=True)
class Prior:
    """A prior on one number (``field``) of a sampled key's cohort distribution."""

    key: str
    field: str
    distribution: Distribution

    @property
    def name(self) -> str:
        return f"{self.key}.{self.field}"


@dataclass(frozen=True)
class Calibration:
    name: str
    cohort: Cohort
    pool: int
    seed: int
    population_size: int
    generations: int
    minimum_epsilon: float
    min_effective_size: float
    proposals: dict[str, Distribution]
    priors: tuple[Prior, ...]
    targets: tuple[Target, ...]
    validation: tuple[Target, ...]
    text: str
    check: int = 0
    refine: int = 0

    def changes(self, theta: dict[str, float]) -> dict[str, dict[str, float]]:
        """A candidate ``theta`` (prior name -> value) as {sampled key: {field: value}}."""
        out: dict[str, dict[str, float]] = {}
        for prior in self.priors:
            out.setdefault(prior.key, {})[prior.field] = theta[prior.name]
        return out

    def cohort_at(self, theta: dict[str, float], patients: int) -> Cohort:
        """The cohort file with ``theta`` in its distributions: what ``fields cohort`` runs once
        the file holds those values (its own seed and patients 0 to ``patients - 1``)."""
        samples = self.cohort.samples
        changed = {k: samples[k].with_params(**v) for k, v in self.changes(theta).items()}
        return self.cohort.with_samples(changed).with_patients(patients)

    def pool_cohort(
        self,
        patients: int | None = None,
        proposals: dict[str, Distribution] | None = None,
        stage: int = 1,
    ) -> Cohort:
        """The cohort of a simulated pool: calibrated keys drawn from ``proposals`` (default:
        the file's). Stage k draws with seed + k - 1, so the pools' patients differ."""
        from dataclasses import replace

        pool = self.cohort.with_samples(proposals or self.proposals)
        pool = pool.with_patients(patients or self.pool)
        name = f"{self.name}-pool" if stage == 1 else f"{self.name}-pool{stage}"
        return replace(pool, seed=self.seed + stage - 1, name=name)

    def fingerprint(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]


def load_calibration(path: str | Path) -> Calibration:
    """Read and validate a calibration file (errors name the key, the value, what is allowed)."""
    path = Path(path)
    if path.suffix != ".toml":
        raise bad("calibration", str(path), "a calibration file ending in .toml")
    doc = read_toml(path)
    meta = header(
        doc,
        "calibration",
        {"proposal", "parameter", "target", "validation"},
        _KEYS,
        "fields/experiments/population/calibration_file.py",
    )
    cohort_file = meta.get("cohort")
    if not isinstance(cohort_file, str) or not (path.parent / cohort_file).is_file():
        raise bad("calibration.cohort", cohort_file, "a cohort file, relative to this file")
    cohort = load_cohort(path.parent / cohort_file)
    ints = {}
    for key, default, low in (
        ("pool", 1000, 10),
        ("seed", 0, 0),
        ("population_size", 100, 10),
        ("generations", 6, 1),
        ("check", 0, 0),
        ("refine", 0, 0),
    ):
        value = meta.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise bad(f"calibration.{key}", value, f"an integer >= {low}")
        ints[key] = value
    eps = number("calibration.minimum_epsilon", meta.get("minimum_epsilon", 0.5), positive=True)
    ess = number(
        "calibration.min_effective_size", meta.get("min_effective_size", 50), positive=True
    )

    proposals = {}
    for key, table in _tables(doc.get("proposal", {}), "proposal").items():
        if key not in cohort.samples:
            raise bad(
                f"proposal.{key!r}", key, f"a key the cohort samples: {', '.join(cohort.samples)}"
            )
        proposals[key] = parse_distribution(key, table)
        if proposals[key].times:
            raise bad(
                f"proposal.{key!r}.times",
                proposals[key].times,
                "nothing: a proposal draws the factor the cohort file declares",
            )
        own, declared = proposals[key].scaled_by, cohort.samples[key].scaled_by
        if own is not None and (
            declared is None or (own.key, own.reference) != (declared.key, declared.reference)
        ):
            raise bad(
                f"proposal.{key!r}.scaled_by",
                own.describe(),
                "the cohort file's key and reference with the pool's own exponent"
                + ("" if declared is None else f" ({declared.describe()})"),
            )
    priors = []
    params = doc.get("parameter", {})
    for key, fields in _tables(params, "parameter", depth=1).items():
        if key not in cohort.samples:
            raise bad(
                f"parameter.{key!r}", key, f"a key the cohort samples: {', '.join(cohort.samples)}"
            )
        if key not in proposals:
            raise bad(f"proposal.{key!r}", None, "a proposal for every calibrated key")
        kind = cohort.samples[key].kind
        numbers = [f for f in FIELDS[kind] if f not in ("edges", "weights", "names")]
        if cohort.samples[key].scaled_by is not None:
            numbers.append("exponent")  # of its scaled_by
        for field, table in fields.items():
            if field not in numbers:
                raise bad(
                    f"parameter.{key!r}.{field}",
                    field,
                    f"a number of its {kind} distribution: {', '.join(numbers)}",
                )
            prior = parse_distribution(f"{key}.{field}", table)
            if prior.kind not in ("uniform", "loguniform"):
                raise bad(
                    f"parameter.{key!r}.{field}.distribution", prior.kind, "uniform or loguniform"
                )
            priors.append(Prior(key, field, prior))
    if not priors:
        raise bad("parameter", params, "at least one calibrated parameter")
    if ints["refine"]:
        for key in proposals:
            kind = cohort.samples[key].kind
            if kind not in ("lognormal", "normal"):
                raise bad(
                    "calibration.refine",
                    ints["refine"],
                    f"0 here: the cohort samples {key} from a {kind} distribution, and a "
                    "refined pool needs lognormal or normal ones",
                )
    targets = parse_targets(doc.get("target", []), "target") or cohort.targets
    if not targets:
        raise bad("target", None, "at least one [[target]] here or in the cohort file")
    validation = parse_targets(doc.get("validation", []), "validation")
    return Calibration(
        name=str(meta.get("name", path.stem)),
        cohort=cohort,
        pool=ints["pool"],
        seed=ints["seed"],
        population_size=ints["population_size"],
        generations=ints["generations"],
        minimum_epsilon=eps,
        min_effective_size=ess,
        proposals=proposals,
        priors=tuple(priors),
        targets=targets,
        validation=validation,
        text=json.dumps(doc, sort_keys=True, default=str) + cohort.fingerprint(),
        check=ints["check"],
        refine=ints["refine"],
    )


def _tables(table: Any, where: str, depth: int = 0) -> dict[str, Any]:
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
