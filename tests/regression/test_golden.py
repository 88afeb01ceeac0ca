"""Regression against golden solutions in tests/data (regenerate with `make regen-golden`)."""

from __future__ import annotations

import pytest
import xarray as xr

import fields
from tests.regression.golden import DATA, SCENARIOS, compare, run_batch_scenario, run_scenario


@pytest.fixture(scope="module")
def golden_krogh():
    return xr.open_datatree(DATA / "golden_krogh.nc")


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_matches_golden(name):
    golden = xr.open_datatree(DATA / f"{name}.nc")
    problems = compare(run_scenario(name), golden)
    assert not problems, (
        f"{name} moved from its golden file (regenerate with `make regen-golden` only if intended):\n"
        + "\n".join(problems)
    )


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_batched_runs_match_golden(name):
    """The golden scenario as the second run of a batch (the batched engine, on its geometry)."""
    golden = xr.open_datatree(DATA / f"{name}.nc")
    problems = compare(run_batch_scenario(name), golden)
    assert not problems, f"{name} as a batched run:\n" + "\n".join(problems)


def test_one_percent_change_of_a_default_is_caught_readably(golden_krogh):
    p = fields.Parameters()
    nudged = p.with_updates(
        {"dtc.proliferating_death_per_day": p.dtc.proliferating_death_per_day * 1.01}
    )
    problems = compare(run_scenario("golden_krogh", nudged), golden_krogh)
    assert problems
    assert any("dtc_proliferating_total moved" in line and "relative" in line for line in problems)
