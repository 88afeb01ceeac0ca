"""FiPy equations for oxygen, VEGF and TGF-beta, and the reusable linear-solve fast path.

Every diffusing field here solves, on a patch mesh,

    [u - u_old] / dt = div(D grad u) - k(x) u + s(x)        (transient)
                   0 = div(D grad u) - k(x) u + s(x)        (quasi-steady)

optionally with u fixed on some faces (the Krogh capillary wall). FiPy assembles the system.
Because it is linear in k, s, u_old, 1/dt and the wall value, the fast path probes FiPy once for
the pieces (diffusion matrix, wall vector, unit-source vector, reaction and transient diagonals;
one probe per mesh at unit diffusivity serves every field), then builds A and b with numpy and
reuses a SciPy LU factorisation until k or dt changes; a new k only rebuilds the diagonal, never
re-assembles. ``solver="fipy"`` solves each system with FiPy's
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

from fields.errors import NumericalError
from fields.geometry import Patch
from fields.parameters import OxygenParameters, SpeciesParameters

SECONDS_PER_DAY = 86400.0


class FiPySystem:
    """The FiPy form of one field: u (with an optional fixed wall value), sink k, source s,
    steady ``0 = div(D grad u) - k u + s`` and transient ``du/dt = ...`` equations."""

    def __init__(
        self, mesh: fp.meshes.mesh.Mesh, diffusivity: float, wall_faces: object | None
    ) -> None:
        self.var = fp.CellVariable(mesh=mesh, value=0.0, hasOld=True)
        self.wall = fp.Variable(value=0.0)
        if wall_faces is not None:
            self.var.constrain(self.wall, where=wall_faces)
        self.sink = fp.CellVariable(mesh=mesh, value=0.0)
        self.source = fp.CellVariable(mesh=mesh, value=0.0)
        rhs = (
            fp.DiffusionTerm(coeff=diffusivity)
            - fp.ImplicitSourceTerm(coeff=self.sink)
            + self.source
        )
        self.equations = {"steady": 0 == rhs, "transient": fp.TransientTerm() == rhs}


class SystemProbe:
    """The linear pieces of FiPy's system on one mesh (and wall), read at unit diffusivity.

    FiPy may scale or negate the whole system depending on the terms present, so each form
    (steady, transient) is probed on its own:
    A(D, k, dt) = D A_d + diag(d_k k + d_t / dt),  b = D b_w w + b_s s + b_o u_old / dt.
    The diffusion pieces are linear in D, so one probe serves every field on the mesh; each form
    is probed on first use (3 assemblies steady, 5 transient).
    """

    def __init__(self, mesh: fp.meshes.mesh.Mesh, wall_faces: object | None = None) -> None:
        self.mesh = mesh
        self.n = int(mesh.numberOfCells)
        self._sys = FiPySystem(mesh, 1.0, wall_faces)
        self._pieces: dict[str, dict[str, object]] = {}
        self.assemblies = 0

    def _assemble(self, form: str, dt: float | None = None) -> tuple[sp.csr_matrix, np.ndarray]:
        eq = self._sys.equations[form]
        eq.cacheMatrix()
        eq.cacheRHSvector()
        eq.justResidualVector(var=self._sys.var, dt=dt)
        self.assemblies += 1
        return eq.matrix.matrix.tocsr().copy(), np.array(eq.RHSvector, dtype=float)

    def _set(self, k: float = 0.0, s: float = 0.0, wall: float = 0.0, old: float = 0.0) -> None:
        self._sys.sink.setValue(k)
        self._sys.source.setValue(s)
        self._sys.wall.setValue(wall)
        self._sys.var.setValue(old)
        self._sys.var.updateOld()

    def pieces(self, form: str) -> dict[str, object]:
        if form not in self._pieces:
            self._pieces[form] = self._probe(form)
        return self._pieces[form]

    def _probe(self, form: str) -> dict[str, object]:
        dt1 = 1.0 if form == "transient" else None
        self._set()
        a_1, b_0 = self._assemble(form, dt1)
        if form == "transient":
            a_2, _ = self._assemble(form, 2.0)
            d_time = 2.0 * (a_1 - a_2).diagonal()
            a_d = (a_1 - sp.diags(d_time)).tocsr()
        else:
            d_time = np.zeros(self.n)
            a_d = a_1
        self._set(k=1.0, s=1.0)  # k only enters the matrix, s only the right-hand side
        a_k, b_s = self._assemble(form, dt1)
        self._set(wall=1.0)
        _, b_w = self._assemble(form, dt1)
        pieces = {
            "a_diffusion": a_d,
            "d_reaction": (a_k - a_1).diagonal(),
            "d_time": d_time,
            "b_wall": b_w - b_0,
            "b_source": b_s - b_0,
        }
        if form == "transient":
            self._set(old=1.0)
            _, b_o = self._assemble(form, dt1)
            pieces["b_old"] = b_o - b_0
        self._set()
        return pieces


class DiffusionReactionOperator:
    """Linear diffusion-reaction solves on one mesh with one diffusivity."""

    def __init__(
        self,
        mesh: fp.meshes.mesh.Mesh,
        diffusivity: float,
        wall_faces: object | None = None,
        solver: str = "fast",
        cache_size: int = 6,
        probe: SystemProbe | None = None,
        linear: str = "auto",
    ) -> None:
        self.mesh = mesh
        self.solver = solver
        #: "lu" (SciPy sparse LU, exact) or "amg" (CG preconditioned by algebraic multigrid, for
        #: 3D meshes where LU fill-in grows past memory: 50^3 cells needed > 17 GB).
        self.linear = linear if linear != "auto" else ("amg" if mesh.dim == 3 else "lu")
        self.diffusivity = float(diffusivity)
        self.n = int(mesh.numberOfCells)
        self._cache: OrderedDict[tuple, object] = OrderedDict()
        self._cache_size = cache_size
        self.factorisations = 0
        if solver == "fast":
            self.probe = probe if probe is not None else SystemProbe(mesh, wall_faces)
            return
        self._system = FiPySystem(mesh, diffusivity, wall_faces)
        self._fipy_solver = fipy_reference_solver(self.linear)

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
        pieces = self.probe.pieces("steady" if dt is None else "transient")
        b = pieces["b_source"] * source
        if wall_value != 0.0:
            b = b + pieces["b_wall"] * (self.diffusivity * wall_value)
        if dt is not None:
            b = b + pieces["b_old"] * (np.asarray(previous, dtype=float) / dt)
        return lu.solve(b)

    def _factor(self, sink: np.ndarray, dt: float | None) -> object:
        key = (hash(sink.tobytes()), dt)
        lu = self._cache.get(key)
        if lu is not None:
            self._cache.move_to_end(key)
            return lu
        pieces = self.probe.pieces("steady" if dt is None else "transient")
        diag = pieces["d_reaction"] * sink
        if dt is not None:
            diag = diag + pieces["d_time"] / dt
        matrix = self.diffusivity * pieces["a_diffusion"] + sp.diags(diag, format="csr")
        if self.linear == "amg":
            lu = MultigridSolve(matrix)
        else:  # the matrix is structurally symmetric: minimum degree on A^T + A halves fill-in
            lu = sla.splu(
                matrix.tocsc(), permc_spec="MMD_AT_PLUS_A", options={"SymmetricMode": True}
            )
        self.factorisations += 1
        self._cache[key] = lu
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return lu

    def _solve_fipy(self, sink, source, wall_value, dt, previous) -> np.ndarray:
        system = self._system
        system.sink.setValue(np.asarray(sink, dtype=float))
        system.source.setValue(np.asarray(source, dtype=float))
        system.wall.setValue(wall_value)
        if dt is None:
            system.var.setValue(0.0)
            system.equations["steady"].solve(var=system.var, solver=self._fipy_solver)
        else:
            system.var.setValue(np.asarray(previous, dtype=float))
            system.var.updateOld()
            system.equations["transient"].solve(var=system.var, dt=dt, solver=self._fipy_solver)
        return np.array(system.var.value, dtype=float)


def fipy_reference_solver(linear: str) -> object:
    """FiPy's default solver (sparse LU), or on 3D meshes FiPy's CG with its PyAMG preconditioner,
    both to a relative residual of 1e-12.

    FiPy's default tolerance is 1e-5 of the right-hand side, and a solve that starts from a guess
    already that close returns the guess unchanged: a transient step that starts from the
    previous value is then wrong by up to ~5e-5 (measured on the Krogh TGF-beta field).
    """
    if linear != "amg":
        return fp.DefaultSolver(tolerance=MultigridSolve.tolerance, criterion="RHS")
    from fipy.solvers.pyAMG.preconditioners import SmoothedAggregationPreconditioner

    return fp.LinearCGSolver(
        tolerance=MultigridSolve.tolerance,
        criterion="RHS",
        iterations=MultigridSolve.max_iterations,
        precon=SmoothedAggregationPreconditioner(),
    )


class MultigridSolve:
    """Reusable solve for a symmetric system: a smoothed-aggregation AMG hierarchy (built once)
    accelerating CG to a relative residual of 1e-12. Always starts from zero, so a solve depends
    only on (A, b), as a factorisation would (determinism, restarts)."""

    tolerance = 1e-12
    max_iterations = 500

    def __init__(self, matrix: sp.csr_matrix) -> None:
        import pyamg

        # FiPy's matrix is negative definite here (diagonal < 0); CG needs positive definite.
        self.sign = -1.0 if matrix.diagonal().mean() < 0.0 else 1.0
        self.hierarchy = pyamg.smoothed_aggregation_solver(
            (self.sign * matrix).tocsr(), symmetry="symmetric"
        )

    def solve(self, b: np.ndarray) -> np.ndarray:
        residuals: list[float] = []
        x = self.hierarchy.solve(
            self.sign * b,
            tol=self.tolerance,
            accel="cg",
            maxiter=self.max_iterations,
            residuals=residuals,
        )
        norm_b = float(np.linalg.norm(b))
        if norm_b > 0.0 and residuals[-1] > 1e3 * self.tolerance * norm_b:
            raise NumericalError(
                f"multigrid CG stopped at relative residual {residuals[-1] / norm_b:.1e} "
                f"after {len(residuals) - 1} iterations (wanted {self.tolerance:.0e})"
            )
        return x


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
