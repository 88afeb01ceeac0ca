"""FiPy equations for oxygen, VEGF and TGF-beta, and the reusable linear-solve fast path.

Every diffusing field here solves, on a patch mesh,

    [u - u_old] / dt = div(D grad u) - k(x) u + s(x)        (transient)
                   0 = div(D grad u) - k(x) u + s(x)        (quasi-steady)

optionally with u fixed on some faces (the Krogh capillary wall). FiPy assembles the system.
Because it is linear in k, s, u_old, 1/dt and the wall value, the fast path probes FiPy once for
the pieces (diffusion matrix, wall vector, unit-source vector, reaction and transient diagonals),
then builds A and b with numpy and reuses a SciPy LU factorisation until k or dt changes; a new k
only rebuilds the diagonal, never re-assembles. ``solver="fipy"`` solves each system with FiPy's
own ``eq.solve`` and is the reference the fast path is tested against.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import fipy as fp
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as sla

from fields.geometry import Patch
from fields.parameters import OxygenParameters, SpeciesParameters

SECONDS_PER_DAY = 86400.0


class DiffusionReactionOperator:
    """Linear diffusion-reaction solves on one mesh with one diffusivity."""

    def __init__(
        self,
        mesh: fp.meshes.mesh.Mesh,
        diffusivity: float,
        wall_faces: object | None = None,
        solver: str = "fast",
        cache_size: int = 6,
    ) -> None:
        self.mesh = mesh
        self.solver = solver
        self.n = int(mesh.numberOfCells)
        self._var = fp.CellVariable(mesh=mesh, value=0.0, hasOld=True)
        self._wall = fp.Variable(value=0.0)
        if wall_faces is not None:
            self._var.constrain(self._wall, where=wall_faces)
        self._k = fp.CellVariable(mesh=mesh, value=0.0)
        self._s = fp.CellVariable(mesh=mesh, value=0.0)
        rhs = fp.DiffusionTerm(coeff=diffusivity) - fp.ImplicitSourceTerm(coeff=self._k) + self._s
        self._steady = 0 == rhs
        self._transient = fp.TransientTerm() == rhs
        self._cache: OrderedDict[tuple, object] = OrderedDict()
        self._cache_size = cache_size
        self.factorisations = 0
        if solver == "fast":
            self._probe()

    # --------------------------------------------------------------------- FiPy assembly
    def _assemble(self, eq: object, dt: float | None = None) -> tuple[sp.csr_matrix, np.ndarray]:
        eq.cacheMatrix()
        eq.cacheRHSvector()
        eq.justResidualVector(var=self._var, dt=dt)
        matrix = eq.matrix.matrix.tocsr().copy()
        return matrix, np.array(eq.RHSvector, dtype=float)

    def _set(self, k: float = 0.0, s: float = 0.0, wall: float = 0.0, old: float = 0.0) -> None:
        self._k.setValue(k)
        self._s.setValue(s)
        self._wall.setValue(wall)
        self._var.setValue(old)
        self._var.updateOld()

    def _probe(self) -> None:
        """Read the linear pieces of the FiPy system, steady and transient (once per operator).

        FiPy may scale or negate the whole system depending on the terms present, so each form
        is probed on its own: A(k, dt) = A_d + diag(d_k k + d_t / dt), b = b_w w + b_s s + b_o u/dt.
        """
        self.pieces = {}
        for form, eq in (("steady", self._steady), ("transient", self._transient)):
            dt1 = 1.0 if form == "transient" else None
            self._set()
            a_1, b0 = self._assemble(eq, dt1)
            if form == "transient":
                a_2, _ = self._assemble(eq, 2.0)
                d_time = 2.0 * (a_1 - a_2).diagonal()
                a_d = (a_1 - sp.diags(d_time)).tocsr()
            else:
                d_time = np.zeros(self.n)
                a_d = a_1
            self._set(wall=1.0)
            _, b_wall = self._assemble(eq, dt1)
            self._set(s=1.0)
            _, b_src = self._assemble(eq, dt1)
            self._set(k=1.0)
            a_k, _ = self._assemble(eq, dt1)
            self._set(old=1.0)
            _, b_old = self._assemble(eq, dt1)
            self._set()
            self.pieces[form] = {
                "a_diffusion": a_d,
                "d_reaction": (a_k - a_1).diagonal(),
                "d_time": d_time,
                "b_wall": b_wall - b0,
                "b_source": b_src - b0,
                "b_old": b_old - b0,
            }

    # --------------------------------------------------------------------------- solving
    def solve(
        self,
        sink: np.ndarray | float,
        source: np.ndarray | float,
        *,
        wall_value: float = 0.0,
        dt: float | None = None,
        previous: np.ndarray | float = 0.0,
    ) -> np.ndarray:
        """Solve for u. ``dt`` None means quasi-steady; units follow the caller's D, k, s, dt."""
        if self.solver == "fipy":
            return self._solve_fipy(sink, source, wall_value, dt, previous)
        sink_arr = np.broadcast_to(np.asarray(sink, dtype=float), (self.n,))
        lu = self._factor(sink_arr, dt)
        pieces = self.pieces["steady" if dt is None else "transient"]
        b = pieces["b_source"] * source + pieces["b_wall"] * wall_value
        if dt is not None:
            b = b + pieces["b_old"] * (np.asarray(previous, dtype=float) / dt)
        return lu.solve(b)

    def _factor(self, sink: np.ndarray, dt: float | None) -> object:
        key = (hash(sink.tobytes()), dt)
        lu = self._cache.get(key)
        if lu is not None:
            self._cache.move_to_end(key)
            return lu
        pieces = self.pieces["steady" if dt is None else "transient"]
        diag = pieces["d_reaction"] * sink
        if dt is not None:
            diag = diag + pieces["d_time"] / dt
        matrix = (pieces["a_diffusion"] + sp.diags(diag, format="csr")).tocsc()
        lu = sla.splu(matrix)
        self.factorisations += 1
        self._cache[key] = lu
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return lu

    def _solve_fipy(self, sink, source, wall_value, dt, previous) -> np.ndarray:
        self._k.setValue(np.asarray(sink, dtype=float))
        self._s.setValue(np.asarray(source, dtype=float))
        self._wall.setValue(wall_value)
        if dt is None:
            self._var.setValue(0.0)
            self._steady.solve(var=self._var)
        else:
            self._var.setValue(np.asarray(previous, dtype=float))
            self._var.updateOld()
            self._transient.solve(var=self._var, dt=dt)
        return np.array(self._var.value, dtype=float)


# ------------------------------------------------------------------------------ oxygen
def hypoxia(oxygen: np.ndarray, p: OxygenParameters) -> np.ndarray:
    """H(O) = 1 / (1 + (O/O_h)^m) in [0, 1]."""
    ratio = np.maximum(oxygen, 0.0) / p.hypoxia_threshold_mmhg
    return 1.0 / (1.0 + ratio**p.hypoxia_hill)


@dataclass
class OxygenSolution:
    oxygen: np.ndarray  # mmHg
    iterations: int


def solve_oxygen(
    op: DiffusionReactionOperator,
    patch: Patch,
    p: OxygenParameters,
    vessel_po2: float,
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
    vmax, km = p.max_uptake_mmhg_per_s, p.km_mmhg
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


# ------------------------------------------------------------------------- VEGF, TGF-beta
def species_sink_per_s(
    patch: Patch, s: SpeciesParameters, permeability_factor: float
) -> np.ndarray:
    """k(x) = tissue decay + wall exchange (1/s)."""
    exchange = patch.exchange_area_per_volume * s.permeability_um_per_s * permeability_factor
    return s.tissue_decay_per_s + exchange


def species_source_per_s(
    patch: Patch,
    s: SpeciesParameters,
    permeability_factor: float,
    plasma: float,
    hypoxia_field: np.ndarray,
    niche: np.ndarray,
    resident: float,
    active_fraction: float,
) -> np.ndarray:
    """s(x) = wall influx from plasma + hypoxic, niche and resident secretion (pg/mL/s)."""
    exchange = patch.exchange_area_per_volume * s.permeability_um_per_s * permeability_factor
    local = (
        s.hypoxic_secretion_pg_per_ml_per_s * hypoxia_field
        + s.niche_secretion_pg_per_ml_per_s * niche
        + resident
    )
    return exchange * plasma + active_fraction * local


def equilibration_time_s(s: SpeciesParameters) -> float:
    """1/k: how long a factor field takes to settle (s)."""
    return 1.0 / s.tissue_decay_per_s if s.tissue_decay_per_s > 0 else math.inf
