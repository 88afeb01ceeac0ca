"""Metastases a clinician can count: relapse, metastasis at diagnosis, death, and physiology in
the measured ranges, for the default patient (no cohort calibration)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import fields
from fields.experiments.outputs import relapse_outcomes
from fields.model import primary

SITES = ["lung", "liver", "bone_marrow", "brain"]


def resected_at(diameter_mm: float, extra: dict | None = None, sites=SITES):
    p = fields.Parameters().with_updates(
        {"primary.resection_diameter_mm": diameter_mm, **(extra or {})}
    )
    resect = primary.resection_time(p.primary)
    days = math.ceil(resect) + 3650 + 30
    tree = fields.simulate(
        p, sites=sites, days=days, geometry="krogh", output_every_days=30, store_fields=False
    )
    return tree, relapse_outcomes(tree["time"].values, tree["p_metastatic"].values, resect)


@pytest.fixture(scope="module")
def by_diameter():
    return {d: resected_at(d) for d in (15.0, 30.0, 50.0)}


def test_relapse_within_10_years_is_a_probability_that_rises_with_diameter(by_diameter):
    relapse = {d: out["p_relapse_10_years"] for d, (_tree, out) in by_diameter.items()}
    assert 0.0 < relapse[15.0] < 1.0
    assert relapse[15.0] < relapse[30.0] <= relapse[50.0]


def test_a_15_mm_primary_can_be_metastatic_at_diagnosis(by_diameter):
    tree, out = by_diameter[15.0]
    assert out["p_metastatic_at_diagnosis"] > 0.0
    assert float(tree["diagnosis_day"]) == float(tree["resection_day"])
    assert by_diameter[50.0][1]["p_metastatic_at_diagnosis"] > out["p_metastatic_at_diagnosis"]


def test_no_lethal_burden_without_a_recorded_death(by_diameter):
    for tree, _out in by_diameter.values():
        lethal = fields.Parameters.from_json(tree.attrs["parameters"]).lesions.lethal_burden_cells
        burden = tree["tumour_cells"].values + tree["metastatic_burden_cells"].values
        death = float(tree["death_day"])
        for site in tree.children:
            assert tree[site]["metastasis_cells"].max() < lethal or math.isfinite(death)
        if (burden >= lethal).any():
            first = float(tree["time"].values[np.argmax(burden >= lethal)])
            assert math.isfinite(death) and death <= first
        else:
            assert math.isnan(death)


def test_patient_outcomes_are_the_poisson_sum_of_the_sites(by_diameter):
    tree, _out = by_diameter[30.0]
    expected = sum(tree[s]["expected_detectable_lesions"].values for s in tree.children)
    np.testing.assert_allclose(tree["expected_detectable_lesions"].values, expected, rtol=1e-12)
    np.testing.assert_allclose(tree["p_metastatic"].values, -np.expm1(-expected), rtol=1e-12)


def test_plasma_factors_lie_in_their_measured_ranges():
    """VEGF-A: healthy plasma 9-76 pg/mL (George 2000; Webb 1998), about 100 pg/mL in metastatic
    cancer (Kut 2007); active TGF-beta1: 3-16 pg/mL healthy (Meng 2018), ~2x in advanced disease
    (Ivanovic 2003)."""
    p = fields.Parameters()
    vegf, tgfb = p.species["vegf"], p.species["tgfb"]
    at_50mm = primary.cells_at_diameter(50.0, p.primary)
    assert 9.0 <= primary.plasma_steady_state(0.0, vegf) <= 80.0
    assert 60.0 <= primary.plasma_steady_state(at_50mm, vegf) <= 120.0
    assert 3.0 <= primary.plasma_steady_state(0.0, tgfb) <= 16.0
    assert primary.plasma_steady_state(at_50mm, tgfb) <= 3.0 * tgfb.plasma_baseline_pg_per_ml


def test_healthy_lung_holds_more_vegf_than_plasma():
    """Healthy tissue secretes VEGF-A, so interstitial VEGF exceeds plasma (Stefanini 2008)."""
    for geometry in ("krogh", "2d"):
        p = fields.Parameters().with_updates({"geometry.domain_um": 300.0})
        tree = fields.simulate(p, sites=["lung"], days=1, geometry=geometry)
        tissue = float(tree["lung"]["vegf"].isel(time=0).mean())
        assert tissue > float(tree["plasma_vegf"][0]), geometry


def test_lox_inhibition_lowers_the_lung_niche_of_a_large_primary():
    """Erler et al. 2009: LOX from the primary is needed for the niche."""
    base = {"primary.initial_cells": primary.cells_at_diameter(40.0, fields.Parameters().primary)}
    kwargs = {"sites": ["lung"], "days": 90, "geometry": "2d", "output_every_days": 30}
    small = {"geometry.domain_um": 300.0}
    plain = fields.simulate(fields.Parameters().with_updates({**base, **small}), **kwargs)
    blocked = fields.simulate(
        fields.Parameters().with_updates(
            {**base, **small, "interventions.lox_inhibition.start_day": 0.0}
        ),
        **kwargs,
    )
    a = float(plain["lung"]["niche_fraction"][-1])
    b = float(blocked["lung"]["niche_fraction"][-1])
    assert a > 0.0 and b <= 0.8 * a


def test_the_lung_niche_forms_before_lesions_are_founded_there():
    """Kaplan et al. 2005: the niche comes first."""
    p = fields.Parameters()
    tree = fields.simulate(p, sites=["lung"], days=3000, geometry="krogh", output_every_days=10)
    ds = tree["lung"]
    formed = np.nonzero(ds["niche_fraction"].values > 0.05)[0]
    assert formed.size, "no lung niche within the run"
    assert float(ds["founded_lesions"].values[formed[0]]) < 0.1
