"""xarray DataTree assembly with CF attributes, netCDF I/O and provenance (DESIGN 5)."""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

with contextlib.suppress(ImportError):  # xarray imports dask on first use when it is installed;
    import dask.array  # noqa: F401  # pay that at import, not inside the first simulation

from fields.errors import FieldsInputError
from fields.parameters import Parameters

if TYPE_CHECKING:  # pragma: no cover
    from fields.simulate import Recorder, SiteModel

#: name -> (units, long_name). Units follow CF/udunits spelling.
ATTRS: dict[str, tuple[str, str]] = {
    "time": ("day", "time since the start of the simulation"),
    "x": ("um", "x position in the tissue patch"),
    "y": ("um", "y position in the tissue patch"),
    "z": ("um", "z position in the tissue patch"),
    "r": ("um", "radial distance from the capillary axis"),
    "tumour_cells": ("1", "primary tumour cells"),
    "tumour_diameter_mm": ("mm", "primary tumour diameter (sphere of equal volume)"),
    "plasma_vegf": ("pg/mL", "plasma VEGF-A concentration"),
    "plasma_tgfb": ("pg/mL", "plasma active TGF-beta concentration"),
    "dissemination_rate": ("day-1", "tumour cells shed into the blood per day"),
    "oxygen": ("mmHg", "tissue oxygen partial pressure"),
    "vegf": ("pg/mL", "interstitial VEGF-A concentration"),
    "tgfb": ("pg/mL", "interstitial TGF-beta concentration"),
    "hypoxia": ("1", "hypoxia response H(O) in [0, 1]"),
    "lox": ("1", "lysyl oxidase activity (a.u., 1 at full hypoxia)"),
    "stiffness": ("kPa", "ECM Young's modulus"),
    "niche": ("1", "pre-metastatic niche level in [0, 1]"),
    "dtc_dormant": ("mm-3", "dormant DTC density (cells per mm^3)"),
    "dtc_proliferating": ("mm-3", "proliferating DTC density (cells per mm^3)"),
    "vessel": ("1", "capillary mask (1: cell holds or touches a capillary)"),
    "hypoxic_fraction": ("1", "tissue volume fraction below the hypoxia threshold"),
    "mean_stiffness": ("kPa", "patch-mean ECM stiffness"),
    "niche_fraction": ("1", "tissue volume fraction with niche level >= 0.5"),
    "dtc_dormant_total": ("1", "dormant DTCs in the whole organ (cells)"),
    "dtc_proliferating_total": ("1", "proliferating DTCs in the whole organ (cells)"),
    "time_to_outgrowth_days": (
        "day",
        "first time proliferating DTCs in the organ exceed the detection size (NaN: never)",
    ),
}


def _var(name: str, dims: tuple[str, ...], data: Any) -> xr.Variable:
    units, long_name = ATTRS[name]
    return xr.Variable(dims, data, attrs={"units": units, "long_name": long_name})


def _coord(name: str, values: np.ndarray) -> xr.Variable:
    return _var(name, (name,), np.asarray(values, dtype=float))


def build_tree(
    p: Parameters,
    models: dict[str, SiteModel],
    rec: Recorder,
    outgrowth: dict[str, float],
    *,
    geometry: str,
    seed: int,
    days: float,
    events: list[tuple[float, str]],
    onset_day: float,
) -> xr.DataTree:
    """Assemble the result tree from the recorded outputs."""
    from fields import __version__

    time = _coord("time", np.array(rec.times))
    root = xr.Dataset(
        {name: _var(name, ("time",), np.array(values)) for name, values in rec.systemic.items()},
        coords={"time": time},
        attrs={
            "title": "fields: pre-metastatic niche simulation",
            "Conventions": "CF-1.10",
            "parameters": p.to_json(),
            "seed": int(seed),
            "fields_version": __version__,
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "geometry": geometry,
            "sites": ",".join(models),
            "days": float(days),
            "events": json.dumps([[float(t), label] for t, label in events]),
            "dissemination_onset_day": float(onset_day) if math.isfinite(onset_day) else -1.0,
        },
    )
    children: dict[str, xr.Dataset] = {"/": root}
    for name, model in models.items():
        patch = model.patch
        variables: dict[str, xr.Variable] = {
            key: _var(key, ("time",), np.array(values))
            for key, values in rec.site_series[name].items()
        }
        variables["vessel"] = _var(
            "vessel", patch.dims, patch.to_grid(patch.vessel.astype(np.int8))
        )
        variables["time_to_outgrowth_days"] = _var(
            "time_to_outgrowth_days", (), float(outgrowth[name])
        )
        if rec.store_fields:
            for key, frames in rec.site_fields[name].items():
                variables[key] = _var(key, ("time", *patch.dims), np.stack(frames))
        coords = {dim: _coord(dim, patch.coords[dim]) for dim in patch.dims}
        site = p.sites[name]
        children[f"/{name}"] = xr.Dataset(
            variables,
            coords=coords,
            attrs={
                "site": name,
                "organ_volume_ml": site.organ_volume_ml,
                "baseline_stiffness_kpa": site.baseline_stiffness_kpa,
                "vessel_po2_mmhg": site.vessel_po2_mmhg,
            },
        )
    return xr.DataTree.from_dict(children)


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[str]:
    """Yield a temporary name beside ``path``; rename it over ``path`` only if the block succeeds.

    A kill at any moment leaves either the old complete file or the new complete file.
    """
    folder = check_output_folder(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=folder)
    os.close(fd)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a result is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_output_folder(path: Path) -> Path:
    """The folder an output goes to; it must exist."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FieldsInputError(
            f"output path = '{path}' is not allowed: folder '{folder}' does not exist"
        )
    return folder


def check_netcdf_path(path: str | Path) -> Path:
    """Validate a result path before any work is done (suffix and folder)."""
    path = Path(path)
    if path.suffix not in (".nc", ".nc4", ".netcdf"):
        raise FieldsInputError(f"output path = '{path}' is not allowed: a file name ending in .nc")
    check_output_folder(path)
    return path


def write_netcdf(tree: xr.DataTree, path: str | Path) -> Path:
    """Write atomically: a temporary file in the same folder, renamed over ``path`` when complete."""
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
