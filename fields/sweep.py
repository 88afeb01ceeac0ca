"""Parameter sweeps on Dask: one run per task, a resumable zarr store, Sobol indices (DESIGN 7).

``sweep(study, store=..., client=None)`` runs every design point of a study with
:func:`fields.simulate` and returns one ``xarray.Dataset`` with a ``run`` dimension, the varied
parameters as coordinates on ``run``, a ``site`` dimension for per-site outputs and ``time`` for
series. With a store, every finished run is written at once into its own chunk (zarr, one chunk
per run) and marked done only after its data, so a sweep killed at any moment resumes with the
runs that are missing. A run that raises is recorded with its message; the others go on.

Execution: a ``dask.distributed.LocalCluster`` of single-threaded worker processes by default,
an existing cluster (a ``Client`` or a scheduler address), or ``workers=0`` to run in this
process. A run depends only on (parameters, seed, package version), so results are bit-identical
whatever the number of workers.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import logging
import math
import os
import shutil
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from fields.errors import FieldsInputError
from fields.geometry import Patch
from fields.parameters import Parameters
from fields.study import (
    RUN_SCALARS,
    SITE_SCALARS,
    Study,
    load_study,
)

STATUS_PENDING, STATUS_DONE, STATUS_FAILED = 0, 1, 2
ERROR_WIDTH = 400
DETECTION_CELLS_1E9 = 1e9

#: units and long names of the derived outputs (series reuse fields.output.ATTRS)
DERIVED_ATTRS: dict[str, tuple[str, str]] = {
    "diameter_at_first_niche_mm": (
        "mm",
        "primary diameter when the site's niche fraction first exceeds 0 (NaN: never)",
    ),
    "hypoxic_distance_um": (
        "um",
        "distance from the capillary wall to the nearest hypoxic tissue, last output (NaN: none)",
    ),
    "first_outgrowth_days": ("day", "first time to outgrowth over the sites (NaN: none)"),
    "resection_day": ("day", "day of resection of the primary (NaN: not resected)"),
    "time_resection_to_outgrowth_days": (
        "day",
        "time from resection to the first distant outgrowth (NaN: none or no resection)",
    ),
    "time_to_1e9_cells_days": (
        "day",
        "time for the primary to reach 1e9 cells, log-linear between outputs (NaN: never)",
    ),
}


class SweepError(RuntimeError):
    """Some runs failed; the store holds the others and the messages."""


def _attrs(name: str) -> dict[str, str]:
    from fields.output import ATTRS

    units, long_name = ATTRS.get(name) or DERIVED_ATTRS[name]
    return {"units": units, "long_name": long_name}


# ------------------------------------------------------------------------------ one run
def _crossing(times: np.ndarray, values: np.ndarray, level: float) -> float:
    """First time a positive series reaches level, log-linear between samples (NaN: never)."""
    from fields.simulate import crossing_time

    above = np.nonzero(values >= level)[0]
    if above.size == 0:
        return math.nan
    i = int(above[0])
    if i == 0:
        return float(times[0])
    return crossing_time(times[i - 1], times[i], values[i - 1], values[i], level)


def run_outputs(study: Study, params: Parameters, tree: xr.DataTree) -> dict[str, np.ndarray]:
    """The study's outputs of one run (``params`` are the run's), as arrays shaped (time),
    (site) or (site, time)."""
    import fields.primary as primary

    times = tree["time"].values
    diameter = tree["tumour_diameter_mm"].values
    values: dict[str, np.ndarray] = {}
    outgrowth = np.array([float(tree[s]["time_to_outgrowth_days"]) for s in study.sites])
    resect = primary.resection_time(params.primary)
    resect_day = math.nan if resect is None or resect >= study.days else float(resect)
    first = float(np.nanmin(outgrowth)) if np.isfinite(outgrowth).any() else math.nan
    for name in study.outputs:
        if name in tree.data_vars:  # systemic series
            values[name] = np.asarray(tree[name].values, dtype=float)
        elif name in RUN_SCALARS:
            if name == "first_outgrowth_days":
                values[name] = np.array(first)
            elif name == "resection_day":
                values[name] = np.array(resect_day)
            elif name == "time_resection_to_outgrowth_days":
                values[name] = np.array(first - resect_day)
            else:
                values[name] = np.array(
                    _crossing(times, tree["tumour_cells"].values, DETECTION_CELLS_1E9)
                )
        elif name == "time_to_outgrowth_days":
            values[name] = outgrowth
        elif name == "diameter_at_first_niche_mm":
            found = []
            for s in study.sites:
                niche = tree[s]["niche_fraction"].values
                hits = np.nonzero(niche > 0.0)[0]
                found.append(float(diameter[hits[0]]) if hits.size else math.nan)
            values[name] = np.array(found)
        elif name == "hypoxic_distance_um":
            from fields.simulate import site_patches

            patches = site_patches(params, study.sites, study.geometry, study.seed)
            threshold = params.oxygen.hypoxia_threshold_mmhg
            values[name] = np.array(
                [_hypoxic_distance(tree[s], patches[s], threshold) for s in study.sites]
            )
        else:  # site series
            values[name] = np.stack([tree[s][name].values for s in study.sites])
    return values


def _hypoxic_distance(ds: xr.Dataset, patch: Patch, threshold: float) -> float:
    """Smallest distance to the capillary wall of a hypoxic cell at the last output (um)."""
    hypoxic = ds["oxygen"].isel(time=-1).values.ravel() < threshold
    if not hypoxic.any():
        return math.nan
    return float(patch.distance_to_wall_um[hypoxic].min())


def run_one(study: Study, index: int, updates: dict[str, Any]) -> dict[str, Any]:
    """One run on a worker. Never raises: failures come back as a message."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        import fields

        params = study.parameters_for(updates)
        tree = fields.simulate(
            params,
            sites=list(study.sites),
            days=study.days,
            geometry=study.geometry,
            seed=study.seed,
            output_every_days=study.output_every_days,
            store_fields=study.needs_fields,
            progress=False,
        )
        return {"index": index, "ok": True, "values": run_outputs(study, params, tree)}
    except Exception as exc:  # isolate the failure; the sweep goes on
        return {"index": index, "ok": False, "error": f"{type(exc).__name__}: {exc}"}


# ------------------------------------------------------------------------- the dataset
def template(study: Study, design: list[dict[str, Any]]) -> xr.Dataset:
    """The sweep's Dataset, every value NaN and every run pending."""
    from fields.simulate import SYSTEMIC_SERIES, output_days

    n = len(design)
    times = output_days(study.days, study.output_every_days)
    sites = np.array(study.sites, dtype=object).astype(str)
    data: dict[str, xr.Variable] = {}
    for name in study.outputs:
        if name in SYSTEMIC_SERIES:
            dims, shape = ("run", "time"), (n, times.size)
        elif name in RUN_SCALARS:
            dims, shape = ("run",), (n,)
        elif name in SITE_SCALARS:
            dims, shape = ("run", "site"), (n, sites.size)
        else:
            dims, shape = ("run", "site", "time"), (n, sites.size, times.size)
        data[name] = xr.Variable(dims, np.full(shape, np.nan), attrs=_attrs(name))
    data["status"] = xr.Variable(
        ("run",),
        np.zeros(n, dtype=np.int8),
        attrs={
            "long_name": "run status",
            "flag_values": "0 1 2",
            "flag_meanings": "pending done failed",
        },
    )
    data["error"] = xr.Variable(
        ("run",),
        np.full(n, "", dtype=f"<U{ERROR_WIDTH}"),
        attrs={"long_name": "error message of a failed run"},
    )
    coords: dict[str, Any] = {
        "run": xr.Variable(("run",), np.arange(n), attrs={"long_name": "run index"}),
        "site": xr.Variable(("site",), sites, attrs={"long_name": "organ site"}),
        "time": xr.Variable(("time",), times, attrs=_attrs("time")),
    }
    for v in study.varied:
        column = [_coord_value(row[v.name]) for row in design]
        unit, doc = _parameter_unit(study, v.name)
        coords[v.name] = xr.Variable(
            ("run",), np.array(column), attrs={"units": unit, "long_name": f"{v.name}: {doc}"}
        )
    from fields import __version__

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


# ----------------------------------------------------------------------------- the store
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
        # build under a temporary name and rename: a kill never leaves a half-created store
        tmp = path.with_name(f".{path.name}.creating-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        encoding = {
            name: {"chunks": (1, *var.shape[1:])}
            for name, var in ds.data_vars.items()
            if var.dims[:1] == ("run",)
        }
        try:
            ds.to_zarr(tmp, mode="w", zarr_format=2, consolidated=True, encoding=encoding)
            os.replace(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
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


class _MemoryStore:
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


# ----------------------------------------------------------------------------- execution
@contextlib.contextmanager
def _executor(client: Any, workers: int | None, n_runs: int) -> Iterator[Any]:
    """A dask Client (given, by address, or a new LocalCluster), or None for in-process."""
    if workers == 0 and client is None:
        yield None
        return
    from dask.distributed import Client, LocalCluster

    if client is not None:
        if isinstance(client, str):
            try:
                connected = Client(client, timeout="10s")
            except (OSError, ValueError) as exc:
                raise FieldsInputError(
                    f"--scheduler = '{client}' is not allowed: cannot reach it ({exc})"
                ) from None
            with connected:
                yield connected
        else:
            yield client
        return
    n = workers if workers is not None else min(os.cpu_count() or 1, max(n_runs, 1))
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise FieldsInputError(f"workers = {workers!r} is not allowed: an integer >= 0")
    with (
        LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
            env={"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
        ) as cluster,
        Client(cluster) as c,
    ):
        yield c


def _progress(total: int, done: int, progress: bool | None):
    if progress is False or (progress is None and not sys.stderr.isatty()):
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=done, unit="run", desc="sweep", file=sys.stderr)


def sweep(
    study: str | Path | Study,
    store: str | Path | None = None,
    client: Any = None,
    workers: int | None = None,
    progress: bool | None = None,
) -> xr.Dataset:
    """Run (or resume) a study and return its Dataset (dims run, site, time).

    ``store``: a ``.zarr`` path written run by run; an existing store of the same study is
    resumed (only pending or failed runs run again). ``client``: a ``dask.distributed.Client``
    or a scheduler address; None starts a ``LocalCluster`` of ``workers`` single-threaded
    processes (default: one per core), or runs in this process when ``workers=0``.
    Failed runs are listed in a warning and kept in ``status``/``error``.
    """
    if not isinstance(study, Study):
        study = load_study(study)
    design = study.design()
    ds = template(study, design)
    # An existing store is checked (and its finished runs counted) first; a new one is created
    # only once the cluster is reachable, so a bad --scheduler leaves nothing on disk.
    target: RunStore | _MemoryStore | None = None
    if store is None:
        target = _MemoryStore(ds)
    elif Path(store).exists():
        target = RunStore.open_or_create(store, ds)
    status = target.status() if target is not None else np.zeros(len(design), dtype=np.int8)
    pending = [int(i) for i in np.nonzero(status != STATUS_DONE)[0]]
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        executor = (
            stack.enter_context(_executor(client, workers, len(pending))) if pending else None
        )
        if target is None:
            target = RunStore.open_or_create(store, ds)
        bar = _progress(len(design), len(design) - len(pending), progress)
        if bar is not None:
            stack.callback(bar.close)
        if pending and executor is None:
            for i in pending:
                target.write(run_one(study, i, design[i]))
                if bar is not None:
                    bar.update(1)
        elif pending:
            _run_distributed(executor, study, design, pending, target, bar)
    elapsed = time.perf_counter() - started
    result = target.load()
    failed = failed_runs(result)
    if study.sensitivity_outputs and (pending or "sobol_S1" not in result):
        if failed:
            warnings.warn(f"Sobol indices not computed: {len(failed)} runs failed", stacklevel=2)
        else:
            indices = sobol_indices(study, result)
            indices.attrs = dict(result.attrs)  # appending must not drop the sweep's attributes
            target.add(indices)
            result = target.load()
    result.attrs["last_session_runs"] = len(pending)
    result.attrs["last_session_seconds"] = round(elapsed, 3)
    if failed:
        lines = "; ".join(f"run {i}: {message}" for i, message in failed[:10])
        warnings.warn(f"{len(failed)} of {len(design)} runs failed: {lines}", stacklevel=2)
    return result


def _run_distributed(client, study, design, pending, target, bar) -> None:
    from dask.distributed import as_completed

    study_future = client.scatter(study, broadcast=True)
    tag = study.fingerprint()
    futures = {
        client.submit(run_one, study_future, i, design[i], key=f"fields-{tag}-{i}", pure=False): i
        for i in pending
    }
    for future in as_completed(futures):
        i = futures[future]
        try:
            result = future.result()
        except Exception as exc:  # the worker died (e.g. out of memory), not the model
            result = {"index": i, "ok": False, "error": f"{type(exc).__name__}: {exc}"}
        target.write(result)
        future.release()
        if bar is not None:
            bar.update(1)


# -------------------------------------------------------------------------- sensitivity
def sensitivity_output(study: Study, ds: xr.Dataset, name: str) -> dict[str, np.ndarray]:
    """Scalar per run for Sobol analysis, labelled 'site/name' or 'name'.

    Series use their last value; cell counts (``*_total``, ``tumour_cells``) are analysed as
    log10(max(count, 1)) because they span many decades; a time that never happens (NaN) counts
    as the horizon (right-censored), so every run has a finite output.
    """
    da = ds[name]
    if "time" in da.dims:
        da = da.isel(time=-1)
    if da.attrs.get("units") == "day":
        da = da.fillna(study.days)
    if name.endswith("_total") or name == "tumour_cells":
        da = np.log10(np.maximum(da, 1.0))
        name = f"log10_{name}"
    if "site" in da.dims:
        return {f"{s}/{name}": da.sel(site=s).values for s in ds["site"].values}
    return {name: da.values}


def sobol_indices(study: Study, ds: xr.Dataset) -> xr.Dataset:
    """First-order and total Sobol indices with 95 % confidence intervals (SALib)."""
    from SALib.analyze import sobol

    problem = study.salib_problem()
    labels, rows = [], {"S1": [], "S1_conf": [], "ST": [], "ST_conf": []}
    for name in study.sensitivity_outputs:
        for label, y in sensitivity_output(study, ds, name).items():
            y = np.asarray(y, dtype=float)
            if np.ptp(y) == 0.0:
                res = {k: np.zeros(problem["num_vars"]) for k in rows}
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    res = sobol.analyze(
                        problem,
                        y,
                        calc_second_order=False,
                        conf_level=0.95,
                        seed=study.seed,
                        print_to_console=False,
                    )
            labels.append(label)
            for key in rows:
                rows[key].append(np.asarray(res[key], dtype=float))
    coords = {
        "sobol_output": xr.Variable(
            ("sobol_output",), np.array(labels, dtype=str), attrs={"long_name": "output analysed"}
        ),
        "parameter": xr.Variable(
            ("parameter",),
            np.array(problem["names"], dtype=str),
            attrs={"long_name": "varied parameter"},
        ),
    }
    long = {
        "S1": "first-order Sobol index",
        "S1_conf": "95 % confidence half-width of the first-order Sobol index",
        "ST": "total-order Sobol index",
        "ST_conf": "95 % confidence half-width of the total-order Sobol index",
    }
    data = {
        f"sobol_{key}": xr.Variable(
            ("sobol_output", "parameter"),
            np.array(values),
            attrs={"units": "1", "long_name": long[key]},
        )
        for key, values in rows.items()
    }
    return xr.Dataset(data, coords=coords)


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
