"""Study files: base parameters, varied parameters, sampling, outputs, sensitivity.

A study is data; :mod:`fields.experiments.sweep` runs it. The file format::

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

from fields.core.errors import FieldsInputError
from fields.core.version import __version__
from fields.engine.contract import SITE_SERIES, systemic_names
from fields.experiments.varied import (
    Varied,
    bad,
    flatten_vary,
    header,
    number,
    parse_varied,
    seed_of,
    site_list,
)
from fields.parameters import (
    GEOMETRIES,
    Parameters,
    check_geometry,
    flatten,
    load_parameters,
    read_toml,
)

SAMPLINGS = ("grid", "latin_hypercube", "sobol")

#: Scalars per (run, site) derived from a run.
SITE_SCALARS = (
    "time_to_outgrowth_days",
    "diameter_at_first_niche_mm",
    "hypoxic_distance_um",
    "necrotic_distance_um",
)
#: Scalars per run derived from a run.
RUN_SCALARS = (
    "first_outgrowth_days",
    "resection_day",
    "time_resection_to_outgrowth_days",
    "time_to_1e9_cells_days",
    "p_metastatic_at_diagnosis",
    "p_relapse_10_years",
    "median_months_to_metastasis",
    "death_day",
)
#: Outputs that need the stored fields of a run (kept only in memory on the worker).
NEEDS_FIELDS = ("hypoxic_distance_um", "necrotic_distance_um")


def output_names(p: Parameters) -> tuple[str, ...]:
    """Every output a study of base parameters ``p`` may keep (series depend on the species)."""
    return (*systemic_names(p.species), *SITE_SERIES, *SITE_SCALARS, *RUN_SCALARS)


def default_outputs(p: Parameters) -> tuple[str, ...]:
    """The outputs kept when a study names none (all but those that need stored fields)."""
    return tuple(name for name in output_names(p) if name not in NEEDS_FIELDS)


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

    @property
    def systemic_series(self) -> tuple[str, ...]:
        """The systemic series of this study's runs."""
        return systemic_names(self.base.species)

    @cached_property
    def _fingerprint(self) -> str:
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
        raise bad("study", str(path), "a study file ending in .toml")
    doc = read_toml(path)
    return study_from_dict(doc, path)


def study_from_dict(doc: dict[str, Any], path: Path | None = None) -> Study:
    meta = header(
        doc,
        "study",
        {"parameters", "vary", "sensitivity"},
        _STUDY_KEYS,
        "fields/experiments/study.py",
    )
    if path is not None:
        base = load_parameters(path)  # handles [parameters] and base = ...
    else:
        base = Parameters().with_updates(flatten(doc.get("parameters", {})))

    name = meta.get("name", path.stem if path is not None else "study")
    if not isinstance(name, str) or not name:
        raise bad("study.name", name, "a non-empty string")
    description = meta.get("description", "")
    sites = site_list(meta, "study.sites", base.sites, ["lung"])
    geometry = meta.get("geometry", "krogh")
    if geometry not in GEOMETRIES:
        raise bad("study.geometry", geometry, f"one of {', '.join(GEOMETRIES)}")
    days = number("study.days", meta.get("days", 3650.0), positive=True)
    every = number("study.output_every_days", meta.get("output_every_days", 30.0), positive=True)
    seed = seed_of(meta, "study.seed")
    sampling = meta.get("sampling", "grid")
    if sampling not in SAMPLINGS:
        raise bad("study.sampling", sampling, f"one of {', '.join(SAMPLINGS)}")
    samples = meta.get("samples", 0)
    if sampling != "grid":
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 2:
            raise bad("study.samples", samples, "an integer >= 2")
        if sampling == "sobol" and samples & (samples - 1):
            raise bad("study.samples", samples, "a power of two for sobol sampling (e.g. 64)")
    allowed_outputs = output_names(base)
    outputs = meta.get("outputs", list(default_outputs(base)))
    if not isinstance(outputs, list) or not outputs:
        raise bad("study.outputs", outputs, f"a non-empty list of {', '.join(allowed_outputs)}")
    for out in outputs:
        if out not in allowed_outputs:
            raise bad("study.outputs", out, f"one of {', '.join(allowed_outputs)}")

    vary = doc.get("vary", {})
    if not isinstance(vary, dict):
        raise bad("vary", vary, "a table of varied parameters")
    varied = tuple(parse_varied(key, spec) for key, spec in flatten_vary(vary).items())
    if sampling == "sobol":
        for v in varied:
            if v.values is not None:
                raise bad(f"vary.{v.name}", list(v.values), "a distribution for sobol sampling")
        if not varied:
            raise bad("vary", {}, "at least one varied parameter for sobol sampling")

    sens = doc.get("sensitivity", {})
    if not isinstance(sens, dict):
        raise bad("sensitivity", sens, "a table with outputs = [...]")
    sens_outputs = sens.get("outputs", [])
    if sens_outputs and sampling != "sobol":
        raise bad("sensitivity.outputs", sens_outputs, "only with sampling = 'sobol'")
    if not isinstance(sens_outputs, list):
        raise bad("sensitivity.outputs", sens_outputs, "a list of output names")
    for out in sens_outputs:  # a series is analysed at its last value
        if out not in outputs:
            raise bad("sensitivity.outputs", out, f"one of the study's outputs {list(outputs)}")

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
            check_geometry(study.parameters_for(updates), geometry)
        except FieldsInputError as exc:
            raise FieldsInputError(f"study run {index} of the design: {exc}") from None
    return study
