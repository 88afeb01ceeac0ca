"""The populations table of ``fields bench``: cohort throughput and a full calibration.

Each row runs in its own spawned process. The cohort row times :func:`fields.cohort` on a
LocalCluster of ``workers`` processes (cluster start included) and, in the same process, the
same patients one at a time (:func:`fields.simulate`, ``per_run_sample`` of them, scaled to the
cohort on the same number of workers); the ratio is the speed-up. The calibration row times
:func:`fields.calibrate` of a shipped calibration file, pool included; the trial row times
:func:`fields.experiments.population.trial.trial` of a shipped two-arm trial file (every arm's
patients, the Cox models and the report).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fields.bench.harness import in_child

STUDIES = Path(__file__).resolve().parents[2] / "studies"


@dataclass(frozen=True)
class CohortCase:
    label: str
    cohort: str  # a cohort file under studies/, or a calibration file for kind "calibration"
    patients: int
    workers: int
    per_run_sample: int
    target: str
    kind: str = "cohort"
    overrides: tuple[tuple[str, int], ...] = ()


CASES = (
    CohortCase(
        "10,000-patient cohort (4 sites, 20 y follow-up)",
        "lead_time.toml",
        10_000,
        2,
        8,
        "<= 300 s",
    ),
    CohortCase(
        "2-arm 10,000-patient trial (chemotherapy against none)",
        "trials/ebctcg_chemotherapy.toml",
        10_000,
        2,
        0,
        "-",
        kind="trial",
        overrides=(("arms", 2),),
    ),
    CohortCase(
        "full calibration (lead_time)",
        "lead_time_calibration.toml",
        0,
        2,
        0,
        "<= 1800 s",
        kind="calibration",
    ),
)
QUICK_CASES = (
    CohortCase("40-patient cohort (4 sites, 20 y follow-up)", "lead_time.toml", 40, 0, 1, "-"),
    CohortCase(
        "2-arm 20-patient trial",
        "trials/ebctcg_chemotherapy.toml",
        20,
        0,
        0,
        "-",
        kind="trial",
        overrides=(("arms", 2),),
    ),
    CohortCase(
        "small calibration (pool 40, 20 particles)",
        "lead_time_calibration.toml",
        0,
        0,
        0,
        "-",
        kind="calibration",
        overrides=(
            ("pool", 40),
            ("population_size", 20),
            ("generations", 1),
            ("refine", 40),
            ("check", 0),
        ),
    ),
)


def _measure(case: CohortCase) -> dict[str, float]:
    from fields.engine.loop import run
    from fields.experiments.population.calibration import calibrate
    from fields.experiments.population.cohort import cohort
    from fields.experiments.population.cohort_file import load_cohort
    from fields.experiments.population.cohort_run import diagnosis_days
    from fields.experiments.run import simulate
    from fields.parameters.batch import ParameterBatch

    if case.kind == "trial":
        import dataclasses

        from fields.experiments.population.trial import trial
        from fields.experiments.population.trial_file import load_trial
        from fields.experiments.population.trial_report import report

        spec = load_trial(STUDIES / case.cohort)
        spec = dataclasses.replace(spec, arms=spec.arms[: dict(case.overrides)["arms"]])
        t0 = time.perf_counter()
        ds = trial(spec, workers=case.workers, patients=case.patients, progress=False)
        report(ds)
        wall = time.perf_counter() - t0
        return {
            "patients": case.patients * len(spec.arms),
            "wall_s": wall,
            "per_run_s": np.nan,
            "pool_s": np.nan,
            "abc_s": np.nan,
            "failed": int(np.sum(ds["status"].values == 2)),
        }
    if case.kind == "calibration":
        with tempfile.TemporaryDirectory() as folder:
            t0 = time.perf_counter()
            fit = calibrate(
                STUDIES / case.cohort,
                pool_store=Path(folder) / "pool.zarr",
                workers=case.workers,
                progress=False,
                **dict(case.overrides),
            )
            wall = time.perf_counter() - t0
        return {
            # both pools when the file refines (their patients and seconds together)
            "patients": fit.attrs["pool_patients"] + fit.attrs.get("refine_patients", 0),
            "wall_s": wall,
            "per_run_s": np.nan,
            "pool_s": fit.attrs["pool_seconds"] + fit.attrs.get("refine_seconds", 0.0),
            "abc_s": fit.attrs["abc_seconds"],
            "failed": fit.attrs["pool_failed"],
        }
    spec = load_cohort(STUDIES / case.cohort).with_patients(case.patients)
    batch = ParameterBatch(spec.base, spec.sample(np.arange(2)))
    run(batch, sites=spec.sites, days=30.0, geometry="krogh")  # warm-up: compile, patches
    picks = np.linspace(0, case.patients - 1, case.per_run_sample).astype(int)
    sample = ParameterBatch(spec.base, spec.sample(picks))
    days = diagnosis_days(spec, sample) + spec.follow_up_days
    t0 = time.perf_counter()
    for j in range(sample.size):
        simulate(
            sample.member(j),
            sites=list(spec.sites),
            days=float(days[j]),
            geometry="krogh",
            output_every_days=spec.output_every_days,
            store_fields=False,
            progress=False,
        )
    per_run = (time.perf_counter() - t0) / sample.size
    t0 = time.perf_counter()
    ds = cohort(spec, workers=case.workers, progress=False)
    wall = time.perf_counter() - t0
    return {
        "patients": case.patients,
        "wall_s": wall,
        "per_run_s": per_run * case.patients / max(case.workers, 1),
        "pool_s": np.nan,
        "abc_s": np.nan,
        "failed": int(np.sum(ds["status"].values != 1)),
    }


def run_population_table(
    cases: Sequence[CohortCase], echo: Callable[[str], None] = print
) -> list[dict[str, object]]:
    """Measure the population rows, each in a fresh process."""
    if not cases:
        return []
    echo("")
    echo("Populations: a cohort in batches vs its patients one at a time, and a calibration")
    echo("")
    echo(
        "| case | patients | wall s | one at a time s (scaled) | speed-up | patients/s | "
        "failed | target |"
    )
    echo("|---|---:|---:|---:|---:|---:|---:|---|")
    rows = []
    for case in cases:
        r = in_child(_measure, case)
        speedup = r["per_run_s"] / r["wall_s"]
        rows.append({"case": case.label, **r, "speedup": speedup})
        extra = ""
        if case.kind == "calibration":
            extra = f" (pool {r['pool_s']:.0f} s, ABC-SMC {r['abc_s']:.0f} s)"
        per_run = "-" if np.isnan(r["per_run_s"]) else f"{r['per_run_s']:.0f}"
        ratio = "-" if np.isnan(speedup) else f"{speedup:.1f}x"
        echo(
            f"| {case.label}{extra} | {r['patients']} | {r['wall_s']:.1f} | {per_run} | {ratio} "
            f"| {r['patients'] / r['wall_s']:.1f} | {r['failed']} | {case.target} |"
        )
    return rows
