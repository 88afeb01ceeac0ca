"""``fields bench``: one module per table, each row measured in its own child process.

- :mod:`~fields.bench.solver`: one organ patch stepped by naive FiPy (:mod:`~fields.bench.naive`)
  and by the engine's site;
- :mod:`~fields.bench.lod`: the compiled limit of a 2d step beside the solver table's 2d rows;
- :mod:`~fields.bench.targets`: whole runs of :func:`fields.simulate`;
- :mod:`~fields.bench.sweeps`: sweeps as batches against their runs one at a time;
- :mod:`~fields.bench.populations`: a cohort and a calibration.

Speed is measured here, never asserted in a test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from fields.bench import lod, populations, solver, sweeps, targets
from fields.bench.harness import machine, versions
from fields.core.errors import FieldsInputError


def cases(quick: bool = False) -> dict[str, tuple]:
    """Every table's rows (``quick``: the tiny rows that check the harness in seconds)."""
    if quick:
        return {
            "solver": solver.QUICK_SOLVER_CASES,
            "targets": targets.QUICK_TARGET_CASES,
            "sweeps": sweeps.QUICK_CASES,
            "populations": populations.QUICK_CASES,
        }
    return {
        "solver": solver.SOLVER_CASES,
        "targets": targets.TARGET_CASES,
        "sweeps": sweeps.CASES,
        "populations": populations.CASES,
    }


def run(
    quick: bool = False, only: Iterable[str] = (), echo: Callable[[str], None] = print
) -> dict[str, list]:
    """Measure every table (or only the rows labelled ``only``), printing each row as it comes."""
    tables = cases(quick)
    wanted = set(only)
    if wanted:
        known = {case.label for rows in tables.values() for case in rows}
        unknown = sorted(wanted - known)
        if unknown:
            raise FieldsInputError(
                f"--only = {unknown[0]!r} is not allowed: one of {', '.join(sorted(known))}"
            )
        tables = {k: tuple(c for c in rows if c.label in wanted) for k, rows in tables.items()}
    echo(f"machine: {machine()}")
    echo(f"versions: {versions()}")
    echo("")
    out = {"solver": solver.run_solver_table(tables["solver"], echo=echo)}
    out["lod"] = lod.run_lod_table(out["solver"], echo=echo)
    out["targets"] = targets.run_target_table(tables["targets"], echo=echo)
    out["sweeps"] = sweeps.run_sweep_table(tables["sweeps"], echo=echo)
    out["populations"] = populations.run_population_table(tables["populations"], echo=echo)
    return out
