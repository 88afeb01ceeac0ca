"""The solver table of ``fields bench``: one lung patch, oxygen and every declared factor plus
the local ODEs, daily steps (backward Euler, dt = 1 day), with fixed plasma levels of a 3 cm
primary, each row in its own child process so peak memory is per row. Side by side:

(a) ``naive``: FiPy written the way its documentation teaches (:mod:`fields.bench.naive`);
(b) ``fields``: the engine's site (:class:`fields.engine.site.Site`, one run, fast path: FiPy
    assembles once, factorisations are reused, oxygen is re-solved only when its coefficients
    change).

Both use the same physics functions, so their final fields must agree. Speed is measured here,
never asserted in a test.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from fields.bench.harness import in_child, peak_rss_mib


@dataclass(frozen=True)
class SolverCase:
    """One row of the solver table."""

    label: str
    geometry: str
    domain_um: float  # 2d side or 3d cube side; ignored for krogh
    steps: int


SOLVER_CASES = (
    SolverCase("2d 50x50", "2d", 500.0, 365),
    SolverCase("2d 100x100", "2d", 1000.0, 365),
    SolverCase("2d 200x200", "2d", 2000.0, 73),
    SolverCase("krogh (40 cells)", "krogh", 0.0, 365),
    SolverCase("3d 50x50x50", "3d", 500.0, 10),
)
QUICK_SOLVER_CASES = (
    SolverCase("2d 20x20", "2d", 200.0, 20),
    SolverCase("krogh (40 cells)", "krogh", 0.0, 20),
)


def problem(case: SolverCase, solver: str):
    """Parameters, patch, plasma levels and DTC arrivals shared by both paths."""
    from fields.model import dissemination, primary
    from fields.numerics.geometry import make_patch
    from fields.parameters import Parameters

    updates: dict[str, object] = {"transport.mode": "transient", "transport.solver": solver}
    if case.geometry == "2d":
        updates["geometry.domain_um"] = case.domain_um
    elif case.geometry == "3d":
        updates["geometry.domain_3d_um"] = case.domain_um
    p = Parameters().with_updates(updates)
    patch = make_patch(case.geometry, p.sites["lung"], p.geometry, seed=0)
    cells = primary.cells_at_diameter(30.0, p.primary)
    plasma = {name: primary.plasma_steady_state(cells, s, 1.0) for name, s in p.species.items()}
    arrivals = (
        primary.shed_rate(cells, p.primary, p.dissemination)
        * dissemination.arrest_shares(p)["lung"]
    )
    return p, patch, plasma, arrivals


def run_solver_case(case: SolverCase, path: str) -> dict[str, object]:
    """Child process: set up and step one path; time, final fields and peak memory."""
    from fields.bench.naive import naive_site_class
    from fields.engine.site import Site

    t0 = time.perf_counter()
    if path == "naive":
        p, patch, plasma, arrivals = problem(case, "fipy")
        model = naive_site_class()("lung", p, [patch])
    else:
        p, patch, plasma, arrivals = problem(case, "fast")
        model = Site("lung", p, [patch])
    model.initialise(plasma)
    day = np.ones((1, 1))
    t1 = time.perf_counter()
    for _ in range(case.steps):
        model.step(day, plasma, arrivals)
    t2 = time.perf_counter()
    return {
        "setup_s": t1 - t0,
        "loop_s": t2 - t1,
        "cells": patch.n_cells,
        "fields": {name: np.array(model.state[name][0]) for name in ("oxygen", *model.species)},
        "peak_mib": peak_rss_mib(),
    }


def max_relative_difference(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    """max over fields of max|a - b| / max|b| (b is the reference)."""
    worst = 0.0
    for name in b:
        scale = float(np.max(np.abs(b[name])))
        diff = float(np.max(np.abs(a[name] - b[name])))
        worst = max(worst, diff / scale if scale > 0 else diff)
    return worst


def run_solver_table(
    solver_cases: Sequence[SolverCase] = SOLVER_CASES, echo: Callable[[str], None] = print
) -> list[dict[str, object]]:
    """Measure the solver table, printing each row as it completes; return the rows."""
    if not solver_cases:
        return []
    from fields.parameters import SPECIES_NAMES

    factors = " + ".join(SPECIES_NAMES)
    echo(f"Solver: lung patch, oxygen + {factors} + local ODEs, dt = 1 day (backward Euler)")
    echo("")
    header = (
        "| case | cells | steps | naive FiPy ms/step | fields ms/step | speed-up | "
        "max rel diff | naive peak MiB | fields peak MiB | fields setup s |"
    )
    echo(header)
    echo("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    solver_rows = []
    for case in solver_cases:
        naive = in_child(run_solver_case, case, "naive")
        fast = in_child(run_solver_case, case, "fields")
        row = {
            "case": case.label,
            "cells": fast["cells"],
            "steps": case.steps,
            "naive_ms_per_step": 1e3 * naive["loop_s"] / case.steps,
            "fields_ms_per_step": 1e3 * fast["loop_s"] / case.steps,
            "speedup": naive["loop_s"] / fast["loop_s"] if fast["loop_s"] > 0 else math.inf,
            "max_rel_diff": max_relative_difference(fast["fields"], naive["fields"]),
            "naive_peak_mib": naive["peak_mib"],
            "fields_peak_mib": fast["peak_mib"],
            "fields_setup_s": fast["setup_s"],
        }
        solver_rows.append(row)
        echo(
            f"| {row['case']} | {row['cells']} | {row['steps']} | {row['naive_ms_per_step']:.1f} | "
            f"{row['fields_ms_per_step']:.2f} | {row['speedup']:.0f}x | {row['max_rel_diff']:.1e} | "
            f"{row['naive_peak_mib']:.0f} | {row['fields_peak_mib']:.0f} | {row['fields_setup_s']:.2f} |"
        )
    return solver_rows
