"""Scaling instead of new runs: the expected lesions of each site are proportional to the cells
shed, the founding rate and the site's share of the shed cells, so a cohort run at other values
of those equals the first cohort's expected lesions scaled (fields.experiments.population.expected)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fields.experiments.population.cohort import cohort
from fields.experiments.population.cohort_file import load_cohort
from fields.experiments.population.expected import probabilities
from fields.model.dissemination import arrest_shares

DATA = Path(__file__).resolve().parents[2] / "data"
CHANGES = {
    "dissemination.shed_cells_per_g_per_day": 3.0,
    "dtc.founding_per_day": 0.5,
    "dissemination.transpulmonary_passage": 2.5,
    "sites.bone_marrow.arrest_survival": 0.25,
}


@pytest.fixture(scope="module")
def two_cohorts():
    base = load_cohort(DATA / "cohort_small.toml")
    base = base.with_updates({"primary.initial_cells": 1e8}).with_patients(8)
    from dataclasses import replace

    samples = {k: d for k, d in base.samples.items() if k != "dtc.founding_per_day"}
    base = replace(base, sites=("lung", "bone_marrow"), samples=samples)
    moved = base.with_updates({k: base.base.get(k) * f for k, f in CHANGES.items()})
    return (
        base,
        cohort(base, workers=0, progress=False),
        moved,
        cohort(moved, workers=0, progress=False),
    )


def test_scaled_probabilities_equal_a_new_run(two_cohorts):
    base, first, moved, second = two_cohorts
    before, after = arrest_shares(base.base), arrest_shares(moved.base)
    shed, founding = (
        CHANGES["dissemination.shed_cells_per_g_per_day"],
        CHANGES["dtc.founding_per_day"],
    )
    sites = list(base.sites)
    site_scale = np.array([shed * founding * after[s] / before[s] for s in sites])
    dtc_scale = shed * after["bone_marrow"] / before["bone_marrow"]
    scaled = probabilities(first, site_scale, shed, dtc_scale)
    direct = probabilities(second)
    assert (direct.site_dx + direct.site_relapse).sum() > 0.05  # lesions to compare
    for name in ("p_m1", "free", "site_dx", "site_relapse", "ctc", "dtc"):
        a, b = getattr(scaled, name), getattr(direct, name)
        # the equations are linear in what arrives, exactly; the runs differ only in their
        # steps (the step controller watches DTC counts with a floor of one cell, so other
        # counts take other steps, within its tolerance, stepping.rtol = 1e-3 here), and the
        # founding rate also drains the activated cells it founds from (~1e-5 of them)
        np.testing.assert_allclose(a, b, rtol=3e-3, atol=1e-6, err_msg=name)


def test_probabilities_are_consistent(two_cohorts):
    _, first, _, _ = two_cohorts
    p = probabilities(first)
    np.testing.assert_allclose(p.site_dx.sum(axis=1), p.p_m1, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        p.site_relapse.sum(axis=1), (1.0 - p.p_m1) * (1.0 - p.free[:, -1]), rtol=1e-9, atol=1e-12
    )
    stored = first["metastasis_free_probability"].values
    np.testing.assert_allclose(p.free, stored, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(p.p_m1, first["p_metastatic_at_diagnosis"].values, rtol=1e-9)
