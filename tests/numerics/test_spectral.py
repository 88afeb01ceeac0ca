"""The cosine-basis diffusion step (fields.numerics.spectral) against the LU path and theory."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fields
from fields.numerics.geometry import make_patch
from fields.numerics.operator import DiffusionReactionOperator
from fields.numerics.spectral import CosineCG, CosineDiffusion


def _patch(kind: str):
    p = fields.Parameters().with_updates(
        {"geometry.domain_um": 200.0, "geometry.domain_3d_um": 100.0}
    )
    return make_patch(kind, p.sites["lung"], p.geometry, 0)


@pytest.mark.parametrize("kind", ["2d", "3d"])
@pytest.mark.parametrize("dt", [0.25, 3.7, 30.0])
def test_step_equals_the_sparse_solve_of_the_same_system(kind, dt):
    patch = _patch(kind)
    d = 100.0  # um^2/day, the default motility
    u = np.random.default_rng(1).uniform(0.0, 1.0, patch.n_cells)
    reference = DiffusionReactionOperator(patch.mesh, d, None, "fast").solve(
        0.0, 0.0, dt=dt, previous=u
    )
    spacing = float(np.diff(patch.coords[patch.dims[-1]][:2])[0])
    spectral = CosineDiffusion(patch.shape, spacing, d).step(u, dt)
    assert np.max(np.abs(spectral - reference)) <= 1e-12 * np.max(np.abs(reference))


def test_a_cosine_mode_decays_by_its_backward_euler_factor():
    n, h, d, dt = 32, 10.0, 100.0, 5.0
    x = (np.arange(n) + 0.5) * h
    mode = np.cos(np.pi * 3 * x / (n * h))[:, None] * np.cos(np.pi * 2 * x / (n * h))[None, :]
    lam = (2 - 2 * np.cos(np.pi * 3 / n)) / h**2 + (2 - 2 * np.cos(np.pi * 2 / n)) / h**2
    out = CosineDiffusion((n, n), h, d).step(mode.ravel(), dt).reshape(n, n)
    np.testing.assert_allclose(out, mode / (1.0 + dt * d * lam), rtol=0, atol=1e-13)


@settings(max_examples=30, deadline=None)
@given(dt=st.floats(1e-3, 100.0), seed=st.integers(0, 2**31 - 1))
def test_cells_are_conserved_and_stay_positive(dt, seed):
    u = np.random.default_rng(seed).uniform(0.0, 1.0, (12, 9)).ravel()
    out = CosineDiffusion((12, 9), 10.0, 100.0).step(u, dt)
    assert abs(out.sum() - u.sum()) <= 1e-12 * u.sum()
    assert out.min() >= -1e-12  # (I + dt D L)^-1 is a positive operator


@pytest.mark.parametrize("kind", ["2d", "3d"])
@pytest.mark.parametrize("steady", [True, False])
def test_cosine_cg_equals_the_sparse_lu_solve(kind, steady):
    """The cosine-preconditioned CG solves the same system as the sparse LU, with a sink that
    varies over the patch (vessel exchange), to its tolerance, in a handful of iterations."""
    patch = _patch(kind)
    rng = np.random.default_rng(4)
    sink = 1e-3 * (1.0 + 6.0 * rng.random(patch.n_cells))  # 1/s, spread as the 3d lung's
    source = rng.uniform(0.0, 1.0, patch.n_cells)
    dt = None if steady else 600.0
    lu = DiffusionReactionOperator(patch.mesh, 104.0, None, "fast", linear="lu")
    cg = DiffusionReactionOperator(patch.mesh, 104.0, None, "fast", linear="cosine")
    previous = rng.uniform(0.0, 1.0, patch.n_cells)
    a = lu.solve(sink, source, dt=dt, previous=previous)
    b = cg.solve(sink, source, dt=dt, previous=previous)
    assert np.max(np.abs(a - b)) <= 1e-10 * np.max(np.abs(a))
    solver = next(iter(cg._cache.values()))
    assert isinstance(solver, CosineCG) and 0 < solver.iterations <= 12


def test_cosine_cg_falls_back_when_it_does_not_converge(monkeypatch):
    patch = _patch("3d")
    rng = np.random.default_rng(5)
    sink = 1e-3 * (1.0 + rng.random(patch.n_cells))
    source = rng.uniform(0.0, 1.0, patch.n_cells)
    amg = DiffusionReactionOperator(patch.mesh, 104.0, None, "fast", linear="amg")
    reference = amg.solve(sink, source)
    monkeypatch.setattr(CosineCG, "max_iterations", 1)
    cg = DiffusionReactionOperator(patch.mesh, 104.0, None, "fast", linear="cosine")
    assert np.max(np.abs(cg.solve(sink, source) - reference)) <= 1e-10 * np.max(reference)
    solver = next(iter(cg._cache.values()))
    solver.fallback = None
    with pytest.raises(fields.NumericalError, match="did not reach"):
        solver.solve(source)
