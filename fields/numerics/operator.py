"""Linear diffusion-reaction solves with reused factorisations (the fast path) and the plain
FiPy reference path.

The fast path builds A and b from the :class:`~fields.numerics.fipy_system.SystemProbe` pieces
with numpy and reuses a factorisation (LDL^T on symmetric matrices, SciPy's LU otherwise; a
cosine-preconditioned CG or an AMG hierarchy on 3D meshes) until the sink
k or the step dt changes; a new k only rebuilds the diagonal, never re-assembles.
``solver="fipy"`` solves each system with FiPy's own ``eq.solve`` and is the reference the fast
path is tested against. Units follow the caller (um, s, pg/mL or mmHg).
"""

from __future__ import annotations

from collections import OrderedDict

import fipy as fp
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as sla

from fields.core.errors import NumericalError
from fields.numerics.fipy_system import FiPySystem, SystemProbe
from fields.numerics.spectral import CosineCG

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
        probe: SystemProbe | None = None,
        linear: str = "auto",
        share_with: DiffusionReactionOperator | None = None,
    ) -> None:
        """``share_with``: an operator on the same mesh, wall and diffusivity whose
        factorisations this one reuses (runs of a batch; each keeps its own responses)."""
        self.mesh = mesh
        self.solver = solver
        #: "lu" (SciPy sparse LU, exact), "cosine" (CG preconditioned in the cosine basis, for
        #: uniform 3D grids) or "amg" (CG preconditioned by algebraic multigrid, other 3D
        #: meshes); LU fill-in on 3D meshes grows past memory (50^3 cells needed > 17 GB).
        self.shape = _grid_shape(mesh)
        if linear == "auto":
            linear = "lu" if mesh.dim < 3 else ("cosine" if self.shape else "amg")
        self.linear = linear
        self.diffusivity = float(diffusivity)
        self.n = int(mesh.numberOfCells)
        self._cache = _Factorisations(cache_size)
        self._responses: dict[str, tuple[tuple[int, int], np.ndarray]] = {}
        self._known: OrderedDict[tuple, tuple[np.ndarray, int]] = OrderedDict()
        self._symmetric: dict[bool, bool] = {}  # by form (steady: True), for the direct solver
        if share_with is not None:
            if (share_with.mesh is not mesh) or share_with.diffusivity != self.diffusivity:
                raise ValueError("share_with needs the same mesh and diffusivity")
            self._cache = share_with._cache
            self._cache.size += cache_size
            self._symmetric = share_with._symmetric
        self.factorisations = 0
        self.response_solves = 0
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
        lu = self._factor(sink_arr, dt, self._content_key(sink))
        pieces = self.probe.pieces("steady" if dt is None else "transient")
        b = pieces["b_source"] * source
        if wall_value != 0.0:
            b = b + pieces["b_wall"] * (self.diffusivity * wall_value)
        if dt is not None:
            b = b + pieces["b_old"] * (np.asarray(previous, dtype=float) / dt)
        return lu.solve(b)

    def superpose(
        self, sink: np.ndarray | float, terms: list[tuple[float, str, np.ndarray | float]]
    ) -> np.ndarray:
        """Quasi-steady u = A^-1 sum_i c_i B f_i for ``terms`` (c_i, tag, f_i), computed as
        sum_i c_i (A^-1 B f_i). The response to a tagged field is kept while the sink and that
        field are unchanged, so an unchanged field costs an axpy instead of a solve; the same
        linear system, so the sum equals the full solve to round-off (fast path only)."""
        sink_key = self._content_key(sink)
        sink_arr = np.broadcast_to(np.asarray(sink, dtype=float), (self.n,))
        total = np.zeros(self.n)
        for coefficient, tag, values in terms:
            if coefficient == 0.0:
                continue
            key = (sink_key, self._content_key(values))
            kept = self._responses.get(tag)
            if kept is None or kept[0] != key:
                response = self._cache.responses.get((tag, key))
                if response is None:  # no run sharing these factorisations has it either
                    b = self.probe.pieces("steady")["b_source"] * values
                    response = self._factor(sink_arr, None, sink_key).solve(b)
                    self._cache.remember((tag, key), response)
                    self.response_solves += 1
                kept = (key, response)
                self._responses[tag] = kept
            total += coefficient * kept[1]
        return total

    def _content_key(self, values: np.ndarray | float) -> int:
        """A hash of the values. Values in read-only memory that no array can write (the
        host's kept sinks, wall exchange and hypoxia, or a run's row of them) cannot change, so
        their hash is kept, by place, with the memory's owner (held, so no other array takes
        its place) instead of hashing 80 kB every step."""
        arr = np.asarray(values, dtype=float)
        owner = arr
        while isinstance(owner.base, np.ndarray):
            owner = owner.base
        place = None
        if owner.base is None and not owner.flags.writeable and arr.ndim:
            place = (id(owner), arr.__array_interface__["data"][0], arr.shape, arr.strides)
            known = self._known.get(place)
            if known is not None:
                return known[1]
        key = hash(arr.tobytes())
        if place is not None:
            self._known[place] = (owner, key)
            if len(self._known) > 64:
                self._known.popitem(last=False)
        return key

    def _factor(self, sink: np.ndarray, dt: float | None, sink_key: int) -> object:
        """A reusable solve of the system with this sink (``sink_key``: its content key)."""
        key = (sink_key, dt)
        lu = self._cache.get(key)
        if lu is not None:
            self._cache.move_to_end(key)
            return lu
        pieces = self.probe.pieces("steady" if dt is None else "transient")
        diag = pieces["d_reaction"] * sink
        if dt is not None:
            diag = diag + pieces["d_time"] / dt
        matrix = self.diffusivity * pieces["a_diffusion"] + sp.diags(diag, format="csr")
        if self.linear == "cosine":
            lu = CosineCG(matrix, self.shape, fallback=MultigridSolve)
        elif self.linear == "amg":
            lu = MultigridSolve(matrix)
        else:
            symmetric = self._symmetric.get(dt is None)
            if symmetric is None:  # the diagonal terms never break symmetry: ask once per form
                symmetric = self.n >= LDL_MIN_CELLS and is_symmetric(pieces["a_diffusion"])
                self._symmetric[dt is None] = symmetric
            lu = direct_solver(matrix, symmetric)
        self.factorisations += 1
        self._cache[key] = lu
        if len(self._cache) > self._cache.size:
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


class _Factorisations(OrderedDict):
    """Reusable solves by (sink hash, dt), least recently used first; ``size`` kept at most.
    ``responses``: the latest linear responses by (tag, key), which the runs of a batch that
    share these factorisations also share (runs on one patch with the same vessels)."""

    #: responses kept (a few per tag: runs of a batch visit them in turn every step)
    kept_responses = 16

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size
        self.responses: OrderedDict[tuple, np.ndarray] = OrderedDict()

    def remember(self, key: tuple, response: np.ndarray) -> None:
        self.responses[key] = response
        if len(self.responses) > self.kept_responses:
            self.responses.popitem(last=False)


class LDLSolve:
    """x with A x = b for a symmetric quasi-definite A: an LDL^T factorisation with AMD ordering
    (qdldl, the OSQP project's factorisation), which keeps one triangular factor where an LU
    keeps two. The default 5-site 2d scenario, whose solves are mostly the niche responses, took
    9.5-9.7 s against 12.2-12.7 s with SuperLU (two runs each)."""

    def __init__(self, matrix: sp.spmatrix) -> None:
        import qdldl

        self._solver = qdldl.Solver(sp.triu(matrix, format="csc"))

    def solve(self, b: np.ndarray) -> np.ndarray:
        return self._solver.solve(np.ascontiguousarray(b, dtype=float))


#: below this many cells SuperLU's LU is as fast and the LDL^T setup does not pay (a Krogh mesh
#: has 40 cells)
LDL_MIN_CELLS = 1000


def is_symmetric(matrix: sp.spmatrix) -> bool:
    """Whether A equals its transpose to 1e-13 of its largest entry."""
    csc = sp.csc_matrix(matrix)
    gap = abs(csc - csc.T)
    return bool(gap.nnz == 0 or gap.max() <= 1e-13 * abs(csc).max())


def direct_solver(matrix: sp.spmatrix, symmetric: bool) -> object:
    """A reusable direct solve: :class:`LDLSolve` for a symmetric matrix (uniform grids), else
    SuperLU with minimum degree on A^T + A (the matrices are structurally symmetric)."""
    if symmetric:
        return LDLSolve(matrix)
    csc = sp.csc_matrix(matrix)
    return sla.splu(csc, permc_spec="MMD_AT_PLUS_A", options={"SymmetricMode": True})


def fipy_reference_solver(linear: str) -> object:
    """FiPy's default solver (sparse LU), or on 3D meshes FiPy's CG with its PyAMG preconditioner,
    both to a relative residual of 1e-12.

    FiPy's default tolerance is 1e-5 of the right-hand side, and a solve that starts from a guess
    already that close returns the guess unchanged: a transient step that starts from the
    previous value is then wrong by up to ~5e-5 (measured on the Krogh TGF-beta field).
    """
    if linear == "lu":
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
    refinements = 4
    seed = 0
    #: a residual within this factor of the tolerance is accepted (round-off near 1e-12)
    accept = 1e3

    def __init__(self, matrix: sp.csr_matrix) -> None:
        import pyamg

        # FiPy's matrix is negative definite here (diagonal < 0); CG needs positive definite.
        self.sign = -1.0 if matrix.diagonal().mean() < 0.0 else 1.0
        self.matrix = (self.sign * matrix).tocsr()
        # pyamg estimates spectral radii from random vectors drawn from NumPy's global generator:
        # draw them from a fixed seed, so the hierarchy (and every result) is the same in every
        # process, whatever ran before (a poor draw once made CG diverge on a 6^3 mesh)
        state = np.random.get_state()  # noqa: NPY002 (pyamg draws from the legacy generator)
        np.random.seed(self.seed)  # noqa: NPY002
        try:
            self.hierarchy = pyamg.smoothed_aggregation_solver(self.matrix, symmetry="symmetric")
        finally:
            np.random.set_state(state)  # noqa: NPY002
        # pyamg keeps the coarse operators and transfers in BSR with 1x1 blocks; its
        # Gauss-Seidel and products run 2-3x faster on the same matrices in CSR (measured: a
        # 50^3 solve 0.50 -> 0.18 s, same iterations)
        for level in self.hierarchy.levels:
            for name in ("A", "P", "R"):
                matrix = getattr(level, name, None)
                if matrix is not None and sp.issparse(matrix) and matrix.format == "bsr":
                    setattr(level, name, matrix.tocsr())

    def solve(self, b: np.ndarray) -> np.ndarray:
        """x with A x = b. The system is solved for b / norm(b) and scaled back, so a right-hand
        side of any magnitude (a factor cleared after resection reaches 1e-300) converges alike."""
        norm_b = float(np.linalg.norm(b))
        if norm_b == 0.0 or not np.isfinite(norm_b):
            return np.zeros_like(b) if norm_b == 0.0 else np.full_like(b, np.nan)
        rhs = (self.sign / norm_b) * b
        x = np.zeros_like(rhs)
        residual = rhs
        for _ in range(self.refinements):  # CG may stagnate: restart on the residual
            size = float(np.linalg.norm(residual))
            if size <= self.accept * self.tolerance:
                break
            trial = x + size * self.hierarchy.solve(
                residual / size, tol=self.tolerance, accel="cg", maxiter=self.max_iterations
            )
            left = rhs - self.matrix @ trial
            if not float(np.linalg.norm(left)) < size:
                # CG past its stagnation point can diverge (seen on a 6^3 mesh): plain V-cycles
                # converge monotonically for this symmetric positive definite system
                trial = x + size * self.hierarchy.solve(
                    residual / size, tol=self.tolerance, maxiter=self.max_iterations
                )
                left = rhs - self.matrix @ trial
            x, residual = trial, left
        size = float(np.linalg.norm(residual))
        if size > self.accept * self.tolerance:
            raise NumericalError(
                f"multigrid CG stopped at relative residual {size:.1e} (wanted {self.tolerance:.0e})"
            )
        return norm_b * x


def _grid_shape(mesh) -> tuple[int, ...] | None:
    """The C-order cell shape of a uniform FiPy grid (x fastest), None for other meshes."""
    if mesh.__class__.__name__ not in ("UniformGrid3D", "UniformGrid2D"):
        return None
    sizes = (mesh.nz, mesh.ny, mesh.nx) if mesh.dim == 3 else (mesh.ny, mesh.nx)
    return tuple(int(n) for n in sizes)
