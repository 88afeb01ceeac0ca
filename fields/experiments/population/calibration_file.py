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

    [parameter."dissemination.transpulmonary_passage"]   # a fixed number of the cohort
    distribution = "uniform"           # (only keys the expected lesions are proportional to:
    low = 0.01                         # see SCALED_KEYS; their candidates scale each site's
    high = 0.5                         # expected lesions instead of new runs)
    source = "..."

    [variant.parallel]                 # optional: concepts compared on the same targets
    parameters = "concepts/parallel.toml"   # a parameter file on top of the cohort's
    description = "..."                # (each variant simulates its own pool; the fit gives
    source = "..."                     # posterior model probabilities)

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
from fields.experiments.population.variants import Variant, parse_variants
from fields.experiments.varied import bad, dotted_tables, header, number
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


#: fixed keys each site's expected lesions are proportional to (the DTC and lesion equations
#: are linear in the cells that arrive), and how: the cells shed (every site and both assays),
#: the founding rate (every site's lesions), or each site's share of the shed cells
#: (:func:`fields.model.dissemination.arrest_shares`)
SCALED_KEYS = {
    "dissemination.shed_cells_per_g_per_day": "shed",
    "dtc.founding_per_day": "founding",
    "dissemination.transpulmonary_passage": "shares",
}
SCALED_SITE_KEYS = ("arrest_survival", "blood_flow_fraction")


def scaled_kind(key: str) -> str | None:
    """How a key scales the expected lesions (see :data:`SCALED_KEYS`), None if it does not."""
    if key in SCALED_KEYS:
        return SCALED_KEYS[key]
    parts = key.split(".")
    if len(parts) == 3 and parts[0] == "sites" and parts[2] in SCALED_SITE_KEYS:
        return "shares"
    return None


@dataclass(frozen=True)
class Prior:
    """A prior on one number (``field``) of a sampled key's cohort distribution, or on a fixed
    key of the cohort (``field`` None)."""

    key: str
    field: str | None
    distribution: Distribution
    scaled: bool = False  # evaluated by scaling the expected lesions, not by reweighting

    @property
    def name(self) -> str:
        return self.key if self.field is None else f"{self.key}.{self.field}"


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
    variants: tuple[Variant, ...] = ()
    variant: str = ""  # the variant this calibration fits ("" : the cohort as it is)

    def changes(self, theta: dict[str, float]) -> dict[str, dict[str, float]]:
        """A candidate ``theta`` (prior name -> value) as {sampled key: {field: value}} (the
        priors on fixed keys are in :meth:`fixed`)."""
        out: dict[str, dict[str, float]] = {}
        for prior in self.priors:
            if prior.field is not None:
                out.setdefault(prior.key, {})[prior.field] = theta[prior.name]
        return out

    def fixed(self, theta: dict[str, float]) -> dict[str, float]:
        """The values ``theta`` gives the fixed keys of the cohort."""
        return {p.key: theta[p.name] for p in self.priors if p.field is None}

    def cohort_at(self, theta: dict[str, float], patients: int) -> Cohort:
        """The cohort file with ``theta`` in its distributions and fixed keys: what ``fields
        cohort`` runs once the file holds those values (its own seed and patients 0 to
        ``patients - 1``)."""
        samples = self.cohort.samples
        changed = {k: samples[k].with_params(**v) for k, v in self.changes(theta).items()}
        at = self.cohort.with_samples(changed).with_patients(patients)
        fixed = self.fixed(theta)
        return at.with_updates(fixed) if fixed else at

    def of_variant(self, name: str) -> Calibration:
        """This calibration for one of its variants: the cohort with the variant's parameters,
        its pools named after it."""
        from dataclasses import replace

        variant = {v.name: v for v in self.variants}[name]
        cohort = replace(self.cohort.with_updates(variant.updates), name=self.cohort.name)
        return replace(self, cohort=cohort, name=f"{self.name}-{name}", variant=name)

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
        {"proposal", "parameter", "target", "validation", "variant"},
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
    for key, table in dotted_tables(doc.get("proposal", {}), "proposal").items():
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
    fixed, params = _fixed_priors(params)
    for key, table in fixed.items():
        if key in cohort.samples or scaled_kind(key) is None:
            raise bad(
                f"parameter.{key!r}",
                key,
                "a fixed key the expected lesions are proportional to: "
                + ", ".join([*SCALED_KEYS, *(f"sites.<site>.{k}" for k in SCALED_SITE_KEYS)])
                + ' (a sampled key takes [parameter."key".median] and the like)',
            )
        try:
            cohort.base.get(key)
        except Exception as exc:
            raise bad(f"parameter.{key!r}", key, f"a key of the parameter tree ({exc})") from None
        prior = parse_distribution(key, table)
        if prior.kind not in ("uniform", "loguniform"):
            raise bad(f"parameter.{key!r}.distribution", prior.kind, "uniform or loguniform")
        priors.append(Prior(key, None, prior, scaled=True))
    for key, fields in dotted_tables(params, "parameter", depth=1).items():
        if key not in cohort.samples:
            raise bad(
                f"parameter.{key!r}", key, f"a key the cohort samples: {', '.join(cohort.samples)}"
            )
        kind = cohort.samples[key].kind
        scaled_only = (
            set(fields) == {"median"} and kind == "lognormal" and scaled_kind(key) is not None
        )
        if key not in proposals and not scaled_only:
            raise bad(f"proposal.{key!r}", None, "a proposal for every reweighted key")
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
            # the median of a lognormal key the expected lesions are proportional to moves
            # every patient's value by one factor: a scaling, exact, instead of reweighting
            scaled = field == "median" and kind == "lognormal" and scaled_kind(key) is not None
            priors.append(Prior(key, field, prior, scaled=scaled))
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
    variants = parse_variants(doc.get("variant", {}), path, cohort)
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
        text=json.dumps(doc, sort_keys=True, default=str)
        + cohort.fingerprint()
        + json.dumps([v.updates for v in variants], sort_keys=True, default=str),
        check=ints["check"],
        refine=ints["refine"],
        variants=variants,
    )


def _fixed_priors(params: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(priors on fixed keys, the rest): ``[parameter."a.b"]`` tables that hold a
    distribution themselves."""
    if not isinstance(params, dict):
        raise bad("parameter", params, "tables keyed by dotted parameter names")
    fixed, rest = {}, {}
    for key, value in params.items():
        if isinstance(value, dict) and "distribution" in value:
            fixed[key] = value
        else:
            rest[key] = value
    return fixed, rest
