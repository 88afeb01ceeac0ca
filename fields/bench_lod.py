"""The compiled limit of a 2d step in ``fields bench``: a locally one-dimensional (LOD) step.

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


def _lod_factors(n: int, d_dt_h2: float, decay_dt: float) -> tuple[np.ndarray, ...]:
    """Thomas factors of (1 + decay dt / 2) u - D dt / h^2 (second difference), zero-flux ends,
    for n rows of n cells."""
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


def run_lod_reference(
    solver_rows: Sequence[dict], in_child: Callable, echo: Callable[[str], None] = print
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
    echo("| LOD grid | LOD ms/step | fields whole-model ms/step (2d row) | fields / LOD | target |")
    echo("|---|---:|---:|---:|---|")
    out = []
    for row in rows_2d:
        n = round(math.sqrt(int(row["cells"])))
        lod = in_child(lod_step_ms, n, fields)["ms"]
        ratio = float(row["fields_ms_per_step"]) / lod
        out.append({"case": row["case"], "lod_ms": lod, "ratio": ratio})
        echo(
            f"| LOD {n}x{n} | {lod:.3f} | {float(row['fields_ms_per_step']):.2f} | "
            f"{ratio:.1f}x | <= 0.5 ms and <= 4x (100x100) |"
        )
    return out
