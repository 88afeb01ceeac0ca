"""The coupled model: bounds on every output and the directions the biology requires."""

from __future__ import annotations

import numpy as np
import pytest

import fields
from fields.core.errors import FieldsInputError
from fields.engine.contract import field_names

FIELDS = field_names(fields.SPECIES_NAMES)


def check_bounds(tree):
    p = fields.Parameters.from_json(tree.attrs["parameters"])
    top_po2 = max(p.sites[s].vessel_po2_mmhg for s in tree.children)
    for node in tree.subtree:
        for name, var in node.dataset.data_vars.items():
            if var.ndim > 0:  # scalars are event times, NaN when the event does not happen
                assert not np.isnan(var.values).any(), f"NaN in {node.path}/{name}"
    for site in tree.children:
        ds = tree[site].dataset
        assert float(ds.oxygen.min()) >= 0.0
        assert float(ds.oxygen.max()) <= top_po2 + 1e-9
        for name in ("hypoxia", "niche"):
            assert 0.0 <= float(ds[name].min()) and float(ds[name].max()) <= 1.0
        assert float(ds.stiffness.min()) >= p.sites[site].baseline_stiffness_kpa - 1e-9
        assert float(ds.dtc_dormant.min()) >= 0.0 and float(ds.dtc_proliferating.min()) >= 0.0
        assert set(FIELDS) <= set(ds.data_vars)


def test_krogh_all_sites_ten_years_bounded(krogh_all_sites):
    tree = krogh_all_sites
    assert set(tree.children) == set(fields.SITE_NAMES)
    assert float(tree["time"][-1]) == 3650.0
    check_bounds(tree)
    assert tree["lung"]["oxygen"].dims == ("time", "r")


def test_2d_lung_bone_marrow_one_year_bounded(run_2d):
    check_bounds(run_2d)
    assert run_2d["lung"]["oxygen"].dims == ("time", "y", "x")
    assert run_2d["lung"]["oxygen"].shape[1:] == (100, 100)


def test_oxygen_falls_with_distance_from_vessel(krogh_all_sites, run_2d):
    for site in fields.SITE_NAMES:
        profile = krogh_all_sites[site]["oxygen"].isel(time=-1).values
        assert np.all(np.diff(profile) <= 1e-12), site
        assert profile[0] > profile[-1]
    from fields.numerics.geometry import make_patch

    p = fields.Parameters()
    patch = make_patch("2d", p.sites["bone_marrow"], p.geometry, seed=1000)
    o2 = run_2d["bone_marrow"]["oxygen"].isel(time=-1).values.ravel()
    d = patch.distance_to_wall_um
    assert o2[d < 10].mean() > o2[(d > 20) & (d < 40)].mean() > o2[d > 50].mean()


def test_bone_marrow_more_hypoxic_than_lung(krogh_all_sites, run_2d):
    for tree in (krogh_all_sites, run_2d):
        bm = float(tree["bone_marrow"]["hypoxia"].isel(time=-1).mean())
        lung = float(tree["lung"]["hypoxia"].isel(time=-1).mean())
        assert bm > 5 * lung
    assert float(run_2d["bone_marrow"]["hypoxic_fraction"][-1]) > float(
        run_2d["lung"]["hypoxic_fraction"][-1]
    )


def _held_primary(cells: float, **extra) -> fields.Parameters:
    """A primary of constant size (very slow exponential growth)."""
    return fields.Parameters().with_updates(
        {
            "primary.growth_law": "exponential",
            "primary.tvdt_days": 1e9,
            "primary.initial_cells": cells,
            **extra,
        }
    )


def test_larger_primary_raises_plasma_vegf_and_niche():
    sites = ["lung", "liver", "lymph_node"]
    small = fields.simulate(_held_primary(1e8), sites=sites, days=200, geometry="krogh")
    large = fields.simulate(_held_primary(5e10), sites=sites, days=200, geometry="krogh")
    assert float(large["plasma_vegf"][-1]) > 2 * float(small["plasma_vegf"][-1])
    for site in sites:
        assert float(large[site]["niche"].isel(time=-1).mean()) > float(
            small[site]["niche"].isel(time=-1).mean()
        )
        assert float(large[site]["niche_fraction"][-1]) >= float(small[site]["niche_fraction"][-1])
    assert sum(float(large[s]["niche_fraction"][-1]) for s in sites) > sum(
        float(small[s]["niche_fraction"][-1]) for s in sites
    )


def test_resection_returns_plasma_to_baseline_and_niche_decays():
    p = _held_primary(5e10, **{"primary.resection_day": 100.0})
    tree = fields.simulate(
        p, sites=["lung", "liver"], days=250, geometry="krogh", output_every_days=10
    )
    root = tree.dataset
    at_resection = root.sel(time=100.0)
    assert float(at_resection.plasma_vegf) > 2 * p.species["vegf"].plasma_baseline_pg_per_ml
    assert float(root.tumour_cells[-1]) == 0.0
    np.testing.assert_allclose(
        float(root.plasma_vegf[-1]), p.species["vegf"].plasma_baseline_pg_per_ml, rtol=1e-9
    )
    np.testing.assert_allclose(
        float(root.plasma_tgfb[-1]), p.species["tgfb"].plasma_baseline_pg_per_ml, rtol=1e-9
    )
    for site in ("lung", "liver"):
        niche = tree[site]["niche"].mean(dim="r")
        assert float(tree[site]["niche_fraction"].sel(time=100.0)) > 0.5
        assert float(tree[site]["niche_fraction"][-1]) == 0.0
        after = niche.sel(time=slice(110.0, None)).values
        assert np.all(np.diff(after) < 0)


def test_hypoxia_raises_lox_and_stiffness():
    base = fields.Parameters()
    low_o2 = base.with_updates({"sites.bone_marrow.vessel_po2_mmhg": 12.0})
    runs = [
        fields.simulate(p, sites=["bone_marrow"], days=365, geometry="krogh")
        for p in (base, low_o2)
    ]
    hyp, lox, stiff = (
        [float(r["bone_marrow"][v].isel(time=-1).mean()) for r in runs]
        for v in ("hypoxia", "lox", "stiffness")
    )
    assert hyp[1] > hyp[0]
    assert lox[1] > lox[0]
    assert stiff[1] > stiff[0]


def test_higher_stiffness_raises_proliferating_share():
    shares = []
    for stiffness in (1.0, 8.0):
        p = _held_primary(1e10, **{"sites.lung.baseline_stiffness_kpa": stiffness})
        ds = fields.simulate(p, sites=["lung"], days=720, geometry="krogh")["lung"].dataset
        q, pr = float(ds.dtc_dormant_total[-1]), float(ds.dtc_proliferating_total[-1])
        shares.append(pr / (pr + q))
    assert shares[1] > shares[0]


def test_2d_small_patch_runs_and_store_fields_false(small_2d_params):
    tree = fields.simulate(
        small_2d_params,
        sites=["brain"],
        days=60,
        geometry="2d",
        output_every_days=30,
        store_fields=False,
    )
    ds = tree["brain"].dataset
    assert "oxygen" not in ds and "niche_fraction" in ds and "vessel" in ds
    np.testing.assert_array_equal(tree["time"].values, [0.0, 30.0, 60.0])


def test_outputs_land_on_requested_days():
    tree = fields.simulate(
        _held_primary(1e9), sites=["lung"], days=100, geometry="krogh", output_every_days=30
    )
    np.testing.assert_array_equal(tree["time"].values, [0.0, 30.0, 60.0, 90.0, 100.0])


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"sites": ["heart"]}, "site = 'heart'"),
        ({"geometry": "4d"}, "geometry = '4d'"),
        ({"days": -1.0}, "days = -1.0"),
        ({"days": float("nan")}, "days = nan"),
        ({"output_every_days": 0}, "output_every_days = 0"),
        ({"sites": []}, "sites = []"),
        ({"seed": -3}, "seed = -3"),
    ],
)
def test_bad_simulate_arguments(kwargs, fragment):
    with pytest.raises(FieldsInputError) as info:
        fields.simulate(
            fields.Parameters(), **{"sites": ["lung"], "days": 10, "geometry": "krogh", **kwargs}
        )
    assert fragment in str(info.value)


def test_3d_geometry_small_cube():
    p = fields.Parameters().with_updates({"geometry.domain_3d_um": 100.0})
    tree = fields.simulate(p, sites=["bone_marrow"], days=30, geometry="3d", output_every_days=15)
    assert tree["bone_marrow"]["oxygen"].dims == ("time", "z", "y", "x")
    assert tree["bone_marrow"]["oxygen"].shape == (3, 10, 10, 10)
    check_bounds(tree)
