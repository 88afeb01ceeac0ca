"""The lesion layer against Iwata, Kawasaki & Shigesada (2000): exponential growth at rate lam
with a power-law inflow F(t) = m e^{alpha lam t} (the primary x_p = e^{lam t} seeding at rate
m x_p^alpha) has the closed form

    n(s, t) = (m / lam) e^{alpha lam t} e^{-alpha s}   for 0 <= s <= lam t,
    N(t)    = m / (alpha lam) (e^{alpha lam t} - 1).

Everything goes through the engine's own lesion state (:class:`SiteLesions`, one run)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import fields
from fields.engine.metastases import SiteLesions
from fields.model import lesions

M, ALPHA = 5.3e-8 * 1e6, 0.663  # Iwata's seeding coefficient (scaled) and fractal exponent
T_END = 2400.0


def exponential_params(**extra) -> fields.Parameters:
    return fields.Parameters().with_updates(
        {
            "lesions.growth_law": "exponential",
            "lesions.carrying_capacity_cells": 1e12,
            "lesions.tvdt_days": 82.0,  # Iwata's closed form holds below the carrying capacity
            **extra,
        }
    )


def one(x: float) -> np.ndarray:
    """A number as the (runs, 1) column of a batch of one."""
    return np.full((1, 1), float(x))


def step(state: SiteLesions, dt: float, founded: float, support: float) -> None:
    state.step(one(dt), one(founded), one(support))


def cohorts(state: SiteLesions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return state.cohorts(0)


def simulate_iwata(dt: float, p: fields.Parameters) -> SiteLesions:
    state = SiteLesions("lung", p, 1)
    state.switch = -1.0  # no avascular limit: every lesion grows at the full rate
    lam = p.lesions.growth_rate_per_day
    a = ALPHA * lam
    for k in range(round(T_END / dt)):
        t0, t1 = k * dt, (k + 1) * dt
        founded = M / a * (math.exp(a * t1) - math.exp(a * t0))  # exact inflow over the step
        step(state, dt, founded, 1.0)
    return state


def closed_form_density(p: fields.Parameters, edges: np.ndarray) -> np.ndarray:
    lam = p.lesions.growth_rate_per_day
    a = ALPHA * lam
    front = lam * T_END
    lo, hi = edges[:-1], np.minimum(edges[1:], front)
    # bin average of (M/lam) e^{a T} e^{-alpha s} over [lo, hi] (zero beyond the front)
    mass = np.where(
        hi > lo,
        M / lam * math.exp(a * T_END) / ALPHA * (np.exp(-ALPHA * lo) - np.exp(-ALPHA * hi)),
        0.0,
    )
    return mass / np.diff(edges)


def test_lesion_count_and_size_distribution_match_iwata_on_the_default_grid():
    p = exponential_params()
    lam = p.lesions.growth_rate_per_day
    state = simulate_iwata(p.stepping.dt_max_days, p)  # the loop's largest step: 5 days
    exact_count = M / (ALPHA * lam) * math.expm1(ALPHA * lam * T_END)
    assert abs(cohorts(state)[2].sum() - exact_count) <= 1e-12 * exact_count
    edges = lesions.size_edges(p.lesions)
    density = state.density(0, edges)
    exact = closed_form_density(p, edges)
    inside = edges[1:] <= lam * T_END - 1.0  # bins behind the moving front
    rel = np.abs(density[inside] - exact[inside]) / exact[inside]
    assert rel.max() < 0.01, rel.max()


def test_observed_order_of_convergence_in_size(convergence_report):
    """Cohorts are lam dt wide in log size; refining dt refines the size variable."""
    p = exponential_params(**{"lesions.size_bins": 30})
    lam = p.lesions.growth_rate_per_day
    widths, errors = [], []
    for dt in (20.0, 10.0, 5.0, 2.5):
        state = simulate_iwata(dt, p)
        threshold = 8.0  # expected lesions above e^8 cells vs the closed form
        exact = M / (ALPHA * lam) * (math.exp(ALPHA * lam * (T_END - threshold / lam)) - 1.0)
        got = lesions.expected_above(*cohorts(state), threshold)
        widths.append(lam * dt)
        errors.append(abs(got - exact) / exact)
    order = np.polyfit(np.log(widths), np.log(errors), 1)[0]
    convergence_report.append(
        f"Lesion sizes (Iwata closed form): cohort width = {[f'{w:.3g}' for w in widths]}, "
        f"relative error = {[f'{e:.3e}' for e in errors]}, order = {order:.3f}"
    )
    assert order >= 1.8


def test_cells_in_lesions_are_conserved():
    """Growing the cohorts by dt multiplies their cells by e^{lam dt} exactly; inflow adds the
    founded lesions' cells; merging conserves the number of lesions."""
    p = exponential_params(**{"lesions.max_cohorts": 50})
    state = simulate_iwata(5.0, p)
    before_cells = lesions.cells(*cohorts(state))
    before_count = cohorts(state)[2].sum()
    lam = p.lesions.growth_rate_per_day
    step(state, 7.0, 0.0, 1.0)
    after = lesions.cells(*cohorts(state))
    assert abs(after - before_cells * math.exp(lam * 7.0)) <= 1e-10 * after
    assert abs(cohorts(state)[2].sum() - before_count) <= 1e-12 * before_count
    assert state.filled[0] <= 50 and (state.count >= 0.0).all()


@pytest.mark.parametrize("law", ["exponential", "gompertz"])
def test_a_lesion_without_limits_doubles_at_the_metastasis_tvdt(law):
    """No hidden slowdown: around 1e9 cells (the Gompertz reference) a lesion doubles in 82 days
    (the doubling centred on 1e9 cells: from 1e9/sqrt 2 to 1e9 sqrt 2)."""
    p = fields.Parameters().with_updates({"lesions.growth_law": law})
    state = SiteLesions("lung", p, 1)
    start = math.log(1e9 / math.sqrt(2.0))
    state.lo[0, 0], state.hi[0, 0], state.count[0, 0], state.filled[0] = start, start, 1.0, 1
    day = 0.0
    while lesions.cells(*cohorts(state)) < 1e9 * math.sqrt(2.0):
        step(state, 0.5, 0.0, 1.0)  # support 1: at its full rate
        day += 0.5
    assert abs(day - p.lesions.tvdt_days) <= 0.05 * p.lesions.tvdt_days


@pytest.mark.parametrize("law", ["exponential", "gompertz"])
def test_settled_cohorts_grow_as_the_active_ones_would(law):
    """Cohorts past detection and the avascular limit settle onto the site's clock: their sizes,
    cells and detectable count equal those of cohorts grown step by step (no store at all)."""
    p = fields.Parameters().with_updates({"lesions.growth_law": law})
    settling = SiteLesions("lung", p, 1)
    plain = SiteLesions("lung", p, 1)
    plain.level = np.array([math.inf])  # never settles: every cohort grown step by step
    rng = np.random.default_rng(2)
    for _ in range(400):
        dt, founded, support = rng.uniform(0.5, 30.0), rng.uniform(0.0, 1e-3), rng.uniform(0, 1)
        step(settling, dt, founded, support)
        step(plain, dt, founded, support)
    assert settling.settled_filled[0] > 50 and settling.filled[0] < plain.filled[0]
    a, b = cohorts(settling), cohorts(plain)
    order_a, order_b = np.argsort(a[0], kind="stable"), np.argsort(b[0], kind="stable")
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x[order_a], y[order_b], rtol=1e-12, atol=1e-12)
    detectable = [x.series()["expected_detectable_lesions"][0, 0] for x in (settling, plain)]
    assert detectable[0] == pytest.approx(detectable[1], rel=1e-12)
    assert lesions.cells(*a) == pytest.approx(lesions.cells(*b), rel=1e-12)
