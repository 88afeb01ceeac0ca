"""The LOD reference step of `fields bench` is a real diffusion-decay solver."""

from __future__ import annotations

import numpy as np

from fields.bench.lod import _lod_factors
from fields.numerics import kernels


def _step(u: np.ndarray, factors) -> np.ndarray:
    half = kernels.thomas_solve(*factors, np.ascontiguousarray(u))
    return np.ascontiguousarray(kernels.thomas_solve(*factors, np.ascontiguousarray(half.T)).T)


def test_uniform_field_decays_by_the_split_backward_euler_factor():
    n, d, k = 16, 3.0, 0.4
    out = _step(np.full((n, n), 2.0), _lod_factors(n, d, k))
    np.testing.assert_allclose(out, 2.0 / (1.0 + 0.5 * k) ** 2, rtol=1e-13)


def test_without_decay_cells_are_conserved_and_a_peak_spreads():
    n = 21
    u = np.zeros((n, n))
    u[10, 10] = 1.0
    out = _step(u, _lod_factors(n, 0.8, 0.0))
    assert abs(out.sum() - 1.0) < 1e-12
    assert out.max() < 1.0 and out.min() >= 0.0
    np.testing.assert_allclose(out, out.T, atol=1e-15)  # the x and y sweeps are alike


def test_lod_is_first_order_in_its_step_and_far_off_at_a_day():
    """On the model's own lung patch and fields, the LOD step approaches the exact backward-Euler
    step as its step shrinks (splitting error about proportional to the step) and misses it by
    most of the field at the model's daily step, where the reaction is stiff (sink x dt >> 1)."""
    from fields.bench.lod import lod_accuracy

    error = {dt: lod_accuracy(200.0, days=5, dt_days=dt)["lod_error"] for dt in (1.0, 1e-2, 1e-3)}
    assert error[1.0] > 0.5
    assert error[1e-3] < 0.2 * error[1e-2] < 0.2 * 0.2 * error[1.0]
