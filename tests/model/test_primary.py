"""Shedding from the primary: the rate law and its exact step integral."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import quad

from fields.model import primary
from fields.parameters import Parameters


@pytest.mark.parametrize("exponent", [1.0, 2.0 / 3.0, 1.0 / 3.0, 0.0])
def test_shed_cells_are_the_exact_integral_of_the_shedding_rate(exponent):
    """Cells shed over a step equal the integral of shed_rate along the in-step exponential
    growth, for any size exponent (rate per 1 g x (mass / 1 g)**exponent)."""
    p = Parameters().with_updates({"dissemination.size_exponent": exponent})
    n0, n1, dt = 2e9, 5e9, 30.0
    lam = np.log(n1 / n0) / dt
    exact, _err = quad(
        lambda t: primary.shed_rate(n0 * np.exp(lam * t), p.primary, p.dissemination), 0.0, dt
    )
    step = primary.shed_cells(n0, n1, dt, p.primary, p.dissemination)
    assert step == pytest.approx(exact, rel=1e-9)
    at_one_gram = primary.shed_rate(1e9, p.primary, p.dissemination)
    assert at_one_gram == pytest.approx(p.dissemination.shed_cells_per_g_per_day)


def test_a_smaller_size_exponent_flattens_shedding_with_size():
    ratios = []
    for exponent in (1.0, 1.0 / 3.0):
        p = Parameters().with_updates({"dissemination.size_exponent": exponent})
        small = primary.shed_rate(
            primary.cells_at_diameter(15.0, p.primary), p.primary, p.dissemination
        )
        large = primary.shed_rate(
            primary.cells_at_diameter(60.0, p.primary), p.primary, p.dissemination
        )
        ratios.append(large / small)
    assert ratios[0] == pytest.approx(64.0, rel=1e-9)  # volume ratio (60 / 15)**3
    assert ratios[1] == pytest.approx(4.0, rel=1e-9)  # diameter ratio
