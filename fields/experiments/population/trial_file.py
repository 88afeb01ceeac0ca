"""Trial files: a cohort file, arms given to the same virtual patients, published effects.

The format::

    [trial]
    name = "ebctcg_chemotherapy"
    cohort = "lead_time.toml"          # the cohort file (relative to this file)
    patients = 2000                    # optional: overrides the cohort's sample size
    design = "paired"                  # every arm on the same patients (common random numbers);
                                       # "independent": each arm on patients of its own
    control = "control"                # the arm the hazard ratios are against
    years = 10.0                       # the horizon of the per-arm incidence (default 10)

    [arm.control]
    description = "no adjuvant therapy"

    [arm.chemotherapy]
    description = "six months of anthracycline-based chemotherapy from resection"
    parameters = { "interventions.chemotherapy.start" = "resection",
                   "interventions.chemotherapy.start_day" = 28.0,
                   "interventions.chemotherapy.duration_days" = 168.0 }

    [arm.chemotherapy.sample."interventions.chemotherapy.efficacy"]  # optional, per patient
    distribution = "uniform"           # (after the cohort's own draws, so paired patients keep
    low = 0.6                          # every number the arms share)
    high = 1.0
    source = "..."

    [[published]]                      # optional: the effect a real trial measured
    arm = "chemotherapy"
    endpoint = "distant"               # distant recurrence, or a site (first relapse there)
    hazard_ratio = 0.77
    low = 0.72                         # its 95 % CI
    high = 0.83
    population = "..."
    source = "[ebctcg2012]"

A trial may not sample a key its cohort samples or sets in its arms, may not give a therapy
window a start outside ``day`` and ``resection``, and refuses every unknown key by name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from fields.experiments.population.cohort_file import Cohort, load_cohort
from fields.experiments.population.distributions import Distribution, parse_distribution
from fields.experiments.varied import bad, dotted_tables, header, keyed_table, number, text
from fields.parameters import flatten, read_toml

_KEYS = {"name", "cohort", "patients", "design", "control", "years", "description"}
_ARM_KEYS = {"description", "parameters", "sample"}
_PUBLISHED_KEYS = {"arm", "endpoint", "hazard_ratio", "low", "high", "population", "source"}
DESIGNS = ("paired", "independent")


@dataclass(frozen=True)
class Arm:
    """One arm: fixed parameter changes and per-patient distributions on top of the cohort."""

    name: str
    description: str
    updates: dict[str, Any] = field(default_factory=dict)
    samples: dict[str, Distribution] = field(default_factory=dict)


@dataclass(frozen=True)
class Published:
    """A published hazard ratio (95 % CI) of one arm against the control."""

    arm: str
    endpoint: str
    hazard_ratio: float
    low: float
    high: float
    population: str
    source: str


@dataclass(frozen=True)
class Trial:
    name: str
    description: str
    cohort: Cohort
    arms: tuple[Arm, ...]
    control: str
    design: str = "paired"
    years: float = 10.0
    published: tuple[Published, ...] = ()

    @property
    def names(self) -> list[str]:
        return [a.name for a in self.arms]

    def arm_cohort(self, arm: Arm, patients: int | None = None) -> Cohort:
        """The cohort one arm runs: the cohort's patients (its seed; a seed of its own per arm
        when the design is independent) with the arm's changes."""
        c = self.cohort.with_updates(arm.updates) if arm.updates else self.cohort
        if arm.samples:
            c = c.with_samples(arm.samples)
        if patients is not None:
            c = c.with_patients(patients)
        if self.design == "independent":
            c = replace(c, seed=c.seed + 1 + self.names.index(arm.name))
        return c

    def endpoints(self) -> list[str]:
        """``distant`` (any first relapse) and each of the cohort's sites (first relapse there)."""
        return ["distant", *self.cohort.sites]


def load_trial(path: str | Path) -> Trial:
    path = Path(path)
    doc = read_toml(path)
    meta = header(doc, "trial", {"arm", "published"}, _KEYS, __name__)
    name = text("trial.name", meta.get("name"))
    file = meta.get("cohort")
    if not isinstance(file, str) or not (path.parent / file).is_file():
        raise bad("trial.cohort", file, "a cohort file (.toml), relative to this file")
    cohort = load_cohort(path.parent / file)
    if "patients" in meta:
        cohort = cohort.with_patients(meta["patients"])
    design = meta.get("design", "paired")
    if design not in DESIGNS:
        raise bad("trial.design", design, " or ".join(DESIGNS))
    years = number("trial.years", meta.get("years", 10.0), positive=True)
    if years * 365.25 > cohort.follow_up_days + 1e-9:
        raise bad(
            "trial.years", years, f"at most the cohort's follow-up ({cohort.follow_up_days:g} days)"
        )
    arms = _arms(doc.get("arm"), cohort)
    names = [a.name for a in arms]
    control = meta.get("control", names[0])
    if control not in names:
        raise bad("trial.control", control, f"one of the arms: {', '.join(names)}")
    published = tuple(_published(doc.get("published", []), names, ["distant", *cohort.sites]))
    return Trial(
        name=name,
        description=str(meta.get("description", "")),
        cohort=cohort,
        arms=arms,
        control=control,
        design=design,
        years=years,
        published=published,
    )


def _arms(tables: Any, cohort: Cohort) -> tuple[Arm, ...]:
    if not isinstance(tables, dict) or len(tables) < 2:
        raise bad("arm", tables, "two or more tables [arm.NAME]")
    out = []
    for name, table in tables.items():
        where = f"arm.{name}"
        table = keyed_table(where, table, _ARM_KEYS)
        description = text(f"{where}.description", table.get("description"))
        params = table.get("parameters", {})
        if not isinstance(params, dict):
            raise bad(f"{where}.parameters", params, "a table of dotted parameter names")
        updates = flatten(params)
        try:
            checked = cohort.with_updates(updates)
        except Exception as exc:
            raise bad(
                f"{where}.parameters", updates, f"values the cohort accepts ({exc})"
            ) from None
        samples = {}
        raw = table.get("sample", {})
        if not isinstance(raw, dict):
            raise bad(f"{where}.sample", raw, 'tables [arm.NAME.sample."a.b"]')
        for key, spec in dotted_tables(raw, f"{where}.sample").items():
            if key in cohort.samples or key in updates:
                raise bad(
                    f"{where}.sample.{key}",
                    spec,
                    "a key neither the cohort samples nor the arm sets",
                )
            try:
                current = checked.base.get(key)
            except Exception:
                current = None
            if isinstance(current, bool) or not isinstance(current, int | float):
                raise bad(f"{where}.sample.{key}", spec, "a numeric parameter key") from None
            samples[key] = parse_distribution(key, spec)
        out.append(Arm(str(name), description, updates, samples))
    return tuple(out)


def _published(rows: Any, arms: list[str], endpoints: list[str]) -> list[Published]:
    if not isinstance(rows, list):
        raise bad("published", rows, "[[published]] tables")
    out = []
    for k, row in enumerate(rows):
        where = f"published[{k}]"
        row = keyed_table(where, row, _PUBLISHED_KEYS)
        if row.get("arm") not in arms:
            raise bad(f"{where}.arm", row.get("arm"), f"one of the arms: {', '.join(arms)}")
        endpoint = row.get("endpoint", "distant")
        if endpoint not in endpoints:
            raise bad(f"{where}.endpoint", endpoint, f"one of {', '.join(endpoints)}")
        hr, low, high = (
            number(f"{where}.{key}", row.get(key), positive=True)
            for key in ("hazard_ratio", "low", "high")
        )
        if not low <= hr <= high or not math.isfinite(high):
            raise bad(f"{where}.low", low, f"low <= hazard_ratio ({hr:g}) <= high ({high:g})")
        for key in ("population", "source"):
            text(f"{where}.{key}", row.get(key))
        out.append(Published(row["arm"], endpoint, hr, low, high, row["population"], row["source"]))
    return out
