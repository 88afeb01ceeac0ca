"""A sweep's Dataset and its stores: a zarr store written one run (one chunk) at a time, or
memory. Data first, status last, so a run killed mid-write is simply redone on resume."""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from fields.core.errors import FieldsInputError
from fields.core.version import __version__
from fields.engine.inputs import output_days
from fields.experiments.outputs import output_attrs
from fields.experiments.study import RUN_SCALARS, SITE_SCALARS, Study

#: Run status in a store: not run yet, finished, failed (with its message in ``error``).
STATUS_PENDING = 0
STATUS_DONE = 1
STATUS_FAILED = 2
ERROR_WIDTH = 400


def template(study: Study, design: list[dict[str, Any]]) -> xr.Dataset:
    """The sweep's Dataset, every value NaN and every run pending."""
    n = len(design)
    times = output_days(study.days, study.output_every_days)
    sites = np.array(study.sites, dtype=object).astype(str)
    data: dict[str, xr.Variable] = {}
    for name in study.outputs:
        if name in study.systemic_series:
            dims, shape = ("run", "time"), (n, times.size)
        elif name in RUN_SCALARS:
            dims, shape = ("run",), (n,)
        elif name in SITE_SCALARS:
            dims, shape = ("run", "site"), (n, sites.size)
        else:
            dims, shape = ("run", "site", "time"), (n, sites.size, times.size)
        data[name] = xr.Variable(dims, np.full(shape, np.nan), attrs=output_attrs(study, name))
    data.update(status_variables("run", n, ERROR_WIDTH))
    coords: dict[str, Any] = {
        "run": xr.Variable(("run",), np.arange(n), attrs={"long_name": "run index"}),
        "site": xr.Variable(("site",), sites, attrs={"long_name": "organ site"}),
        "time": xr.Variable(("time",), times, attrs=output_attrs(study, "time")),
    }
    for v in study.varied:
        column = [_coord_value(row[v.name]) for row in design]
        unit, doc = _parameter_unit(study, v.name)
        coords[v.name] = xr.Variable(
            ("run",), np.array(column), attrs={"units": unit, "long_name": f"{v.name}: {doc}"}
        )
    attrs = {
        "title": f"fields sweep: {study.name}",
        "study": study.name,
        "description": study.description,
        "study_fingerprint": study.fingerprint(),
        "sampling": study.sampling,
        "sites": ",".join(study.sites),
        "geometry": study.geometry,
        "days": study.days,
        "seed": study.seed,
        "fields_version": __version__,
        "parameters": study.base.to_json(),
        "varied": json.dumps([v.name for v in study.varied]),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)


def create_zarr(path: Path, ds: xr.Dataset, dim: str, chunk: int) -> None:
    """Write ``ds`` as a new zarr store chunked by ``chunk`` along ``dim``; it is built under a
    temporary name and renamed, so a kill never leaves a half-created store."""
    tmp = path.with_name(f".{path.name}.creating-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    encoding = {
        name: {"chunks": (chunk, *var.shape[1:])}
        for name, var in ds.data_vars.items()
        if var.dims[:1] == (dim,)
    }
    try:
        ds.to_zarr(tmp, mode="w", zarr_format=2, consolidated=True, encoding=encoding)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def status_variables(dim: str, n: int, width: int) -> dict[str, xr.Variable]:
    """``status`` (pending, done, failed) and ``error`` (the message of a failure) per ``dim``."""
    return {
        "status": xr.Variable(
            (dim,),
            np.zeros(n, dtype=np.int8),
            attrs={
                "long_name": f"{dim} status",
                "flag_values": "0 1 2",
                "flag_meanings": "pending done failed",
            },
        ),
        "error": xr.Variable(
            (dim,),
            np.full(n, "", dtype=f"<U{width}"),
            attrs={"long_name": f"error message of a failed {dim}"},
        ),
    }


def _coord_value(value: Any) -> Any:
    """Coordinate value of a varied parameter; none/off/null (not set) become NaN."""
    if value is None or (isinstance(value, str) and value.lower() in ("none", "off", "null")):
        return math.nan
    if isinstance(value, bool):
        return float(value)
    return value


def _parameter_unit(study: Study, name: str) -> tuple[str, str]:
    for key, _value, unit, source in study.base.leaves():
        if key == name:
            return str(unit), str(source)
    return "", ""


class RunStore:
    """A zarr store holding one sweep, written one run (one chunk) at a time."""

    def __init__(self, path: Path) -> None:
        import zarr

        self.path = path
        self.group = zarr.open_group(str(path), mode="r+")

    @classmethod
    def open_or_create(cls, path: str | Path, ds: xr.Dataset) -> RunStore:
        path = Path(path)
        if path.suffix != ".zarr":
            raise FieldsInputError(f"store = '{path}' is not allowed: a path ending in .zarr")
        if path.exists():
            try:
                with xr.open_zarr(path, consolidated=True) as existing:
                    attrs = dict(existing.attrs)
            except Exception as exc:
                raise FieldsInputError(
                    f"store = '{path}' is not allowed: it exists and is not a sweep store ({type(exc).__name__})"
                ) from None
            if attrs.get("study_fingerprint") != ds.attrs["study_fingerprint"]:
                raise FieldsInputError(
                    f"store = '{path}' is not allowed: it holds another study or package version "
                    f"(fingerprint {attrs.get('study_fingerprint')}, this study "
                    f"{ds.attrs['study_fingerprint']}); choose a new --out or delete it"
                )
            return cls(path)
        if not path.parent.resolve().is_dir():
            raise FieldsInputError(f"store = '{path}' is not allowed: its folder does not exist")
        create_zarr(path, ds, "run", 1)
        return cls(path)

    def status(self) -> np.ndarray:
        return np.asarray(self.group["status"][:])

    def write(self, result: dict[str, Any]) -> None:
        """Data first, status last: a kill in between leaves the run pending (redone on resume)."""
        i = int(result["index"])
        if result["ok"]:
            for name, value in result["values"].items():
                self.group[name][i, ...] = value
            self.group["error"][i] = ""
            self.group["status"][i] = STATUS_DONE
        else:
            self.group["error"][i] = result["error"][:ERROR_WIDTH]
            self.group["status"][i] = STATUS_FAILED

    def load(self) -> xr.Dataset:
        return open_sweep(self.path)

    def add(self, ds: xr.Dataset) -> None:
        """Add or replace variables without a run dimension (sensitivity indices)."""
        ds.to_zarr(self.path, mode="a", zarr_format=2, consolidated=True)


class MemoryStore:
    def __init__(self, ds: xr.Dataset) -> None:
        self.ds = ds  # a fresh template, filled in place

    def status(self) -> np.ndarray:
        return self.ds["status"].values

    def write(self, result: dict[str, Any]) -> None:
        i = int(result["index"])
        if result["ok"]:
            for name, value in result["values"].items():
                self.ds[name].values[i, ...] = value
            self.ds["status"].values[i] = STATUS_DONE
        else:
            self.ds["error"].values[i] = result["error"][:ERROR_WIDTH]
            self.ds["status"].values[i] = STATUS_FAILED

    def load(self) -> xr.Dataset:
        return self.ds

    def add(self, extra: xr.Dataset) -> None:
        self.ds = self.ds.drop_vars([v for v in extra.variables if v in self.ds]).merge(extra)


def failed_runs(ds: xr.Dataset) -> list[tuple[int, str]]:
    """(run, message) of every failed run."""
    idx = np.nonzero(ds["status"].values == STATUS_FAILED)[0]
    return [(int(i), str(ds["error"].values[i])) for i in idx]


def open_sweep(path: str | Path) -> xr.Dataset:
    """Open a sweep store written by :func:`sweep` (loaded into memory)."""
    path = Path(path)
    if not path.is_dir():
        raise FieldsInputError(f"sweep store = '{path}' is not allowed: no such store")
    try:
        with xr.open_zarr(path, consolidated=True) as ds:
            return ds.load()
    except Exception as exc:
        raise FieldsInputError(
            f"sweep store = '{path}' is not allowed: not a readable zarr store ({type(exc).__name__})"
        ) from None
