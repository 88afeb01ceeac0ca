"""The LOD table of ``fields bench``: the compiled limit of a 2d step, a locally one-dimensional
(LOD) step, beside the solver table's 2d rows.

BioFVM (Ghaffarizadeh, Friedman & Macklin 2016) advances diffusion-decay on a uniform grid by
locally one-dimensional backward-Euler sweeps: one tridiagonal solve along every row, then along
every column. Here each sweep is the package's compiled Thomas solve
(:func:`fields.numerics.kernels.thomas_solve`) over all rows at once, with the factorisation done
once, so a step costs what a compiled transient solver pays per field: the reference the 2d
whole-model step is compared with, timed in the same ``fields bench`` run.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import numpy as np

from fields.bench.harness import in_child


def _lod_factors(n: int, d_dt_h2: float, decay_dt: float | np.ndarray) -> tuple[np.ndarray, ...]:
    """Thomas factors of (1 + decay dt / 2) u - D dt / h^2 (second difference), zero-flux ends,
    for n rows of n cells (``decay_dt``: a number, or one per cell as (n, n))."""
    lower = np.full((n, n - 1), -d_dt_h2)
    upper = np.full((n, n - 1), -d_dt_h2)
    diag = np.full((n, n), 1.0 + 0.5 * decay_dt + 2.0 * d_dt_h2)
    diag[:, 0] -= d_dt_h2
    diag[:, -1] -= d_dt_h2
    from fields.numerics import kernels

    cprime, inv = kernels.thomas_factor(lower, diag, upper)
    return lower, cprime, inv


def lod_step_ms(n: int, fields: int, steps: int = 200) -> dict[str, float]:
    """Milliseconds per step of ``fields`` LOD diffusion-decay steps on an n x n grid (10 um
    cells, D = 100 um^2/s, decay 2e-4 /s, dt = 1 day), after one warm-up step."""
    from fields.numerics import kernels

    d_dt_h2 = 100.0 * 86400.0 / 10.0**2
    factors = _lod_factors(n, d_dt_h2, 2e-4 * 86400.0)
    rng = np.random.default_rng(0)
    state = [np.ascontiguousarray(rng.uniform(0.0, 1.0, (n, n))) for _ in range(fields)]

    def step() -> None:
        for k, u in enumerate(state):
            half = kernels.thomas_solve(*factors, u)  # along x: every row at once
            full = kernels.thomas_solve(*factors, np.ascontiguousarray(half.T))  # along y
            state[k] = np.ascontiguousarray(full.T)

    step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return {"ms": 1e3 * (time.perf_counter() - t0) / steps}


def lod_accuracy(domain_um: float, days: int = 30, dt_days: float = 1.0) -> dict[str, float]:
    """One step of ``dt_days`` (default: the model's daily step) of every factor on the lung
    patch, after ``days`` transient days of the model: the LOD step (the reaction split evenly
    between the two sweeps, as BioFVM does) and the exact backward-Euler step of the same sink
    and source. Returns the largest mean relative
    difference over the factors and the milliseconds of the factors' exact solves (the
    package's LDL^T solves, what an accurate daily step costs per field)."""
    from fields.bench.solver import SolverCase, problem
    from fields.engine.site import Site
    from fields.model.factors import sum_terms
    from fields.numerics import kernels
    from fields.numerics.operator import SECONDS_PER_DAY

    p, patch, plasma, arrivals = problem(SolverCase("lod", "2d", domain_um, days), "fast")
    model = Site("lung", p, [patch])
    model.initialise(plasma)
    for _ in range(days):
        model.step(np.ones((1, 1)), plasma, arrivals)
    n = patch.shape[0]
    spacing = float(np.diff(patch.coords[patch.dims[-1]][:2])[0])
    dt = dt_days * SECONDS_PER_DAY
    worst, exact_s = 0.0, 0.0
    for name, species in model.species.items():
        sink, terms = model.sink_and_terms(name, plasma)
        operator = model.ops[name].operators[0]  # the run's own solver of this factor
        sink = np.broadcast_to(sink, model.state[name].shape)[0]
        source = np.broadcast_to(sum_terms(terms), model.state[name].shape)[0]
        old = model.state[name][0]
        operator.solve(sink, source, dt=dt, previous=old)  # factorised: time the solve
        t0 = time.perf_counter()
        exact = operator.solve(sink, source, dt=dt, previous=old)
        exact_s += time.perf_counter() - t0
        r = species.diffusivity_um2_per_s * dt / spacing**2
        grid = (old + dt * source).reshape(n, n)
        sink_dt = dt * sink.reshape(n, n)
        for _ in range(2):  # along x (every row at once), then along y (the transposes)
            factors = _lod_factors(n, r, sink_dt)
            grid = np.ascontiguousarray(kernels.thomas_solve(*factors, grid).T)
            sink_dt = sink_dt.T
        lod = np.ascontiguousarray(grid).ravel()
        worst = max(worst, float(np.mean(np.abs(lod - exact)) / np.mean(np.abs(exact))))
    return {"lod_error": worst, "exact_ms": 1e3 * exact_s}


def run_lod_table(
    solver_rows: Sequence[dict], echo: Callable[[str], None] = print
) -> list[dict[str, object]]:
    """For every 2d row of the solver table, the LOD step on the same grid and the ratio."""
    from fields.parameters import SPECIES_NAMES

    rows_2d = [r for r in solver_rows if str(r["case"]).startswith("2d")]
    if not rows_2d:
        return []
    fields = len(SPECIES_NAMES) + 1  # oxygen and every factor
    echo("")
    echo(
        f"Compiled limit: an LOD diffusion-decay step (BioFVM's scheme, numba Thomas sweeps), "
        f"{fields} fields"
    )
    echo("")
    echo(
        "| LOD grid | LOD ms/step | fields whole-model ms/step (2d row) | fields / LOD | "
        "LOD error at dt = 1 d | exact factor solves ms | fields / exact solves | target |"
    )
    echo("|---|---:|---:|---:|---:|---:|---:|---|")
    out = []
    for row in rows_2d:
        n = round(math.sqrt(int(row["cells"])))
        lod = in_child(lod_step_ms, n, fields)["ms"]
        accuracy = in_child(lod_accuracy, 10.0 * n)
        ratio = float(row["fields_ms_per_step"]) / lod
        exact = float(row["fields_ms_per_step"]) / accuracy["exact_ms"]
        out.append({"case": row["case"], "lod_ms": lod, "ratio": ratio, **accuracy})
        echo(
            f"| LOD {n}x{n} | {lod:.3f} | {float(row['fields_ms_per_step']):.2f} | "
            f"{ratio:.1f}x | {100 * accuracy['lod_error']:.0f} % | {accuracy['exact_ms']:.2f} | "
            f"{exact:.1f}x | <= 0.5 ms and <= 4x (100x100) |"
        )
    return out
