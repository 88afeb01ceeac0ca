"""Output contract: names, units, long names, provenance, netCDF round trip."""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

import fields
from fields.io import write_netcdf

ROOT_VARS = {
    "tumour_cells",
    "tumour_diameter_mm",
    *(f"plasma_{name}" for name in fields.SPECIES_NAMES),
    "dissemination_rate",
    "p_metastatic",
    "expected_detectable_lesions",
    "metastatic_burden_cells",
    "diagnosis_day",
    "resection_day",
    "death_day",
}
SITE_VARS = {
    "oxygen",
    *fields.SPECIES_NAMES,
    "hypoxia",
    "lox",
    "stiffness",
    "niche",
    "dtc_dormant",
    "dtc_proliferating",
    "vessel",
    "hypoxic_fraction",
    "mean_stiffness",
    "niche_fraction",
    "dtc_dormant_total",
    "dtc_proliferating_total",
    "time_to_outgrowth_days",
    "expected_detectable_lesions",
    "p_detectable_metastasis",
    "metastasis_cells",
    "founded_lesions",
    "lesion_density",
}


def test_contract_names_units_and_provenance(run_2d):
    tree = run_2d
    assert set(tree.dataset.data_vars) == ROOT_VARS
    for key in ("parameters", "seed", "fields_version", "created"):
        assert key in tree.attrs
    assert fields.Parameters.from_json(tree.attrs["parameters"]) == fields.Parameters()
    assert json.loads(tree.attrs["parameters"])["primary"]["tvdt_days"] == 150.0
    assert tree.attrs["fields_version"] == fields.__version__
    for site in ("lung", "bone_marrow"):
        ds = tree[site].dataset
        assert set(ds.data_vars) == SITE_VARS
        assert ds["time_to_outgrowth_days"].ndim == 0
        assert ds["vessel"].dims == ("y", "x")
    for node in tree.subtree:
        for name, var in node.dataset.variables.items():
            assert var.attrs.get("units"), f"{node.path}/{name} has no units"
            assert var.attrs.get("long_name"), f"{node.path}/{name} has no long_name"


def test_netcdf_round_trip_identical(run_2d, tmp_path):
    path = tmp_path / "result.nc"
    run_2d.to_netcdf(path)
    back = xr.open_datatree(path)
    assert back.attrs == run_2d.attrs
    for node in run_2d.subtree:
        other = back[node.path].dataset
        for name, var in node.dataset.variables.items():
            np.testing.assert_array_equal(
                other[name].values, var.values, err_msg=f"{node.path}/{name}"
            )
            assert other[name].attrs == var.attrs, f"{node.path}/{name}"
        assert other.attrs == node.dataset.attrs
    xr.testing.assert_identical(back, run_2d)


def test_write_netcdf_is_atomic_and_compressed(run_2d, tmp_path):
    path = write_netcdf(run_2d, tmp_path / "r.nc")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.nc"]
    back = xr.open_datatree(path)
    xr.testing.assert_identical(back, run_2d)
