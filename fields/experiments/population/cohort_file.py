"""Cohort files: a virtual patient population as data.

The format::

    [cohort]
    name = "lead_time"
    description = "..."
    patients = 2000
    seed = 0                          # patient i draws from its own stream (seed, i)
    sites = ["lung", "liver", "bone_marrow", "brain"]
    follow_up_days = 7305             # after diagnosis (= resection); censoring at its end
    output_every_days = 30

    [parameters]                      # fixed overrides of the defaults, as in a study file
    dissemination.onset_diameter_mm = 1.0

    [sample."primary.resection_diameter_mm"]   # one table per patient-level parameter
    distribution = "stages"
    edges = [5.0, 20.0, 50.0, 100.0]
    weights = [0.5, 0.374, 0.126]
    names = ["T1", "T2", "T3"]
    source = "..."

    [sample."primary.tvdt_days"]      # the draw times (diameter / 15 mm) ** -0.2
    distribution = "lognormal"
    median = 150.0
    sigma = 1.0
    scaled_by = { key = "primary.resection_diameter_mm", reference = 15.0, exponent = -0.2 }
    source = "..."

    [[target]]                        # optional: published numbers the cohort should reproduce
    name = "T1: median months to metastasis"      # (see fields.experiments.population.targets)
    statistic = "median_months_to_metastasis"
    stages = ["T1"]
    value = 35.0
    sd = 5.0
    population = "..."
    source = "..."

Every sampled key is a number of the parameter tree; each distribution needs a source (see
:mod:`fields.experiments.population.distributions`). Diagnosis is resection: the cohort must resect, by
``primary.resection_diameter_mm`` (sampled or fixed) or ``primary.resection_day``. The ``stages``
distribution, if any, gives each patient's ``t_stage``.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from fields.core.version import __version__
from fields.experiments.population.distributions import Distribution, parse_distribution
from fields.experiments.population.targets import Target, parse_targets
from fields.experiments.varied import bad, header, number, seed_of, site_list
from fields.parameters import Parameters, flatten, load_parameters, read_toml
from fields.parameters.batch import leaf_meta
from fields.parameters.spec import coerce_leaf

_COHORT_KEYS = {
    "name",
    "description",
    "patients",
    "seed",
    "sites",
    "geometry",
    "follow_up_days",
    "output_every_days",
}


@dataclass(frozen=True)
class Cohort:
    """A parsed, validated cohort: fixed parameters and patient-level distributions."""

    name: str
    description: str
    base: Parameters
    sites: tuple[str, ...]
    patients: int
    seed: int
    follow_up_days: float
    output_every_days: float
    samples: dict[str, Distribution]
    geometry: str = "krogh"
    targets: tuple[Target, ...] = ()

    @property
    def stage_key(self) -> str | None:
        """The sampled key whose distribution gives the T stage, if any."""
        return next((k for k, d in self.samples.items() if d.kind == "stages"), None)

    def sample(self, patients: np.ndarray) -> dict[str, np.ndarray]:
        """Each sampled parameter of the given patients, from each patient's own stream."""
        need = sum(d.uniforms for d in self.samples.values())
        u = np.empty((len(patients), max(need, 1)))
        for row, i in enumerate(patients):
            u[row] = np.random.default_rng([self.seed, int(i), 0]).random(max(need, 1))
        out: dict[str, np.ndarray] = {}
        column = 0
        for key, dist in self.samples.items():
            take = u[:, column : column + dist.uniforms]
            out[key] = dist.ppf(take.T if dist.uniforms > 1 else take[:, 0])
            column += dist.uniforms
        for key, dist in self.samples.items():  # powers of keys that are drawn as they are
            if dist.scaled_by is not None:
                out[key] = out[key] * dist.scaled_by.factor(out[dist.scaled_by.key])
        for key, dist in self.samples.items():  # factors of other keys (never chained)
            if dist.times:
                out[key] = out[key] * out[dist.times]
        return out

    def factors(self, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The drawn numbers behind sampled ``values``: a ``times`` key's value over its base,
        a ``scaled_by`` key's value over its power of the other key."""
        out = {}
        for key, dist in self.samples.items():
            if key not in values:
                continue
            drawn = values[key] / values[dist.times] if dist.times else values[key]
            if dist.scaled_by is not None:
                drawn = drawn / dist.scaled_by.factor(values[dist.scaled_by.key])
            out[key] = drawn
        return out

    def t_stage(self, values: dict[str, np.ndarray]) -> np.ndarray | None:
        key = self.stage_key
        return None if key is None else self.samples[key].stage_names(values[key])

    def with_patients(self, n: int) -> Cohort:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise bad("patients", n, "an integer >= 1")
        return replace(self, patients=n)

    def with_updates(self, updates: dict[str, Any]) -> Cohort:
        """The cohort with fixed parameters changed (``--set``); a sampled key cannot be set."""
        for key in updates:
            if key in self.samples:
                raise bad(key, updates[key], "a key the cohort does not sample (it is sampled)")
        return _checked(replace(self, base=self.base.with_updates(updates)))

    def with_samples(self, samples: dict[str, Distribution]) -> Cohort:
        """The cohort with some distributions replaced; a replacement keeps the ``times`` of
        the distribution it replaces, and its ``scaled_by`` unless it has its own (a proposal
        draws the same factor; an estimate may change the exponent)."""
        kept = {
            key: replace(
                dist,
                times=self.samples[key].times,
                scaled_by=dist.scaled_by or self.samples[key].scaled_by,
            )
            if key in self.samples
            else dist
            for key, dist in samples.items()
        }
        return replace(self, samples={**self.samples, **kept})

    def fingerprint(self) -> str:
        """Hash of everything that defines the results (resume refuses a different cohort)."""
        return self._fingerprint

    @cached_property
    def _fingerprint(self) -> str:
        doc = {
            "base": json.loads(self.base.to_json()),
            "sites": self.sites,
            "patients": self.patients,
            "seed": self.seed,
            "follow_up_days": self.follow_up_days,
            "output_every_days": self.output_every_days,
            "samples": {
                k: [d.kind, d.params, d.times, *_scaling_doc(d)] for k, d in self.samples.items()
            },
            "version": __version__,
        }
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def load_cohort(path: str | Path) -> Cohort:
    """Read and validate a cohort file; every error names the key, the value and what is allowed."""
    path = Path(path)
    if path.suffix != ".toml":
        raise bad("cohort", str(path), "a cohort file ending in .toml")
    doc = read_toml(path)
    return cohort_from_dict(doc, path)


def cohort_from_dict(doc: dict[str, Any], path: Path | None = None) -> Cohort:
    meta = header(
        doc,
        "cohort",
        {"parameters", "sample", "target"},
        _COHORT_KEYS,
        "fields/experiments/population/cohort_file.py",
    )
    if path is not None and "parameters" in doc:
        base = load_parameters(path)
    else:
        base = Parameters().with_updates(flatten(doc.get("parameters", {})))
    name = meta.get("name", path.stem if path is not None else "cohort")
    if not isinstance(name, str) or not name:
        raise bad("cohort.name", name, "a non-empty string")
    sites = site_list(meta, "cohort.sites", base.sites, ["lung", "liver", "bone_marrow", "brain"])
    geometry = meta.get("geometry", "krogh")
    if geometry != "krogh":
        raise bad("cohort.geometry", geometry, "'krogh' (cohorts run on the batched engine)")
    patients = meta.get("patients", 1000)
    if isinstance(patients, bool) or not isinstance(patients, int) or patients < 1:
        raise bad("cohort.patients", patients, "an integer >= 1")
    seed = seed_of(meta, "cohort.seed")
    follow = number("cohort.follow_up_days", meta.get("follow_up_days", 7305.0), positive=True)
    every = number("cohort.output_every_days", meta.get("output_every_days", 30.0), positive=True)
    table = doc.get("sample", {})
    if not isinstance(table, dict):
        raise bad("sample", table, 'tables [sample."dotted.key"] of distributions')
    samples = {key: parse_distribution(key, spec) for key, spec in _flatten_samples(table).items()}
    cohort = Cohort(
        name=name,
        description=str(meta.get("description", "")),
        base=base,
        sites=tuple(sites),
        patients=patients,
        seed=seed,
        follow_up_days=follow,
        output_every_days=every,
        samples=samples,
        targets=parse_targets(doc.get("target", []), "target"),
    )
    return _checked(cohort)


def _flatten_samples(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``[sample."a.b"]`` and ``[sample.a.b]`` alike: keys down to a table with distribution."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and "distribution" not in value:
            out.update(_flatten_samples(value, f"{name}."))
        else:
            out[name] = value
    return out


def _checked(cohort: Cohort) -> Cohort:
    """Every sampled key is a number of the tree and its distribution stays in the key's bounds;
    the cohort resects."""
    base = cohort.base
    stages = [k for k, d in cohort.samples.items() if d.kind == "stages"]
    if len(stages) > 1:
        raise bad(f"sample.{stages[1]!r}", "stages", "one stages distribution per cohort")
    for key, dist in cohort.samples.items():
        if dist.times:
            base_dist = cohort.samples.get(dist.times)
            if base_dist is None or dist.times == key or base_dist.times:
                raise bad(
                    f"sample.{key!r}.times",
                    dist.times,
                    "another sampled key that is not itself a factor of one: "
                    + ", ".join(k for k, d in cohort.samples.items() if k != key and not d.times),
                )
        try:
            meta = leaf_meta(base, key)
        except Exception as exc:
            raise bad(f"sample.{key!r}", key, f"a number of the parameter tree ({exc})") from None
        if meta["kind"] is not float:
            raise bad(f"sample.{key!r}", key, "a real-valued parameter (not a choice or count)")
        if dist.scaled_by is not None:
            other = cohort.samples.get(dist.scaled_by.key)
            if other is None or dist.scaled_by.key == key or other.times or other.scaled_by:
                raise bad(
                    f"sample.{key!r}.scaled_by.key",
                    dist.scaled_by.key,
                    "another sampled key drawn as it is (no times or scaled_by): "
                    + ", ".join(
                        k
                        for k, d in cohort.samples.items()
                        if k != key and not d.times and d.scaled_by is None
                    ),
                )
        scales = _scales(cohort, dist)
        for value in (x * scale for x in _extremes(dist) for scale in scales):
            try:
                coerce_leaf(key, value, meta)
            except Exception as exc:
                raise bad(
                    f"sample.{key!r}",
                    dist.describe(),
                    f"a distribution inside the key's allowed values ({exc})",
                ) from None
    resects = (
        "primary.resection_diameter_mm" in cohort.samples
        or base.primary.resection_diameter_mm is not None
        or base.primary.resection_day is not None
    )
    if not resects:
        raise bad(
            "primary.resection_diameter_mm",
            None,
            "a sampled or fixed size (or primary.resection_day): diagnosis is resection",
        )
    if math.isinf(cohort.follow_up_days):
        raise bad("cohort.follow_up_days", cohort.follow_up_days, "a finite number of days")
    return cohort


def _scaling_doc(dist: Distribution) -> list[Any]:
    """The ``scaled_by`` part of the fingerprint (empty without one, so old cohorts keep theirs)."""
    s = dist.scaled_by
    return [] if s is None else [[s.key, s.reference, s.exponent]]


def _scales(cohort: Cohort, dist: Distribution) -> list[float]:
    """The extreme factors that multiply a distribution's draws (``scaled_by``, ``times``)."""
    scales = [1.0]
    if dist.scaled_by is not None:
        power = dist.scaled_by.factor(np.array(_extremes(cohort.samples[dist.scaled_by.key])))
        scales = [float(x) for x in power]
    if dist.times:
        base = cohort.samples[dist.times]
        values = [x * f for x in _extremes(base) for f in _scales(cohort, base)]
        scales = [s * v for s in scales for v in values]
    return scales


def _extremes(dist: Distribution) -> list[float]:
    """The distribution's values at the uniforms 1e-9 and 1 - 1e-9."""
    out = []
    for u in (1e-9, 1 - 1e-9):
        value = dist.ppf(np.array([u, u]) if dist.uniforms > 1 else np.array(u))
        out.append(float(np.asarray(value).reshape(-1)[0]))
    return out
