"""Study files (DESIGN 7): base parameters, varied parameters, sampling, outputs, sensitivity.

A study is data; :mod:`fields.sweep` runs it. The file format::

    [study]
    name = "lead_time"
    description = "..."
    sites = ["lung", "liver", "bone_marrow"]
    geometry = "krogh"                 # 2d | krogh | 3d
    days = 5475
    output_every_days = 30
    seed = 0                           # capillary layouts and samplers; the same for every run
    sampling = "grid"                  # grid | latin_hypercube | sobol
    samples = 64                       # latin_hypercube: runs; sobol: base samples N (2^m)
    outputs = ["time_to_outgrowth_days", "dtc_proliferating_total"]   # optional: all by default
    base = "other.toml"                # optional parameter file, relative to this one

    [parameters]                       # fixed overrides of the base parameters
    primary.tvdt_days = 157.0

    [vary."primary.resection_diameter_mm"]
    values = [15.0, 60.0]              # or: range = [lo, hi], num = 5, log = false
                                       # or: distribution = "uniform" | "loguniform", low, high
                                       #     distribution = "normal", mean, sd (latin_hypercube)
    [sensitivity]                      # sobol studies only
    outputs = ["time_to_outgrowth_days", "first_outgrowth_days"]
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from fields.errors import FieldsInputError
from fields.geometry import GEOMETRIES
from fields.parameters import Parameters, flatten, load_parameters, read_toml
from fields.simulate import SITE_SERIES, SYSTEMIC_SERIES
from fields.sites import SITE_NAMES

SAMPLINGS = ("grid", "latin_hypercube", "sobol")
DISTRIBUTIONS = ("uniform", "loguniform", "normal")

#: Scalars per (run, site) derived from a run.
SITE_SCALARS = ("time_to_outgrowth_days", "diameter_at_first_niche_mm", "hypoxic_distance_um")
#: Scalars per run derived from a run.
RUN_SCALARS = (
    "first_outgrowth_days",
    "resection_day",
    "time_resection_to_outgrowth_days",
    "time_to_1e9_cells_days",
)
#: Outputs that need the stored fields of a run (kept only in memory on the worker).
NEEDS_FIELDS = ("hypoxic_distance_um",)
OUTPUTS = (*SYSTEMIC_SERIES, *SITE_SERIES, *SITE_SCALARS, *RUN_SCALARS)
DEFAULT_OUTPUTS = tuple(name for name in OUTPUTS if name not in NEEDS_FIELDS)

_STUDY_KEYS = {
    "name",
    "description",
    "sites",
    "geometry",
    "days",
    "output_every_days",
    "seed",
    "sampling",
    "samples",
    "outputs",
    "base",
}
_VARY_KEYS = {"values", "range", "num", "log", "distribution", "low", "high", "mean", "sd"}


def _bad(key: str, value: object, allowed: str) -> FieldsInputError:
    return FieldsInputError(f"{key} = {value!r} is not allowed: {allowed}")


def _number(key: str, value: object, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _bad(key, value, "a finite number")
    if positive and value <= 0:
        raise _bad(key, value, "a number > 0")
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
            raise _bad(
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


def _parse_varied(name: str, spec: object) -> Varied:
    key = f"vary.{name}"
    if isinstance(spec, list):
        spec = {"values": spec}
    if not isinstance(spec, dict):
        raise _bad(key, spec, "a list of values or a table with values, range or distribution")
    unknown = sorted(set(spec) - _VARY_KEYS)
    if unknown:
        raise _bad(
            f"{key}.{unknown[0]}", spec[unknown[0]], f"one of {', '.join(sorted(_VARY_KEYS))}"
        )
    if "values" in spec:
        values = spec["values"]
        if not isinstance(values, list) or not values:
            raise _bad(f"{key}.values", values, "a non-empty list")
        return Varied(name, values=tuple(values))
    if "range" in spec:
        rng = spec["range"]
        if not isinstance(rng, list) or len(rng) != 2:
            raise _bad(f"{key}.range", rng, "[low, high]")
        lo, hi = (_number(f"{key}.range", v) for v in rng)
        num = spec.get("num", 5)
        if isinstance(num, bool) or not isinstance(num, int) or num < 2:
            raise _bad(f"{key}.num", num, "an integer >= 2")
        log = spec.get("log", False)
        if not isinstance(log, bool):
            raise _bad(f"{key}.log", log, "true or false")
        if log and (lo <= 0 or hi <= 0):
            raise _bad(f"{key}.range", rng, "positive bounds when log = true")
        values = np.geomspace(lo, hi, num) if log else np.linspace(lo, hi, num)
        return Varied(name, values=tuple(float(v) for v in values))
    dist = spec.get("distribution")
    if dist not in DISTRIBUTIONS:
        raise _bad(f"{key}.distribution", dist, f"one of {', '.join(DISTRIBUTIONS)}")
    if dist == "normal":
        mean = _number(f"{key}.mean", spec.get("mean"))
        sd = _number(f"{key}.sd", spec.get("sd"), positive=True)
        return Varied(name, distribution=dist, mean=mean, sd=sd)
    low = _number(f"{key}.low", spec.get("low"))
    high = _number(f"{key}.high", spec.get("high"))
    if not high > low:
        raise _bad(f"{key}.high", high, f"a number > low = {low}")
    if dist == "loguniform" and low <= 0:
        raise _bad(f"{key}.low", low, "a number > 0 for a loguniform distribution")
    return Varied(name, distribution=dist, low=low, high=high)


@dataclass(frozen=True)
class Study:
    """A parsed, validated study."""

    name: str
    description: str
    base: Parameters
    sites: tuple[str, ...]
    geometry: str
    days: float
    output_every_days: float
    seed: int
    sampling: str
    samples: int
    varied: tuple[Varied, ...]
    outputs: tuple[str, ...]
    sensitivity_outputs: tuple[str, ...]

    # ------------------------------------------------------------------ the design
    def design(self) -> list[dict[str, Any]]:
        """Parameter updates of every run, in run order (sampled once per Study)."""
        return [dict(row) for row in self._design]

    @cached_property
    def _design(self) -> list[dict[str, Any]]:
        names = [v.name for v in self.varied]
        if not names:
            return [{}]
        if self.sampling == "grid":
            combos = itertools.product(*(v.grid_values() for v in self.varied))
            return [dict(zip(names, combo, strict=True)) for combo in combos]
        if self.sampling == "latin_hypercube":
            from scipy.stats import qmc

            unit = qmc.LatinHypercube(d=len(names), seed=self.seed).random(self.samples)
            columns = [v.from_unit(unit[:, j]) for j, v in enumerate(self.varied)]
            return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]
        from SALib.sample import sobol

        problem = self.salib_problem()
        x = sobol.sample(problem, self.samples, calc_second_order=False, seed=self.seed)
        rows = []
        for row in x:
            rows.append(
                {
                    v.name: float(10.0**value if v.distribution == "loguniform" else value)
                    for v, value in zip(self.varied, row, strict=True)
                }
            )
        return rows

    def salib_problem(self) -> dict[str, Any]:
        """SALib problem: uniform bounds, log10 bounds for loguniform, [mean, sd] for normal."""
        bounds, dists = [], []
        for v in self.varied:
            if v.distribution == "loguniform":
                bounds.append([math.log10(v.low), math.log10(v.high)])
                dists.append("unif")
            elif v.distribution == "normal":
                bounds.append([v.mean, v.sd])
                dists.append("norm")
            else:
                bounds.append([v.low, v.high])
                dists.append("unif")
        return {
            "num_vars": len(self.varied),
            "names": [v.name for v in self.varied],
            "bounds": bounds,
            "dists": dists,
        }

    def parameters_for(self, updates: dict[str, Any]) -> Parameters:
        return self.base.with_updates(updates)

    @property
    def needs_fields(self) -> bool:
        return any(name in NEEDS_FIELDS for name in self.outputs)

    def fingerprint(self) -> str:
        """Hash of everything that defines the results (resume refuses a different study)."""
        return self._fingerprint

    @cached_property
    def _fingerprint(self) -> str:
        from fields import __version__

        doc = {
            "base": json.loads(self.base.to_json()),
            "sites": list(self.sites),
            "geometry": self.geometry,
            "days": self.days,
            "output_every_days": self.output_every_days,
            "seed": self.seed,
            "design": self.design(),
            "outputs": list(self.outputs),
            "fields_version": __version__,
        }
        text = json.dumps(doc, sort_keys=True, default=repr)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_study(path: str | Path) -> Study:
    """Read and validate a study file; every error names the key, the value and what is allowed."""
    path = Path(path)
    if path.suffix != ".toml":
        raise _bad("study", str(path), "a study file ending in .toml")
    doc = read_toml(path)
    return study_from_dict(doc, path)


def study_from_dict(doc: dict[str, Any], path: Path | None = None) -> Study:
    meta = doc.get("study")
    if not isinstance(meta, dict):
        raise _bad("study", meta, "a [study] table (see fields/study.py for the format)")
    unknown = sorted(set(doc) - {"study", "parameters", "vary", "sensitivity"})
    if unknown:
        raise _bad(unknown[0], doc[unknown[0]], "one of study, parameters, vary, sensitivity")
    unknown = sorted(set(meta) - _STUDY_KEYS)
    if unknown:
        raise _bad(
            f"study.{unknown[0]}", meta[unknown[0]], f"one of {', '.join(sorted(_STUDY_KEYS))}"
        )

    if path is not None:
        base = load_parameters(path)  # handles [parameters] and base = ...
    else:
        base = Parameters().with_updates(flatten(doc.get("parameters", {})))

    name = meta.get("name", path.stem if path is not None else "study")
    if not isinstance(name, str) or not name:
        raise _bad("study.name", name, "a non-empty string")
    description = meta.get("description", "")
    sites = meta.get("sites", ["lung"])
    if isinstance(sites, str):
        sites = [sites]
    if not isinstance(sites, list) or not sites:
        raise _bad("study.sites", sites, f"a non-empty list of {', '.join(SITE_NAMES)}")
    for site in sites:
        if site not in SITE_NAMES:
            raise _bad("study.sites", site, f"one of {', '.join(SITE_NAMES)}")
    geometry = meta.get("geometry", "krogh")
    if geometry not in GEOMETRIES:
        raise _bad("study.geometry", geometry, f"one of {', '.join(GEOMETRIES)}")
    days = _number("study.days", meta.get("days", 3650.0), positive=True)
    every = _number("study.output_every_days", meta.get("output_every_days", 30.0), positive=True)
    seed = meta.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise _bad("study.seed", seed, "an integer >= 0")
    sampling = meta.get("sampling", "grid")
    if sampling not in SAMPLINGS:
        raise _bad("study.sampling", sampling, f"one of {', '.join(SAMPLINGS)}")
    samples = meta.get("samples", 0)
    if sampling != "grid":
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 2:
            raise _bad("study.samples", samples, "an integer >= 2")
        if sampling == "sobol" and samples & (samples - 1):
            raise _bad("study.samples", samples, "a power of two for sobol sampling (e.g. 64)")
    outputs = meta.get("outputs", list(DEFAULT_OUTPUTS))
    if not isinstance(outputs, list) or not outputs:
        raise _bad("study.outputs", outputs, f"a non-empty list of {', '.join(OUTPUTS)}")
    for out in outputs:
        if out not in OUTPUTS:
            raise _bad("study.outputs", out, f"one of {', '.join(OUTPUTS)}")

    vary = doc.get("vary", {})
    if not isinstance(vary, dict):
        raise _bad("vary", vary, "a table of varied parameters")
    varied = tuple(_parse_varied(key, spec) for key, spec in _flatten_vary(vary).items())
    if sampling == "sobol":
        for v in varied:
            if v.values is not None:
                raise _bad(f"vary.{v.name}", list(v.values), "a distribution for sobol sampling")
        if not varied:
            raise _bad("vary", {}, "at least one varied parameter for sobol sampling")

    sens = doc.get("sensitivity", {})
    if not isinstance(sens, dict):
        raise _bad("sensitivity", sens, "a table with outputs = [...]")
    sens_outputs = sens.get("outputs", [])
    if sens_outputs and sampling != "sobol":
        raise _bad("sensitivity.outputs", sens_outputs, "only with sampling = 'sobol'")
    if not isinstance(sens_outputs, list):
        raise _bad("sensitivity.outputs", sens_outputs, "a list of output names")
    for out in sens_outputs:
        if out not in outputs or out in SYSTEMIC_SERIES:
            allowed = [o for o in outputs if o not in SYSTEMIC_SERIES]
            raise _bad("sensitivity.outputs", out, f"one of the study's outputs {allowed}")

    study = Study(
        name=name,
        description=str(description),
        base=base,
        sites=tuple(dict.fromkeys(sites)),
        geometry=geometry,
        days=days,
        output_every_days=every,
        seed=seed,
        sampling=sampling,
        samples=int(samples),
        varied=varied,
        outputs=tuple(dict.fromkeys(outputs)),
        sensitivity_outputs=tuple(sens_outputs),
    )
    for index, updates in enumerate(study.design()):  # every run validates before any runs
        try:
            study.parameters_for(updates)
        except FieldsInputError as exc:
            raise FieldsInputError(f"study run {index} of the design: {exc}") from None
    return study


def _flatten_vary(vary: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """[vary."a.b"] and [vary.a.b] both name parameter a.b."""
    out: dict[str, Any] = {}
    for key, spec in vary.items():
        name = f"{prefix}{key}"
        if isinstance(spec, dict) and not (set(spec) & _VARY_KEYS):
            out.update(_flatten_vary(spec, f"{name}."))
        else:
            out[name] = spec
    return out
