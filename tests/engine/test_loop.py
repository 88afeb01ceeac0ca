"""The time loop (Krogh): a run alone is the same run at any position of any batch, bit for bit;
runs keep their own events, steps and horizons, leave the batch at death, and the compiled
kernels equal their numpy references."""

from __future__ import annotations

import numpy as np
import pytest

import fields
from fields.core.errors import FieldsInputError, ParameterError
from fields.engine.loop import run
from fields.parameters import Parameters
from fields.parameters.batch import ParameterBatch
from tests.engine.checks import close, identical

SITES = ["lung", "liver", "kidney"]  # a permissive, a co-opting and a hostile (clearing) soil
DAYS = 1460.0


def _base() -> Parameters:
    """Therapy windows and vessel normalisation inside the horizon: events differ per run."""
    return Parameters().with_updates(
        {
            "interventions.anti_vegf.start_day": 400.0,
            "interventions.anti_vegf.end_day": 1000.0,
            "interventions.vessel_normalisation.start_day": 500.0,
            "interventions.vessel_normalisation.end_day": 900.0,
        }
    )


def _design(n: int, seed: int = 20261130) -> dict[str, np.ndarray]:
    """A seeded random design over the parameters each part of the model reads."""
    rng = np.random.default_rng(seed)
    return {
        "primary.tvdt_days": rng.uniform(40.0, 200.0, n),
        "primary.resection_diameter_mm": rng.uniform(8.0, 45.0, n),
        "dissemination.onset_diameter_mm": rng.uniform(0.5, 4.0, n),
        "dtc.founding_per_day": 10 ** rng.uniform(-7.0, -4.5, n),
        "dtc.reactivation_max_per_day": 10 ** rng.uniform(-4.0, -2.0, n),
        "lesions.tvdt_days": rng.uniform(40.0, 160.0, n),
        "stroma.niche_formation_per_day": 10 ** rng.uniform(-2.0, 0.0, n),
        "species.vegf.diffusivity_um2_per_s": rng.uniform(50.0, 150.0, n),
        "species.tgfb.plasma_half_life_min": rng.uniform(2.0, 10.0, n),
        "sites.kidney.dtc_hostility": rng.uniform(1.0, 3.0, n),
        "interventions.anti_vegf.start_day": rng.uniform(100.0, 900.0, n),
        "interventions.anti_vegf.efficacy": rng.uniform(0.2, 1.0, n),
    }


@pytest.fixture(scope="module")
def batch_and_trees():
    batch = ParameterBatch(_base(), _design(64))
    trees = fields.simulate_batch(
        batch, sites=SITES, days=DAYS, geometry="krogh", output_every_days=60.0
    )
    return batch, trees


@pytest.mark.parametrize(
    "block", [0, *(pytest.param(b, marks=pytest.mark.slow) for b in (1, 2, 3))]
)
def test_a_run_alone_is_the_same_run_in_a_batch_bit_for_bit(batch_and_trees, block):
    """64 random parameter sets (16 per block; blocks 1-3 in `make test-slow`): every variable
    of every node of a run alone (fields.simulate, a batch of one) equals that run's tree from
    the 64-run batch, bit for bit."""
    batch, trees = batch_and_trees
    for i in range(16 * block, 16 * block + 16):
        alone = fields.simulate(
            batch.member(i), sites=SITES, days=DAYS, geometry="krogh", output_every_days=60.0
        )
        identical(alone, trees[i], f"run {i}")


def test_a_run_is_the_same_in_any_batch_at_any_position(batch_and_trees):
    batch, trees = batch_and_trees
    picked = [40, 3, 17]
    record = run(
        batch.take(picked), sites=SITES, days=DAYS, geometry="krogh", output_every_days=60.0
    )
    for j, i in enumerate(picked):
        for key, values in record.systemic.items():
            np.testing.assert_array_equal(values[j], trees[i][key].values)
        for site in SITES:
            np.testing.assert_array_equal(
                record.site_series[site]["metastasis_cells"][j],
                trees[i][site]["metastasis_cells"].values,
            )


def test_numpy_kernels_match_the_compiled_ones(monkeypatch):
    batch = ParameterBatch(_base(), _design(6, seed=7))
    args = {"sites": SITES, "days": DAYS, "geometry": "krogh", "output_every_days": 60.0}
    compiled = run(batch, **args)
    monkeypatch.setenv("FIELDS_KERNELS", "numpy")
    plain = run(batch, **args)
    for key, values in compiled.systemic.items():
        assert close(plain.systemic[key], values) <= 1e-10, key
    for site in SITES:
        for key, values in compiled.site_series[site].items():
            assert close(plain.site_series[site][key], values) <= 1e-10, (site, key)


def test_steps_are_reported_and_runs_leave_the_batch():
    base = Parameters().with_updates({"primary.resection_diameter_mm": 15.0})
    batch = ParameterBatch(base, {"primary.tvdt_days": [60.0, 200.0]})
    record = run(batch, sites=["lung"], days=3650.0, geometry="krogh")
    assert (record.steps > 0).all()
    assert record.steps[0] != record.steps[1]  # each run keeps its own events and steps
    assert np.isfinite(record.systemic["tumour_cells"]).all()


def test_bad_batches_are_one_clear_error():
    with pytest.raises(ParameterError, match=r"primary\.tvdt_days.*run 1"):
        ParameterBatch(Parameters(), {"primary.tvdt_days": [80.0, -1.0]})
    with pytest.raises(ParameterError, match=r"primary\.tvdt_days.*run 0"):
        ParameterBatch(Parameters(), {"primary.tvdt_days": [float("nan")]})
    with pytest.raises(FieldsInputError, match="one value per run"):
        ParameterBatch(Parameters(), {"primary.tvdt_days": [80.0], "lesions.tvdt_days": [1, 2]})
    with pytest.raises(ParameterError, match="not a whole group"):
        ParameterBatch(Parameters(), {"species": [1.0]})
    with pytest.raises(ParameterError, match="real-valued"):
        ParameterBatch(Parameters(), {"geometry.krogh_cells": [20, 40]})
    exponential = Parameters().with_updates({"primary.growth_law": "exponential"})
    with pytest.raises(FieldsInputError, match="only numbers may differ"):
        ParameterBatch.from_sets([Parameters(), exponential])
    with pytest.raises(FieldsInputError, match=r"geometry = 'flat'"):
        run(ParameterBatch(Parameters()), sites=["lung"], days=30.0, geometry="flat")


def test_memory_of_a_batch_does_not_grow_with_simulated_time():
    """Beyond its outputs, a batch's tracemalloc peak is flat in simulated time: the lesion
    cohorts live in arrays allocated once (runs x lesions.max_cohorts per site), filled within
    ~14 years at the 5-day step, so 20 and 40 years must peak alike."""
    import gc
    import tracemalloc

    base = Parameters().with_updates({"primary.resection_diameter_mm": 20.0})
    batch = ParameterBatch(base, {"primary.tvdt_days": np.linspace(60.0, 200.0, 16)})
    run(batch, sites=["lung"], days=30.0, geometry="krogh")  # caches: patch, probes
    peaks = []
    for days in (7300.0, 14600.0):
        gc.collect()
        tracemalloc.start()
        record = run(
            batch,
            sites=["lung"],
            days=days,
            geometry="krogh",
            output_every_days=365.0,
            keep="series",
        )
        outputs = sum(v.nbytes for v in record.systemic.values()) + sum(
            v.nbytes for series in record.site_series.values() for v in series.values()
        )
        peaks.append(tracemalloc.get_traced_memory()[1] - outputs)
        tracemalloc.stop()
    assert peaks[1] <= 1.10 * peaks[0], peaks


def test_each_run_keeps_its_own_horizon():
    """Runs with their own horizons (on the shared output grid) equal runs alone that stop
    there, bit for bit; their outputs beyond it are NaN."""
    from fields.io.tree import build_tree

    batch = ParameterBatch(_base(), _design(3, seed=5))
    horizons = [600.0, 1200.0, 900.0]
    record = run(
        batch, sites=SITES, days=horizons, geometry="krogh", output_every_days=60.0, keep="series"
    )
    for i, days in enumerate(horizons):
        alone = fields.simulate(
            batch.member(i), sites=SITES, days=days, geometry="krogh", output_every_days=60.0
        )
        mine = build_tree(record.run_record(i))
        assert mine.sizes["time"] == alone.sizes["time"]
        for node in alone.subtree:
            for name, var in node.dataset.data_vars.items():
                if name in mine[node.path].dataset:
                    np.testing.assert_array_equal(var.values, mine[node.path].dataset[name].values)
        beyond = record.times > days
        assert np.isnan(record.systemic["tumour_cells"][i, beyond]).all()
    with pytest.raises(FieldsInputError, match=r"days \(run 0\) = 610.0"):
        run(batch, sites=["lung"], days=[610.0, 1200.0, 900.0], output_every_days=60.0)
    with pytest.raises(FieldsInputError, match="one per run"):
        run(batch, sites=["lung"], days=[600.0, 1200.0], output_every_days=60.0)


def test_a_run_can_leave_the_batch_at_its_death():
    """A run leaves at the first output day at or after its death, whatever steps it took: no
    output after that day, the same outputs as the full run up to it."""
    lethal = Parameters().with_updates({"dtc.founding_per_day": 1e-3, "lesions.tvdt_days": 20.0})
    tvdt = [40.0, 55.0, 70.0, 90.0, 120.0, 160.0, 400.0]
    batch = ParameterBatch(
        lethal,
        {
            "primary.tvdt_days": tvdt,
            "lesions.tvdt_days": [20.0, 35.0, 50.0, 25.0, 60.0, 30.0, 20.0],
        },
    )
    args = {"sites": ["lung"], "days": 3650.0, "geometry": "krogh", "output_every_days": 30.0}
    full = run(batch, **args)
    short = run(batch, **args, stop_at_death=True)
    np.testing.assert_array_equal(full.death_day, short.death_day)
    dying = np.nonzero(np.isfinite(full.death_day))[0]
    assert dying.size >= 3
    for i in dying:
        kept = np.searchsorted(full.times, full.death_day[i])  # the first output day at or after
        after = np.arange(full.times.size) > kept
        assert np.isnan(short.systemic["tumour_cells"][i, after]).all(), i
        assert np.isfinite(full.systemic["tumour_cells"][i, after]).all()
        for key in ("tumour_cells", "expected_detectable_lesions"):
            np.testing.assert_array_equal(
                short.systemic[key][i, ~after], full.systemic[key][i, ~after]
            )
        assert short.steps[i] < full.steps[i]


def test_merging_cohorts_compiled_matches_the_reference(monkeypatch):
    """With few cohorts kept, merging happens every step: the compiled merge gives the numbers
    of :func:`fields.model.lesions.merge_closest`, and the batch those of runs alone."""
    from fields.model import lesions
    from fields.numerics import lesion_kernels

    rng = np.random.default_rng(3)
    for trial in range(20):
        runs, keep = 12, 30
        lo, hi, n = (np.zeros((runs, keep + 3)) for _ in range(3))
        filled = rng.integers(20, keep + 3, runs)
        for r in range(runs):
            m = filled[r]
            start = np.sort(rng.random(m) * 20.0) if trial % 2 else rng.random(m) * 20.0
            if trial % 3 == 0:
                start = np.round(start)  # ties
            lo[r, :m], hi[r, :m] = start, start + rng.random(m) * (rng.random(m) < 0.5)
            n[r, :m] = rng.random(m)
        a = [x.copy() for x in (lo, hi, n, filled)]
        b = [x.copy() for x in (lo, hi, n, filled)]
        lesion_kernels.merge_rows(*a, keep, lesions.merge_closest)
        lesion_kernels.merge_rows_numpy(*b, keep, lesions.merge_closest)
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)
    few = _base().with_updates({"lesions.max_cohorts": 25})
    batch = ParameterBatch(few, _design(3, seed=9))
    args = {"sites": ["lung"], "days": 730.0, "geometry": "krogh", "output_every_days": 73.0}
    record = run(batch, **args)
    alone = fields.simulate(batch.member(1), **args)
    np.testing.assert_array_equal(
        record.site_series["lung"]["expected_detectable_lesions"][1],
        alone["lung"]["expected_detectable_lesions"].values,
    )
    monkeypatch.setenv("FIELDS_KERNELS", "numpy")
    plain = run(batch, **args)
    assert (
        close(
            plain.site_series["lung"]["metastasis_cells"],
            record.site_series["lung"]["metastasis_cells"],
        )
        <= 1e-10
    )
