"""Local ODE updates: exactness, bounds and monotone responses."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import expm

from fields.model import dtc, stroma
from fields.numerics import kernels
from fields.parameters import Parameters


@pytest.mark.parametrize("compiled", [False, True])
def test_linear2_exact_matches_expm(compiled):
    """The exact 2x2 step (the numpy reference, and the compiled kernel that builds e^{Mt} from
    the two eigenvalues' exponentials) against scipy's expm, over rates from nearly equal
    eigenvalues (a Jordan block) to a 1e4-fold decay within the step."""
    if compiled and kernels.backend() != "numba":
        pytest.skip("numba is not installed")
    rng = np.random.default_rng(0)
    worst = 0.0
    for k in range(600):
        scale = 10.0 ** rng.uniform(-6, 0) if k % 2 else 1.0
        a11, a22 = -rng.uniform(0, 0.05, 2) * scale
        a22 += rng.uniform(0, 0.03) * scale
        a12, a21 = rng.uniform(0, 0.02, 2) * scale * (rng.uniform(size=2) > 0.3)
        b, x, t = rng.uniform(0, 10, 2), rng.uniform(0, 100, 2), rng.uniform(0.1, 200)
        if k % 5 == 0:  # no dormancy and equal total rates: a Jordan block, delta t ~ 0
            a12, a22 = 0.0, a11 * (1.0 + rng.choice([0.0, 1e-12, 1e-8, 1e-6]))
        aug = np.zeros((3, 3))
        aug[:2, :2] = [[a11, a12], [a21, a22]]
        aug[:2, 2] = b
        ref = (expm(aug * t) @ np.array([x[0], x[1], 1.0]))[:2]
        values = (a11, a12, a21, a22, b[0], b[1], x[0], x[1])
        if compiled:
            got = np.array(kernels.dtc_update(*(np.array([[v]]) for v in values), t)).ravel()
        else:
            got = np.array(dtc.linear2_exact(*(np.array([v]) for v in values), t)).ravel()
        worst = max(worst, np.abs(got - np.maximum(ref, 0.0)).max() / np.abs(ref).max())
    assert worst < 1e-12


def test_stiffer_matrix_favours_proliferation():
    params = Parameters()
    e = np.array([0.5, 2.0, 8.0])
    zeros = np.zeros(3)
    factors = {name: zeros for name in params.species}
    r = dtc.rates(e, zeros, zeros, factors, params.species, params.dtc, hostility=1.0)
    assert np.all(np.diff(r.reactivation) > 0)
    assert np.all(np.diff(r.dormancy) < 0)


def test_hypoxia_raises_lox_and_stiffness_exactly_bounded():
    params = Parameters()
    st = params.stroma
    hyp = np.array([0.0, 0.5, 1.0])
    lox = stroma.update_lox(np.zeros(3), hyp, st, 0.0, 1e4)
    assert np.all(np.diff(lox) > 0) and lox.max() <= 1.0 + 1e-12
    factors = {name: np.zeros(3) for name in params.species}
    e = stroma.update_stiffness(np.full(3, 1.0), lox, factors, params.species, 1.0, st, 1e4)
    assert np.all(np.diff(e) > 0) and e.min() >= 1.0 and e.max() <= st.max_stiffness_kpa
    inhibited = stroma.update_lox(np.zeros(3), hyp, st, 0.9, 1e4)
    assert np.all(inhibited <= lox)


def test_niche_rises_with_factors_and_decays_without():
    params = Parameters()
    st = params.stroma
    half = params.species["vegf"].niche_half_pg_per_ml
    v = np.array([0.0, half, 4 * half])
    factors = {name: np.full(3, 1e4) for name in params.species}  # tissue retention saturated
    plasma = {name: 0.0 for name in params.species}
    plasma["vegf"] = v  # mobilisation by plasma VEGF-A
    stim = stroma.niche_stimulus(factors, plasma, params.species, v)
    n = stroma.update_niche(np.zeros(3), stim, st, 1e4)
    assert np.all(np.diff(n) > 0) and 0.0 <= n.min() and n.max() <= 1.0
    later = stroma.update_niche(n, np.zeros(3), st, st.niche_lifetime_days)
    np.testing.assert_allclose(later, n * np.exp(-1.0), rtol=1e-12)
