"""Virtual patient cohorts on Dask: ``cohort(file, store=...)`` gives a Dataset with a ``patient``
dimension.

Patients run in chunks of :data:`CHUNK` (a Dask task and a zarr chunk each): sampled, run as
one batch on the batched engine, their events drawn (:mod:`fields.experiments.population.outcomes`). A chunk
is written data first, status last, so a cohort killed at any moment resumes with the chunks
that are missing; a failed patient keeps its message and the others go on. Results depend only
on (cohort file, seed, package version): not on the worker count.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from fields.core.errors import FieldsInputError
from fields.core.version import __version__
from fields.experiments.population.cohort_file import Cohort, load_cohort
from fields.experiments.population.cohort_run import (
    ERROR_WIDTH,
    OUTPUTS,
    empty_outputs,
    lead_months,
    months,
    run_chunk,
)
from fields.experiments.store import create_zarr, status_variables
from fields.experiments.sweep import _executor, broadcast

#: patients per task and per zarr chunk (fixed: chunks do not depend on the worker count)
CHUNK = 500


def template(cohort: Cohort) -> xr.Dataset:
    """The cohort's Dataset, every value empty and every patient pending."""
    n = cohort.patients
    empty = empty_outputs(cohort, n)
    data: dict[str, xr.Variable] = {}
    for name, value in empty.items():
        dims = ("patient", "site") if name == "detectable_lesions" else ("patient",)
        if name == "metastasis_free_probability":
            dims = ("patient", "month")
        if name == "expected_by_site":
            dims = ("patient", "site", "lead_month")
        units, long_name = OUTPUTS[name]
        data[name] = xr.Variable(dims, value, attrs={"units": units, "long_name": long_name})
    for key, dist in cohort.samples.items():
        leaf = {k: (u, s) for k, _v, u, s in cohort.base.leaves()}[key]
        data[key] = xr.Variable(
            ("patient",),
            np.full(n, np.nan),
            attrs={
                "units": str(leaf[0]),
                "long_name": f"{key} (sampled: {dist.describe()})",
                "source": dist.source,
            },
        )
    data.update(status_variables("patient", n, ERROR_WIDTH))
    coords = {
        "patient": xr.Variable(("patient",), np.arange(n), attrs={"long_name": "patient index"}),
        "site": xr.Variable(
            ("site",), np.array(cohort.sites, dtype=str), attrs={"long_name": "organ site"}
        ),
        "month": xr.Variable(
            ("month",),
            months(cohort),
            attrs={"units": "month", "long_name": "months after resection"},
        ),
        "lead_month": xr.Variable(
            ("lead_month",),
            lead_months(cohort),
            attrs={"units": "month", "long_name": "months from diagnosis (resection)"},
        ),
    }
    attrs = {
        "title": f"fields cohort: {cohort.name}",
        "cohort": cohort.name,
        "description": cohort.description,
        "cohort_fingerprint": cohort.fingerprint(),
        "sites": ",".join(cohort.sites),
        "geometry": cohort.geometry,
        "patients": cohort.patients,
        "seed": cohort.seed,
        "follow_up_days": cohort.follow_up_days,
        "output_every_days": cohort.output_every_days,
        "stage_key": cohort.stage_key or "",
        "stage_names": json.dumps(
            cohort.samples[cohort.stage_key].params["names"] if cohort.stage_key else []
        ),
        "sampled": json.dumps(list(cohort.samples)),
        "targets": json.dumps([t.as_dict() for t in cohort.targets]),
        "fields_version": __version__,
        "parameters": cohort.base.to_json(),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)


class _Store:
    """Where results go: a zarr store written chunk by chunk, or the template in memory."""

    def __init__(self, ds: xr.Dataset, path: Path | None) -> None:
        self.path, self.ds, self.group = path, ds, None
        if path is not None:
            import zarr

            self.group = zarr.open_group(str(path), mode="r+")

    @classmethod
    def open_or_create(cls, path: str | Path | None, ds: xr.Dataset) -> _Store:
        if path is None:
            return cls(ds, None)
        path = Path(path)
        if path.exists():
            try:
                with xr.open_zarr(path, consolidated=True) as existing:
                    mark = existing.attrs.get("cohort_fingerprint")
            except Exception as exc:
                raise FieldsInputError(
                    f"--out = '{path}' is not allowed: it exists and is not a cohort store "
                    f"({type(exc).__name__})"
                ) from None
            if mark != ds.attrs["cohort_fingerprint"]:
                raise FieldsInputError(
                    f"--out = '{path}' is not allowed: it holds another cohort or package "
                    f"version (fingerprint {mark}, this cohort "
                    f"{ds.attrs['cohort_fingerprint']}); choose a new --out or delete it"
                )
            return cls(ds, path)
        _check_new_store(path)
        create_zarr(path, ds, "patient", CHUNK)
        return cls(ds, path)

    def status(self) -> np.ndarray:
        if self.group is None:
            return self.ds["status"].values
        return np.asarray(self.group["status"][:])

    def write(self, result: dict[str, Any]) -> None:
        """Data first, status last: a kill in between leaves the chunk pending."""
        sl = slice(result["start"], result["stop"])
        items = {**result["outputs"], **result["samples"], "error": result["error"]}
        for name, value in items.items():
            if self.group is None:
                self.ds[name].values[sl] = value
            else:
                self.group[name][sl] = value
        if self.group is None:
            self.ds["status"].values[sl] = result["status"]
        else:
            self.group["status"][sl] = result["status"]

    def load(self) -> xr.Dataset:
        if self.path is None:
            return self.ds
        return open_cohort(self.path)


def _check_new_store(path: Path) -> None:
    if path.suffix != ".zarr":
        raise FieldsInputError(f"--out = '{path}' is not allowed: a path ending in .zarr")
    if not path.parent.resolve().is_dir():
        raise FieldsInputError(f"--out = '{path}' is not allowed: its folder does not exist")


def open_cohort(path: str | Path) -> xr.Dataset:
    """Open a cohort store written by :func:`cohort` (loaded into memory)."""
    path = Path(path)
    if not path.is_dir():
        raise FieldsInputError(f"cohort store = '{path}' is not allowed: no such store")
    try:
        with xr.open_zarr(path, consolidated=True) as ds:
            if "cohort_fingerprint" not in ds.attrs:
                raise ValueError("no cohort_fingerprint")
            return ds.load()
    except Exception as exc:
        raise FieldsInputError(
            f"cohort store = '{path}' is not allowed: not a cohort store ({type(exc).__name__})"
        ) from None


def cohort(
    spec: str | Path | Cohort,
    store: str | Path | None = None,
    client: Any = None,
    workers: int | None = None,
    patients: int | None = None,
    updates: dict[str, Any] | None = None,
    progress: bool | None = None,
) -> xr.Dataset:
    """Run (or resume) a cohort and return its Dataset (dims patient, site, month).

    ``patients`` overrides the file's sample size, ``updates`` its fixed parameters (like
    ``--set``). ``store``, ``client`` and ``workers`` as for :func:`fields.sweep`.
    """
    if not isinstance(spec, Cohort):
        spec = load_cohort(spec)
    if patients is not None:
        spec = spec.with_patients(patients)
    if updates:
        spec = spec.with_updates(updates)
    ds = template(spec)
    if store is not None and not Path(store).exists():
        _check_new_store(Path(store))  # before any cluster starts
    target = _Store.open_or_create(store, ds) if store is None or Path(store).exists() else None
    status = target.status() if target is not None else ds["status"].values
    chunks = [
        (a, min(a + CHUNK, spec.patients))
        for a in range(0, spec.patients, CHUNK)
        if (status[a : a + CHUNK] != 1).any()
    ]
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        executor = stack.enter_context(_executor(client, workers, len(chunks))) if chunks else None
        if target is None:
            target = _Store.open_or_create(store, ds)
        bar = _bar(spec.patients, spec.patients - sum(b - a for a, b in chunks), progress)
        if bar is not None:
            stack.callback(bar.close)
        if executor is None:
            for a, b in chunks:
                target.write(run_chunk(spec, a, b))
                if bar is not None:
                    bar.update(b - a)
        elif chunks:
            _distributed(executor, spec, chunks, target, bar)
    result = target.load()
    result.attrs["last_run_patients"] = sum(b - a for a, b in chunks)
    result.attrs["last_run_seconds"] = round(time.perf_counter() - started, 3)
    failed = np.nonzero(result["status"].values == 2)[0]
    if failed.size:
        first = int(failed[0])
        warnings.warn(
            f"{failed.size} of {spec.patients} patients failed; patient {first}: "
            f"{result['error'].values[first]}",
            stacklevel=2,
        )
    return result


def _distributed(client, spec: Cohort, chunks, target: _Store, bar) -> None:
    from dask.distributed import as_completed

    scattered = broadcast(client, spec)
    futures = {
        client.submit(
            run_chunk, scattered, a, b, key=f"fields-cohort-{spec.fingerprint()}-{a}", pure=False
        ): (a, b)
        for a, b in chunks
    }
    for future in as_completed(futures):
        a, b = futures[future]
        try:
            result = future.result()
        except Exception as exc:  # the worker died (e.g. out of memory), not the model
            result = run_chunk_failed(spec, a, b, f"{type(exc).__name__}: {exc}")
        target.write(result)
        if bar is not None:
            bar.update(b - a)
        future.release()


def run_chunk_failed(spec: Cohort, a: int, b: int, message: str) -> dict[str, Any]:
    n = b - a
    return {
        "start": a,
        "stop": b,
        "samples": spec.sample(np.arange(a, b)),
        "outputs": empty_outputs(spec, n),
        "status": np.full(n, 2, dtype=np.int8),
        "error": np.full(n, message[:ERROR_WIDTH], dtype=f"<U{ERROR_WIDTH}"),
    }


def _bar(total: int, done: int, progress: bool | None):
    if progress is False or (progress is None and not sys.stderr.isatty()):
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=done, unit="patient", desc="cohort", file=sys.stderr)
