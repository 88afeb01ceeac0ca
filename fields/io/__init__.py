"""Input and output: the DataTree contract of a run (CF attributes, provenance) and result files."""

from fields.io.attrs import ATTRS, attrs_for
from fields.io.netcdf import check_netcdf_path, open_result, parameters_of, write_netcdf
from fields.io.tree import build_tree

__all__ = [
    "ATTRS",
    "attrs_for",
    "build_tree",
    "check_netcdf_path",
    "open_result",
    "parameters_of",
    "write_netcdf",
]
