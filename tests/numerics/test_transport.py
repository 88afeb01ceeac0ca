"""The fast path of the field solves: default, reuse of assemblies and factorisations, 3D
solver, and whole runs against the plain-FiPy reference."""

from __future__ import annotations

import numpy as np
import pytest

import fields
from fields.engine.contract import field_names
from fields.engine.site import Site
from fields.numerics.fipy_system import SystemProbe
from fields.numerics.geometry import make_patch
from fields.numerics.operator import DiffusionReactionOperator


def test_fast_path_is_the_default():
    p = fields.Parameters()
    assert p.transport.solver == "fast"
    patch = make_patch("2d", p.sites["lung"], p.geometry.__class__(domain_um=200.0), seed=0)
    model = Site("lung", p, [patch])
    operators = [op.operators[0] for op in model.ops.values()]
    assert {op.solver for op in operators} == {"fast"}
    assert {op.linear for op in operators} == {"lu"}


@pytest.mark.parametrize("transient", [False, True])
def test_symmetric_systems_use_ldl_and_agree_with_superlu(transient):
    """The fast path's matrices on a 2d grid are symmetric: LDL^T (qdldl) solves them, and
    equals SuperLU's LU to round-off; a matrix that is not symmetric goes to SuperLU, and so do
    small meshes (a Krogh mesh's 40 cells)."""
    import scipy.sparse as sp
    import scipy.sparse.linalg as sla

    from fields.numerics.operator import LDLSolve, direct_solver, is_symmetric

    p = fields.Parameters().with_updates({"geometry.domain_um": 200.0})
    patch = make_patch("2d", p.sites["lung"], p.geometry, seed=0)
    probe = SystemProbe(patch.mesh)
    pieces = probe.pieces("transient" if transient else "steady")
    rng = np.random.default_rng(2)
    diag = pieces["d_reaction"] * rng.uniform(1e-4, 1e-2, patch.n_cells)
    if transient:
        diag = diag + pieces["d_time"] / 3600.0
    matrix = 104.0 * pieces["a_diffusion"] + sp.diags(diag)
    assert is_symmetric(pieces["a_diffusion"]) and is_symmetric(matrix)
    solver = direct_solver(matrix, symmetric=True)
    assert isinstance(solver, LDLSolve)
    b = rng.uniform(-1.0, 1.0, patch.n_cells)
    lu = sla.splu(sp.csc_matrix(matrix))
    np.testing.assert_allclose(solver.solve(b), lu.solve(b), rtol=1e-11, atol=1e-12)
    skewed = sp.csr_matrix(matrix + sp.diags(np.full(patch.n_cells - 1, 1e-3), 1))
    assert not is_symmetric(skewed)
    other = direct_solver(skewed, symmetric=False)
    assert not isinstance(other, LDLSolve)
    np.testing.assert_allclose(skewed @ other.solve(b), b, rtol=1e-10, atol=1e-10)
    big = make_patch("2d", p.sites["lung"], p.geometry.__class__(domain_um=400.0), seed=0)
    assert big.n_cells >= 1000
    grid = DiffusionReactionOperator(big.mesh, 104.0)
    grid.solve(1e-3, np.ones(big.n_cells))
    assert isinstance(next(iter(grid._cache.values())), LDLSolve)
    krogh = make_patch("krogh", p.sites["lung"], p.geometry, seed=0)
    small = DiffusionReactionOperator(krogh.mesh, 104.0)
    small.solve(1e-3, np.ones(krogh.n_cells))
    assert not isinstance(next(iter(small._cache.values())), LDLSolve)


def test_3d_grids_use_cosine_preconditioned_cg_not_lu():
    p = fields.Parameters().with_updates({"geometry.domain_3d_um": 100.0})
    patch = make_patch("3d", p.sites["lung"], p.geometry, seed=0)
    model = Site("lung", p, [patch])
    assert {op.operators[0].linear for op in model.ops.values()} == {"cosine"}


def test_new_reaction_coefficient_rebuilds_only_the_diagonal():
    """FiPy assembles once per mesh; a new sink costs one factorisation and no assembly."""
    p = fields.Parameters().with_updates({"geometry.domain_um": 200.0})
    patch = make_patch("2d", p.sites["lung"], p.geometry, seed=0)
    probe = SystemProbe(patch.mesh)
    vegf = DiffusionReactionOperator(patch.mesh, 104.0, probe=probe)
    tgfb = DiffusionReactionOperator(patch.mesh, 50.0, probe=probe)
    rng = np.random.default_rng(1)
    source = rng.uniform(0.0, 1.0, patch.n_cells)
    vegf.solve(1e-3, source)
    tgfb.solve(1e-3, source)
    assembled = probe.assemblies
    assert assembled == 3  # steady form: base, reaction+source, wall; shared by both fields
    for _ in range(3):  # same coefficients: factorisation reused
        vegf.solve(1e-3, rng.uniform(0.0, 1.0, patch.n_cells))
    assert vegf.factorisations == 1
    sink = rng.uniform(1e-4, 1e-3, patch.n_cells)
    new = vegf.solve(sink, source)
    assert vegf.factorisations == 2
    assert probe.assemblies == assembled
    ref = DiffusionReactionOperator(patch.mesh, 104.0, solver="fipy").solve(sink, source)
    assert np.max(np.abs(new - ref)) <= 1e-8 * np.max(np.abs(ref))


@pytest.mark.parametrize(
    ("geometry", "mode"),
    [("2d", "quasi_steady"), ("2d", "transient"), ("krogh", "transient"), ("3d", "quasi_steady")],
)
def test_simulation_fast_and_fipy_solvers_agree(geometry, mode):
    """Whole runs with the fast path and with plain FiPy solves agree to 1e-8 relative."""
    base = fields.Parameters().with_updates(
        {"geometry.domain_um": 200.0, "geometry.domain_3d_um": 100.0, "transport.mode": mode}
    )
    trees = [
        fields.simulate(
            base.with_updates({"transport.solver": solver}),
            sites=["bone_marrow"],
            days=60,
            geometry=geometry,
            output_every_days=30,
        )
        for solver in ("fast", "fipy")
    ]
    for name in field_names(fields.SPECIES_NAMES):
        a = trees[0]["bone_marrow"][name].values
        b = trees[1]["bone_marrow"][name].values
        assert np.max(np.abs(a - b)) <= 1e-8 * max(np.max(np.abs(b)), 1e-300), name
