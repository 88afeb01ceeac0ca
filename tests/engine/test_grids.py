"""The time loop on 2d and 3d grids: a run alone (fields.simulate, a batch of one) equals the
same run at any position of a batch, bit for bit, stored fields included.

Small grids (20 x 20 and 10^3 cells) keep the comparison quick; the solves, the oxygen, the
motility in the cosine basis and the shared factorisations are the same code at any size. The
64-set comparisons run in `make test-slow`.
"""

from __future__ import annotations

import numpy as np
import pytest

import fields
from fields.core.errors import FieldsInputError
from fields.engine.loop import run
from fields.parameters import Parameters
from fields.parameters.batch import ParameterBatch
from tests.engine.checks import identical, interrupt_after

#: per geometry: sites, horizon (days) of the quick check
QUICK = {"2d": (["lung", "liver"], 1460.0), "3d": (["lung"], 730.0)}


def _base() -> Parameters:
    """Small grids, motile DTCs, anti-VEGF and vessel normalisation inside the horizon."""
    return Parameters().with_updates(
        {
            "geometry.domain_um": 200.0,
            "geometry.domain_3d_um": 100.0,
            "dtc.motility_um2_per_day": 50.0,
            "interventions.anti_vegf.start_day": 400.0,
            "interventions.anti_vegf.end_day": 1000.0,
            "interventions.vessel_normalisation.start_day": 300.0,
            "interventions.vessel_normalisation.end_day": 600.0,
        }
    )


def _design(n: int, seed: int = 20261130) -> dict[str, np.ndarray]:
    """A seeded random design; two capillary spacings, so runs sit on different patches."""
    rng = np.random.default_rng(seed)
    return {
        "primary.tvdt_days": rng.uniform(40.0, 200.0, n),
        "primary.resection_diameter_mm": rng.uniform(8.0, 45.0, n),
        "dtc.founding_per_day": 10 ** rng.uniform(-7.0, -4.5, n),
        "dtc.motility_um2_per_day": rng.uniform(0.0, 200.0, n),
        "lesions.tvdt_days": rng.uniform(40.0, 160.0, n),
        "stroma.niche_formation_per_day": 10 ** rng.uniform(-2.0, 0.0, n),
        "species.vegf.diffusivity_um2_per_s": rng.uniform(50.0, 150.0, n),
        "species.tgfb.plasma_half_life_min": rng.uniform(2.0, 10.0, n),
        "sites.lung.capillary_spacing_um": rng.choice([50.0, 70.0], n),
        "interventions.anti_vegf.start_day": rng.uniform(100.0, 500.0, n),
        "interventions.anti_vegf.efficacy": rng.uniform(0.2, 1.0, n),
    }


def _alone_equals_batch(batch: ParameterBatch, geometry: str, sites, days: float) -> None:
    args = {"sites": sites, "days": days, "geometry": geometry, "output_every_days": 60.0}
    together = fields.simulate_batch(batch, **args)
    for i in range(batch.size):
        identical(fields.simulate(batch.member(i), **args), together[i], f"run {i}")


@pytest.mark.parametrize("geometry", ["2d", "3d"])
def test_a_run_alone_is_the_same_run_in_a_batch_bit_for_bit(geometry):
    """8 random sets: every variable of every node, the stored fields included."""
    sites, days = QUICK[geometry]
    _alone_equals_batch(ParameterBatch(_base(), _design(8)), geometry, sites, days)


def test_transient_factors_alone_and_in_a_batch():
    """Backward-Euler factors (transport.mode = "transient"): each run's own step size."""
    base = _base().with_updates({"transport.mode": "transient"})
    _alone_equals_batch(ParameterBatch(base, _design(2, seed=3)), "2d", ["lung"], 365.0)


@pytest.mark.slow
@pytest.mark.parametrize("geometry", ["2d", "3d"])
def test_64_random_sets_alone_and_in_a_batch(geometry):
    """64 random parameter sets per geometry, two sites over four years."""
    batch = ParameterBatch(_base(), _design(64, seed=64))
    _alone_equals_batch(batch, geometry, ["lung", "liver"], 1460.0)


@pytest.mark.parametrize("geometry", ["2d", "3d"])
def test_a_run_is_the_same_in_any_batch_at_any_position(geometry):
    sites, days = QUICK[geometry]
    batch = ParameterBatch(_base(), _design(6, seed=11))
    args = {"sites": sites, "days": days, "geometry": geometry, "output_every_days": 60.0}
    whole = run(batch, **args)
    picked = [4, 0, 2]
    part = run(batch.take(picked), **args)
    for j, i in enumerate(picked):
        for key, values in whole.systemic.items():
            np.testing.assert_array_equal(part.systemic[key][j], values[i])
        for site in sites:
            for key, values in whole.site_series[site].items():
                np.testing.assert_array_equal(part.site_series[site][key][j], values[i])


def test_runs_of_one_grid_share_factorisations_and_responses():
    """Runs that differ only in the primary's growth share the sink of every factor: the
    batch factorises once per field and shares the responses to the wall and uniform
    sources, so it solves far fewer systems than its runs alone."""
    from fields.engine.site import Site

    base = _base()
    batch = ParameterBatch(base, {"primary.tvdt_days": [60.0, 90.0, 120.0, 150.0]})
    record = run(batch, sites=["lung"], days=365.0, geometry="2d")
    assert np.isfinite(record.systemic["tumour_cells"]).all()
    site = Site("lung", batch.stacked(), record.patches["lung"])
    plasma = {name: np.full((4, 1), 10.0) for name in base.species}
    site.initialise(plasma)
    for name in base.species:
        ops = site.ops[name].operators
        assert sum(op.factorisations for op in ops) == 1, name
        assert sum(op.response_solves for op in ops) < 4 * len(ops), name


def test_a_batch_needs_one_grid():
    batch = ParameterBatch(_base(), {"geometry.domain_um": [200.0, 300.0]})
    with pytest.raises(FieldsInputError, match=r"sites\.lung: patches of \[400, 900\] cells"):
        run(batch, sites=["lung"], days=30.0, geometry="2d")


def test_an_interrupted_grid_batch_resumes_bit_for_bit(tmp_path, monkeypatch):
    batch = ParameterBatch(_base(), _design(3, seed=5))
    args = {"sites": ["lung"], "days": 1080.0, "geometry": "2d", "output_every_days": 60.0}
    reference = run(batch, **args)
    ck = tmp_path / "grid.ckpt"
    interrupt_after(monkeypatch, 500.0)
    with pytest.raises(KeyboardInterrupt):
        run(batch, checkpoint=ck, checkpoint_every_days=180.0, **args)
    monkeypatch.undo()
    resumed = run(batch, checkpoint=ck, checkpoint_every_days=180.0, resume=True, **args)
    for key, values in reference.systemic.items():
        np.testing.assert_array_equal(resumed.systemic[key], values)
    for key, values in reference.site_series["lung"].items():
        np.testing.assert_array_equal(resumed.site_series["lung"][key], values)
    np.testing.assert_array_equal(resumed.steps, reference.steps)


def test_memory_of_a_grid_batch_does_not_grow_with_simulated_time():
    """Beyond its outputs, the tracemalloc peak of a 2d batch is flat in simulated time (its
    solvers, responses and lesion arrays are sized once)."""
    import gc
    import tracemalloc

    batch = ParameterBatch(_base(), {"primary.tvdt_days": [60.0, 200.0]})
    args = {"sites": ["lung"], "geometry": "2d", "output_every_days": 365.0, "keep": "series"}
    run(batch, **{**args, "days": 30.0})  # caches: patch, probes
    peaks = []
    for days in (3650.0, 7300.0):
        gc.collect()
        tracemalloc.start()
        record = run(batch, days=days, **args)
        outputs = sum(v.nbytes for v in record.systemic.values()) + sum(
            v.nbytes for series in record.site_series.values() for v in series.values()
        )
        peaks.append(tracemalloc.get_traced_memory()[1] - outputs)
        tracemalloc.stop()
    assert peaks[1] <= 1.10 * peaks[0], peaks


def test_runs_with_their_own_horizons_leave_a_grid_batch():
    """Runs that reach their horizon leave the batch (their solvers with them); the others go
    on and equal runs alone, bit for bit."""
    batch = ParameterBatch(_base(), _design(3, seed=5))
    horizons = [600.0, 1200.0, 900.0]
    args = {"sites": ["lung"], "geometry": "2d", "output_every_days": 60.0}
    record = run(batch, days=horizons, store_fields=True, **args)
    for i, days in enumerate(horizons):
        alone = fields.simulate(batch.member(i), days=days, **args)
        n = alone.sizes["time"]
        for key in ("tumour_cells", "expected_detectable_lesions"):
            np.testing.assert_array_equal(alone[key].values, record.systemic[key][i, :n])
        vegf = record.fields["lung"]["vegf"][i, :n]
        np.testing.assert_array_equal(alone["lung"]["vegf"].values.reshape(n, -1), vegf)
        assert np.isnan(record.systemic["tumour_cells"][i, n:]).all()
