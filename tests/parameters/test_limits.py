"""Mesh limits follow the geometry in use: each is checked where it applies, and only there."""

from __future__ import annotations

import pytest

import fields
from fields.cli import main
from fields.parameters import check_geometry

LIMITS = [  # (geometry, key, value beyond that geometry's limit, the limit in the message)
    ("2d", "geometry.resolution_um", 0.01, "at most 4e+06 cells in the 2d geometry"),
    ("2d", "geometry.domain_um", 1e5, "at most 4e+06 cells in the 2d geometry"),
    ("krogh", "geometry.krogh_cells", 1_000_000, "at most 1e+05 cells in the krogh geometry"),
    ("3d", "geometry.domain_3d_um", 5000.0, "at most 1e+06 cells in the 3d geometry"),
    ("3d", "geometry.resolution_um", 2.0, "at most 1e+06 cells in the 3d geometry"),
]


@pytest.mark.parametrize(("geometry", "key", "value", "fragment"), LIMITS)
def test_each_geometry_refuses_its_own_limit_and_only_its_own(geometry, key, value, fragment):
    p = fields.Parameters().with_updates({key: value})  # the tree alone accepts it
    with pytest.raises(fields.ParameterError) as err:
        check_geometry(p, geometry)
    assert key in str(err.value) and fragment in str(err.value)
    for other in {"2d", "krogh", "3d"} - {geometry}:
        if key.endswith("resolution_um") and other != "krogh":
            continue  # the grid spacing sets both grid geometries
        check_geometry(p, other)


@pytest.mark.parametrize(("geometry", "key", "value", "fragment"), LIMITS)
def test_cli_refuses_a_geometry_limit_with_exit_2_and_no_file(
    geometry, key, value, fragment, tmp_path, capsys
):
    out = tmp_path / "r.nc"
    args = ["run", "--geometry", geometry, "--site", "lung", "--days", "1"]
    code = main([*args, "--set", f"{key}={value}", "--out", str(out)])
    assert code == 2 and not out.exists()
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and key in err and fragment in err


def test_fine_2d_grid_on_a_small_patch_runs():
    """2 um spacing over a 200 um patch (100 x 100 cells): fine in 2d, although the same
    spacing would be 250^3 cells on the default 3d cube."""
    p = fields.Parameters().with_updates(
        {"geometry.resolution_um": 2.0, "geometry.domain_um": 200.0}
    )
    tree = fields.simulate(p, sites=["lung"], days=2, geometry="2d", output_every_days=1)
    assert tree["lung"].sizes["x"] == 100 and tree["lung"].sizes["y"] == 100
    with pytest.raises(fields.ParameterError, match="3d geometry"):
        fields.simulate(p, sites=["lung"], days=2, geometry="3d")
