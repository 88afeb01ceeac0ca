"""Error-controlled steps (fields.engine.stepping): the estimate, the controller and convergence."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fields
from fields.core.errors import ParameterError
from fields.engine.stepping import LADDER, local_error, next_dt
from fields.parameters import Parameters
from fields.parameters.batch import ParameterBatch

SITES = ["lung", "bone_marrow"]
DAYS = 3650.0
WATCHED = ("dtc_proliferating_total", "founded_lesions", "expected_detectable_lesions")


def test_estimate_is_the_local_error_of_a_first_order_step():
    """For z = a t^2 over equal steps h the estimate is a h^2, the local error h^2/2 z''."""
    a, h, t = 0.3, 0.7, 5.0
    z = a * np.array([t - h, t, t + h]) ** 2
    err = local_error(h, np.array([z[2] - z[1]]), h, np.array([z[1] - z[0]]))
    assert err == pytest.approx(a * h * h, rel=1e-12)
    assert np.isnan(local_error(h, np.array([1.0]), 0.0, np.array([0.0])))  # no history


@settings(max_examples=200, deadline=None)
@given(
    step=st.floats(1e-3, 30.0),
    attempted=st.floats(1e-3, 30.0),
    err=st.one_of(st.just(float("nan")), st.floats(0.0, 1.0)),
)
def test_next_step_is_on_the_ladder_and_bounded(step, attempted, err):
    s = Parameters().stepping
    attempted = max(attempted, step)
    dt = next_dt(step, attempted, err, False, s)
    assert s.dt_min_days <= dt <= s.dt_max_days
    rung = np.log2(dt / s.dt_min_days) * LADDER
    assert dt == s.dt_max_days or abs(rung - round(rung)) < 1e-9
    if step == attempted:  # a step no stop cut grows by at most growth_factor
        assert dt <= max(step * s.growth_factor, s.dt_min_days) * (1 + 1e-12)
    if err > 10.0 * s.rtol:
        assert dt < max(step, s.dt_min_days * 1.0001) or dt == s.dt_min_days
    assert next_dt(step, attempted, err, True, s) == s.dt_min_days


def test_bad_controller_settings_are_refused():
    with pytest.raises(ParameterError, match=r"stepping\.controller"):
        Parameters().with_updates({"stepping.controller": "rk45"})
    with pytest.raises(ParameterError, match=r"stepping\.rtol"):
        Parameters().with_updates({"stepping.rtol": 0.5})


def _run(updates: dict):
    return fields.simulate(
        Parameters().with_updates(updates), sites=SITES, days=DAYS, geometry="krogh"
    )


@pytest.fixture(scope="module")
def reference():
    """Fine steps: at most half a day, the v0.2 doubling controller."""
    return _run({"stepping.controller": "doubling", "stepping.dt_max_days": 0.5})


def _error(tree, reference) -> float:
    worst = 0.0
    for site in SITES:
        for name in WATCHED:
            a, b = tree[site][name].values, reference[site][name].values
            worst = max(worst, float(np.max(np.abs(a - b)) / np.max(np.abs(b))))
    return worst


def test_outputs_converge_as_rtol_shrinks(reference):
    """Error of the watched series against fine steps, and steps taken, for rtol 1e-2 .. 1e-5."""
    errors, steps = [], []
    for rtol in (1e-2, 1e-3, 1e-4, 1e-5):
        tree = _run({"stepping.rtol": rtol})
        errors.append(_error(tree, reference))
        steps.append(tree.attrs["steps"])
    print(f"\nrtol 1e-2..1e-5: steps {steps}, error {[f'{e:.1e}' for e in errors]}")
    assert steps == sorted(steps) and steps[-1] > 3 * steps[0]
    assert errors[-1] < errors[0] / 3.0
    assert max(errors) < 1e-2


def test_default_steps_are_fewer_than_the_doubling_controller(reference):
    tree = _run({})
    doubling = _run({"stepping.controller": "doubling", "stepping.dt_max_days": 5.0})
    assert tree.attrs["step_controller"] == "error"
    assert tree.attrs["steps"] < 0.75 * doubling.attrs["steps"]
    assert _error(tree, reference) < 1e-2
    assert np.isfinite(tree.attrs["max_local_error"]) and tree.attrs["max_local_error"] > 0.0


def test_a_batched_run_takes_the_steps_it_takes_alone():
    sets = [Parameters().with_updates({"lesions.tvdt_days": v}) for v in (30.0, 46.0, 90.0)]
    trees = fields.simulate_batch(
        ParameterBatch.from_sets(sets), sites=SITES, days=DAYS, geometry="krogh"
    )
    for p, together in zip(sets, trees, strict=True):
        alone = fields.simulate(p, sites=SITES, days=DAYS, geometry="krogh")
        assert together.attrs["steps"] == alone.attrs["steps"]
        assert together.attrs["max_local_error"] == pytest.approx(
            alone.attrs["max_local_error"], rel=1e-6
        )
