"""What every table of ``fields bench`` shares: a fresh process per row, its peak memory, and the
machine and versions the tables were measured on."""

from __future__ import annotations

import multiprocessing as mp
import os
import platform
import sys
from collections.abc import Callable

import numpy as np


def peak_rss_mib() -> float:
    """The process's peak resident memory (MiB)."""
    try:
        import resource

        scale = 1024.0 if sys.platform != "darwin" else 1024.0 * 1024.0
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale
    except ImportError:  # pragma: no cover - Windows
        import psutil

        return psutil.Process().memory_info().peak_wset / 2**20


def _child(conn, func: Callable, args: tuple) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        conn.send(("ok", func(*args)))
    except BaseException as exc:  # report any failure to the parent
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def in_child(func: Callable, *args: object) -> dict[str, object]:
    """Run ``func(*args)`` in a fresh spawned process (a clean peak-memory figure per row)."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, func, args))
    proc.start()
    child.close()
    try:
        status, payload = parent.recv()
    except EOFError:
        status, payload = "error", f"child exited with code {proc.exitcode}"
    proc.join()
    if status != "ok":
        raise RuntimeError(payload)
    return payload


def machine() -> str:
    """The machine, as one line."""
    try:
        import psutil

        memory = f", {psutil.virtual_memory().total / 2**30:.0f} GiB"
    except Exception:  # pragma: no cover
        memory = ""
    cpu = platform.processor() or platform.machine()
    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    return (
        f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} cores{memory}, "
        f"Python {platform.python_version()}, OMP_NUM_THREADS={threads}"
    )


def versions() -> str:
    """The versions of fields and of the libraries its speed depends on, as one line."""
    import fipy
    import scipy

    from fields.core.version import __version__

    return (
        f"fields {__version__}, FiPy {fipy.__version__}, SciPy {scipy.__version__}, "
        f"NumPy {np.__version__}"
    )
