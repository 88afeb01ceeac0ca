"""Result files: netCDF written atomically, opened with one clear error for a foreign file."""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from fields.core.errors import FieldsInputError
from fields.core.files import atomic_path, check_output_folder
from fields.parameters import Parameters


def check_netcdf_path(path: str | Path) -> Path:
    """Validate a result path before any work is done (suffix and folder)."""
    path = Path(path)
    if path.suffix not in (".nc", ".nc4", ".netcdf"):
        raise FieldsInputError(f"output path = '{path}' is not allowed: a file name ending in .nc")
    check_output_folder(path)
    return path


def write_netcdf(tree: xr.DataTree, path: str | Path) -> Path:
    """Write atomically: a temporary file in the same folder, renamed over ``path`` when complete.
    Arrays of two or more dimensions are zlib-compressed."""
    path = check_netcdf_path(path)
    encoding = {}
    for node in tree.subtree:
        enc = {
            name: {"zlib": True, "complevel": 4}
            for name, var in node.dataset.data_vars.items()
            if var.ndim >= 2
        }
        if enc:
            encoding[node.path] = enc
    with atomic_path(path) as tmp:
        tree.to_netcdf(tmp, engine="h5netcdf", encoding=encoding)
    return path


def open_result(path: str | Path) -> xr.DataTree:
    """Open a result file written by :func:`write_netcdf` (or ``tree.to_netcdf``)."""
    path = Path(path)
    if not path.is_file():
        raise FieldsInputError(f"result file = '{path}' is not allowed: no such file")
    try:
        tree = xr.open_datatree(path)
    except Exception as exc:
        raise FieldsInputError(
            f"result file = '{path}' is not a readable netCDF result: {exc}"
        ) from None
    if "parameters" not in tree.attrs:
        raise FieldsInputError(
            f"result file = '{path}' is not a fields result (no 'parameters' attribute)"
        )
    return tree


def parameters_of(tree: xr.DataTree) -> Parameters:
    """The resolved parameters stored in a result."""
    return Parameters.from_json(tree.attrs["parameters"])
