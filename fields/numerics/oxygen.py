"""Steady tissue oxygen with Michaelis-Menten uptake, by Newton's method (um, s, mmHg)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fields.numerics.geometry import Patch
from fields.numerics.operator import DiffusionReactionOperator
from fields.numerics.tridiagonal import BatchTridiagonal
from fields.parameters import OxygenParameters


@dataclass
class OxygenSolution:
    oxygen: np.ndarray  # mmHg
    iterations: int


def solve_oxygen(
    op: DiffusionReactionOperator,
    patch: Patch,
    p: OxygenParameters,
    vessel_po2: float,
    uptake_mmhg_per_s: float,
    initial: np.ndarray | None = None,
    tol: float = 1e-10,
    max_iter: int = 60,
) -> OxygenSolution:
    """Steady oxygen with Michaelis-Menten uptake, by Newton's method (units: um, s, mmHg).

    0 = D lap O - Vmax O/(Km + O) + chi kappa (P_v - O); on the Krogh geometry O = P_v at the
    capillary wall instead. Uptake is concave, so the Newton tangent over-estimates it and the
    iterates approach the solution from below; clipping at 0 keeps them physical.
    """
    if patch.kind == "krogh":
        exchange = np.zeros(patch.n_cells)
        wall = vessel_po2
    else:
        exchange = patch.vessel.astype(float) * p.vessel_exchange_per_s
        wall = 0.0
    vmax, km = uptake_mmhg_per_s, p.km_mmhg
    o2 = np.full(patch.n_cells, vessel_po2) if initial is None else np.array(initial, dtype=float)
    for iteration in range(1, max_iter + 1):
        slope = vmax * km / (km + o2) ** 2
        offset = vmax * o2**2 / (km + o2) ** 2
        new = op.solve(exchange + slope, exchange * vessel_po2 - offset, wall_value=wall)
        new = np.clip(new, 0.0, vessel_po2)
        change = float(np.max(np.abs(new - o2)))
        o2 = new
        if change <= tol * max(vessel_po2, 1.0):
            return OxygenSolution(o2, iteration)
    return OxygenSolution(o2, max_iter)


def solve_oxygen_krogh_batch(
    op: BatchTridiagonal,
    p: OxygenParameters,
    vessel_po2: np.ndarray,
    uptake_mmhg_per_s: np.ndarray,
    initial: np.ndarray | None = None,
    tol: float = 1e-10,
    max_iter: int = 60,
) -> np.ndarray:
    """:func:`solve_oxygen` on the Krogh cylinders of a batch (arrays (runs, 1) or (runs, n)):
    each run iterates until its own tolerance is met, then is held, as it would be alone."""
    km = p.km_mmhg
    shape = (op.runs, op.n)
    o2 = np.broadcast_to(vessel_po2 if initial is None else initial, shape).astype(float)
    active = np.ones((op.runs, 1), dtype=bool)
    for _ in range(max_iter):
        slope = uptake_mmhg_per_s * km / (km + o2) ** 2
        offset = uptake_mmhg_per_s * o2**2 / (km + o2) ** 2
        new = op.solve(slope, -offset, wall_value=vessel_po2)
        new = np.clip(new, 0.0, vessel_po2)
        change = np.max(np.abs(new - o2), axis=1, keepdims=True)
        o2 = np.where(active, new, o2)
        active &= ~(change <= tol * np.maximum(vessel_po2, 1.0))
        if not active.any():
            break
    return o2
