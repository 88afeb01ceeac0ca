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


@pytest.mark.parametrize("law", ["exponential", "gompertz"])
def test_shedding_per_doubling_makes_the_cells_shed_by_a_size_independent_of_the_tvdt(law):
    """growth_coupling 1: shedding per cell doubling, so a fast and a slow primary have shed the
    same cells by the time they reach a size (coupling 0: the slow one has shed 4 times more)."""
    totals = {}
    for coupling in (0.0, 1.0):
        for tvdt in (75.0, 300.0):
            p = Parameters().with_updates(
                {
                    "primary.growth_law": law,
                    "primary.tvdt_days": tvdt,
                    "dissemination.growth_coupling": coupling,
                }
            )
            start = primary.cells_at_diameter(2.0, p.primary)
            end = primary.cells_at_diameter(20.0, p.primary)
            days = primary.time_to_reach(start, end, p.primary)
            n = primary.grow(start, np.linspace(0.0, days, 4001), p.primary)
            totals[coupling, tvdt] = float(
                np.sum(primary.shed_cells(n[:-1], n[1:], days / 4000, p.primary, p.dissemination))
            )
    assert totals[1.0, 75.0] == pytest.approx(totals[1.0, 300.0], rel=1e-6)
    assert totals[0.0, 300.0] == pytest.approx(4.0 * totals[0.0, 75.0], rel=1e-6)
    p = Parameters()
    assert totals[1.0, 300.0] == pytest.approx(  # the reference TVDT sheds as coupling 0 does
        totals[0.0, 300.0] * p.dissemination.reference_tvdt_days / 300.0, rel=1e-9
    )
