"""Parameter sweeps on Dask: a batch of runs per task (any geometry), a resumable zarr store,
Sobol indices.

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
import logging
import os
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from fields.core.errors import FieldsInputError
from fields.experiments.outputs import run_chunk
from fields.experiments.sensitivity import sobol_indices
from fields.experiments.store import STATUS_DONE, MemoryStore, RunStore, failed_runs, template
from fields.experiments.study import Study, load_study

# ----------------------------------------------------------------------------- execution
#: seconds to wait for a scheduler given by address before refusing it
CONNECT_TIMEOUT_S = 10.0


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
                connected = Client(client, timeout=f"{CONNECT_TIMEOUT_S}s")
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
    # Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 in its workers, which also turns off
    # glibc's adaptive mmap threshold: every array above 128 KiB is then mapped and unmapped
    # again, and a cohort chunk ran 1.35x slower (20.9 s against 15.5 s in one process, same
    # chunk). The workers here keep glibc's defaults.
    import dask

    with (
        dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}),
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
    target: RunStore | MemoryStore | None = None
    if store is None:
        target = MemoryStore(ds)
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
        chunks = _chunks(study, pending, workers, executor)
        if pending and executor is None:
            for chunk in chunks:
                for result in run_chunk(study, chunk, [design[i] for i in chunk]):
                    target.write(result)
                    if bar is not None:
                        bar.update(1)
        elif pending:
            _run_distributed(executor, study, design, chunks, target, bar)
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
    result.attrs["last_run_runs"] = len(pending)
    result.attrs["last_run_seconds"] = round(elapsed, 3)
    if failed:
        lines = "; ".join(f"run {i}: {message}" for i, message in failed[:10])
        warnings.warn(f"{len(failed)} of {len(design)} runs failed: {lines}", stacklevel=2)
    return result


#: most runs in one batch (a Dask task) by geometry; more cost memory, not speed (a further 2d
#: or 3d run took 1.5 and 11 MiB per site at the default grids, tracemalloc)
BATCH_RUNS = {"krogh": 256, "2d": 16, "3d": 4}


def _chunks(
    study: Study, pending: list[int], workers: int | None, executor: Any
) -> list[list[int]]:
    """The runs of each task: batches (of at most :data:`BATCH_RUNS` for the geometry) that
    give every worker about two tasks (so a lost worker costs at most one batch)."""
    if not pending:
        return []
    n_workers = 1
    if executor is not None:
        n_workers = max(len(executor.scheduler_info().get("workers", {})), 1)
    size = max(1, min(BATCH_RUNS[study.geometry], -(-len(pending) // (2 * n_workers))))
    return [pending[k : k + size] for k in range(0, len(pending), size)]


def _import_engine() -> None:
    import fields.experiments.population.cohort_run
    import fields.experiments.sweep  # noqa: F401


def broadcast(client: Any, value: Any) -> Any:
    """``value`` on every worker, as a future. The workers first import the engine side by
    side: a broadcast scatter unpickles on one worker and then copies to the next, so each
    worker's import (1.1 s, FiPy included) would otherwise come one after the other (a 4-run
    Krogh sweep spent 2.8 s of its 5.2 s in its scatter)."""
    client.run(_import_engine)
    return client.scatter(value, broadcast=True)


def _run_distributed(client, study, design, chunks, target, bar) -> None:
    from dask.distributed import as_completed

    study_future = broadcast(client, study)
    tag = study.fingerprint()
    futures = {
        client.submit(
            run_chunk,
            study_future,
            chunk,
            [design[i] for i in chunk],
            key=f"fields-{tag}-{chunk[0]}-{len(chunk)}",
            pure=False,
        ): chunk
        for chunk in chunks
    }
    for future in as_completed(futures):
        chunk = futures[future]
        try:
            results = future.result()
        except Exception as exc:  # the worker died (e.g. out of memory), not the model
            message = f"{type(exc).__name__}: {exc}"
            results = [{"index": i, "ok": False, "error": message} for i in chunk]
        for result in results:
            target.write(result)
            if bar is not None:
                bar.update(1)
        future.release()


# -------------------------------------------------------------------------- sensitivity
