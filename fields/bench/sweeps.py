"""The sweeps table of ``fields bench``: sweeps run as batches against the same runs one at a
time (Krogh and 2d).

Each row runs in its own spawned process. The batched figure is the wall time of
:func:`fields.sweep` on a LocalCluster of ``workers`` processes (cluster start included). The
one-at-a-time figure times ``per_run_sample`` of the same runs, each alone (a batch of one), in
one process and scales to all runs on the same number of workers (all 1,000 runs one at a time
take a quarter of an hour); the ratio of the two is the speed-up. Memory per run is the
tracemalloc peak of one in-process batch divided by its runs.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from fields.bench.harness import in_child


@dataclass(frozen=True)
class BatchCase:
    """One row: ``runs`` runs of ``days`` over ``sites`` on ``geometry``; the memory per run
    is measured on a batch of at most ``memory_runs``."""

    label: str
    runs: int
    sites: tuple[str, ...]
    days: float
    workers: int
    per_run_sample: int
    target: str
    geometry: str = "krogh"
    memory_runs: int = 64


CASES = (
    BatchCase(
        "1000-run Krogh sweep (4 sites, 3650 d)",
        1000,
        ("lung", "liver", "bone_marrow", "brain"),
        3650.0,
        2,
        12,
        "<= 30 s and >= 6x one at a time",
    ),
    BatchCase(
        "64-run 2d sweep (lung, 730 d)",
        64,
        ("lung",),
        730.0,
        2,
        4,
        "- (batches of 16)",
        geometry="2d",
        memory_runs=8,
    ),
)
QUICK_CASES = (
    BatchCase("16-run Krogh sweep (lung, 365 d)", 16, ("lung",), 365.0, 0, 2, "-"),
    BatchCase("4-run 2d sweep (lung, 60 d)", 4, ("lung",), 60.0, 0, 2, "-", "2d", 4),
)


def _study(case: BatchCase):
    from fields.experiments.study import study_from_dict

    side = int(np.ceil(np.sqrt(case.runs)))
    tvdt = np.linspace(60.0, 240.0, side)
    diameter = np.linspace(10.0, 60.0, -(-case.runs // side))
    return study_from_dict(
        {
            "study": {
                "name": "bench_batch",
                "description": "batched-engine benchmark",
                "sites": list(case.sites),
                "geometry": case.geometry,
                "days": case.days,
                "output_every_days": 30.0,
                "seed": 0,
                "sampling": "grid",
                "outputs": ["p_relapse_10_years", "death_day"],
            },
            "vary": {
                "primary.tvdt_days": {"values": tvdt.tolist()},
                "primary.resection_diameter_mm": {"values": diameter.tolist()},
            },
        }
    )


def _measure(case: BatchCase) -> dict[str, float]:
    from fields.engine.loop import run
    from fields.experiments.sweep import sweep
    from fields.parameters.batch import ParameterBatch

    study = _study(case)
    design = study.design()[: case.runs]
    params = [study.parameters_for(u) for u in design]
    # warm-up: compile the kernels and build the patches outside the timed runs
    geometry = case.geometry
    run(ParameterBatch.from_sets(params[:2]), sites=case.sites, days=30.0, geometry=geometry)
    picks = np.linspace(0, len(params) - 1, case.per_run_sample).astype(int)
    t0 = time.perf_counter()
    for i in picks:
        run(params[i], sites=case.sites, days=case.days, geometry=geometry, store_fields=False)
    per_run_s = (time.perf_counter() - t0) / len(picks)
    t0 = time.perf_counter()
    result = sweep(study, workers=case.workers, progress=False)
    batched_s = time.perf_counter() - t0
    failed = int((result["status"] != 1).sum())
    sample = ParameterBatch.from_sets(params[: min(len(params), case.memory_runs)])
    limit: dict[str, float] = {}
    if geometry == "2d":  # one run-step of one site against the compiled LOD step, same process
        from fields.bench.lod import lod_step_ms

        t0 = time.perf_counter()
        rec = run(sample, sites=case.sites, days=case.days, geometry=geometry, keep="series")
        run_step_ms = 1e3 * (time.perf_counter() - t0) / (rec.steps.sum() * len(case.sites))
        n = rec.patches[case.sites[0]][0].shape[0]
        limit = {"run_step_ms": run_step_ms, "lod_ms": lod_step_ms(n, 4)["ms"]}
    tracemalloc.start()
    run(sample, sites=case.sites, days=case.days, geometry=geometry, keep="series")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        **limit,
        "runs": len(study.design()),
        "batched_s": batched_s,
        "per_run_s": per_run_s * len(study.design()) / max(case.workers, 1),
        "mib_per_run": peak / 2**20 / sample.size,
        "failed": failed,
    }


def run_sweep_table(
    cases: Sequence[BatchCase], echo: Callable[[str], None] = print
) -> list[dict[str, object]]:
    """Measure the sweep rows, each in a fresh process."""
    if not cases:
        return []
    echo("")
    echo("Sweeps: batches (one Dask task per batch) vs the same runs one at a time")
    echo("")
    echo(
        "| case | runs | batched wall s | one at a time s (scaled) | speed-up | MiB per run | "
        "target |"
    )
    echo("|---|---:|---:|---:|---:|---:|---|")
    rows = []
    for case in cases:
        r = in_child(_measure, case)
        row = {"case": case.label, **r, "speedup": r["per_run_s"] / r["batched_s"]}
        rows.append(row)
        echo(
            f"| {case.label} | {r['runs']} | {r['batched_s']:.1f} | {r['per_run_s']:.0f} | "
            f"{row['speedup']:.1f}x | {r['mib_per_run']:.2f} | {case.target} |"
        )
    grids = [row for row in rows if "lod_ms" in row]
    if grids:
        echo("")
        echo("Grid batches against the compiled limit (one in-process batch of the row's runs)")
        echo("")
        echo("| case | ms per run-step and site | LOD step ms (4 fields) | x LOD |")
        echo("|---|---:|---:|---:|")
        for row in grids:
            echo(
                f"| {row['case']} | {row['run_step_ms']:.2f} | {row['lod_ms']:.3f} | "
                f"{row['run_step_ms'] / row['lod_ms']:.1f}x |"
            )
    return rows
