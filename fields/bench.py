"""The solver benchmark behind ``fields bench``.

Two tables, each row measured in its own child process so peak memory is per row:

1. **Solver**: one lung patch, oxygen and every declared factor plus the local ODEs, daily
   steps (backward Euler, dt = 1 day), with fixed plasma levels of a 3 cm primary. Side by side:

   (a) ``naive``: FiPy written the way its documentation teaches: ``CellVariable``s, terms with
       variable coefficients, ``eq.solve(var, dt)`` every step for every field with FiPy's
       default solver (tolerance tightened to 1e-12, see :func:`fipy_reference_solver`),
       Michaelis-Menten uptake linearised and swept to convergence each step;
   (b) ``fields``: the project's solver (:class:`fields.engine.site.SiteModel`, fast path: FiPy
       assembles once, SciPy factorisations are reused, oxygen is re-solved only when its
       coefficients change).

   Both use the same physics functions, so their final fields must agree.
2. **Targets**: whole ``fields.simulate`` runs (default scenario, one Krogh site, 3d 50^3),
   wall time after import and peak memory.

Speed is measured here, never asserted in a test.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from fields.engine.loop import DEFAULT_SITES


@dataclass(frozen=True)
class SolverCase:
    """One row of the solver table."""

    label: str
    geometry: str
    domain_um: float  # 2d side or 3d cube side; ignored for krogh
    steps: int


@dataclass(frozen=True)
class TargetCase:
    """One row of the targets table: a whole simulate() run."""

    label: str
    sites: tuple[str, ...]
    geometry: str
    days: float
    target: str
    store_fields: bool = True
    output_every_days: float = 30.0


SOLVER_CASES = (
    SolverCase("2d 50x50", "2d", 500.0, 365),
    SolverCase("2d 100x100", "2d", 1000.0, 365),
    SolverCase("2d 200x200", "2d", 2000.0, 73),
    SolverCase("krogh (40 cells)", "krogh", 0.0, 365),
    SolverCase("3d 50x50x50", "3d", 500.0, 10),
)
QUICK_SOLVER_CASES = (
    SolverCase("2d 20x20", "2d", 200.0, 20),
    SolverCase("krogh (40 cells)", "krogh", 0.0, 20),
)
TARGET_CASES = (
    TargetCase(
        "default scenario (5 sites, 2d, 3650 d)",
        DEFAULT_SITES,
        "2d",
        3650.0,
        "< 60 s",
    ),
    TargetCase("one krogh site (lung, 3650 d)", ("lung",), "krogh", 3650.0, "< 0.5 s"),
    TargetCase("3d 50^3 (lung, 365 d)", ("lung",), "3d", 365.0, "< 2 GiB"),
    TargetCase("lung 2d, --no-fields, 2 years", ("lung",), "2d", 730.0, "reference", False, 30.0),
    TargetCase(
        "lung 2d, --no-fields, 20 years",
        ("lung",),
        "2d",
        7300.0,
        "within 10 % of 2 years",
        False,
        30.0,
    ),
)
QUICK_TARGET_CASES = (TargetCase("one krogh site (lung, 365 d)", ("lung",), "krogh", 365.0, "-"),)


# ----------------------------------------------------------------------------- the problem
def _problem(case: SolverCase, solver: str):
    """Parameters, patch, plasma levels and DTC arrivals shared by both paths."""
    from fields.model import primary
    from fields.numerics.geometry import make_patch
    from fields.parameters import Parameters

    updates: dict[str, object] = {"transport.mode": "transient", "transport.solver": solver}
    if case.geometry == "2d":
        updates["geometry.domain_um"] = case.domain_um
    elif case.geometry == "3d":
        updates["geometry.domain_3d_um"] = case.domain_um
    p = Parameters().with_updates(updates)
    patch = make_patch(case.geometry, p.sites["lung"], p.geometry, seed=0)
    cells = primary.cells_at_diameter(30.0, p.primary)
    plasma = {name: primary.plasma_steady_state(cells, s, 1.0) for name, s in p.species.items()}
    arrivals = (
        primary.shed_rate(cells, p.primary, p.dissemination)
        * p.dissemination.arrest_fraction
        * p.sites["lung"].dtc_routing_fraction
    )
    return p, patch, plasma, arrivals


def _naive_site_class():
    """Defined lazily so that importing fields.bench does not import FiPy."""
    import fipy as fp

    from fields.engine.site import SiteModel
    from fields.model import factors
    from fields.model.oxygen import hypoxia
    from fields.numerics.operator import SECONDS_PER_DAY, fipy_reference_solver

    class NaiveFiPySite(SiteModel):
        """The three fields as a FiPy user writes them from the documentation."""

        sweep_tolerance = 1e-12  # of the vessel pO2, per sweep

        def __init__(self, name, site, params, patch) -> None:
            super().__init__(name, site, params, patch)  # params carry transport.solver = fipy
            mesh, ox = patch.mesh, params.oxygen
            self.po2 = site.vessel_po2_mmhg
            self.O = fp.CellVariable(mesh=mesh, value=self.po2, hasOld=True)
            # Michaelis-Menten uptake V O/(Km + O), linearised about the current sweep as the FiPy
            # docs teach for source terms: S(O) ~ S(O*) + S'(O*)(O - O*) (Newton sweeps)
            vmax, km = site.o2_uptake_mmhg_per_s, ox.km_mmhg
            slope = vmax * km / (km + self.O) ** 2
            offset = vmax * self.O**2 / (km + self.O) ** 2
            if patch.kind == "krogh":
                self.O.constrain(self.po2, where=patch.wall_faces)
                exchange = fp.CellVariable(mesh=mesh, value=0.0)
            else:
                exchange = fp.CellVariable(mesh=mesh, value=patch.vessel * ox.vessel_exchange_per_s)
            rhs = (
                fp.DiffusionTerm(coeff=ox.diffusivity_um2_per_s)
                - fp.ImplicitSourceTerm(coeff=slope + exchange)
                - offset
                + exchange * self.po2
            )
            # the initial state is steady (as in SiteModel.initialise), steps are transient
            self.eq_oxygen = {"steady": 0 == rhs, "transient": fp.TransientTerm() == rhs}
            self.C, self.k, self.s, self.eq = {}, {}, {}, {}
            for sp, sp_params in params.species.items():
                self.C[sp] = fp.CellVariable(mesh=mesh, value=0.0, hasOld=True)
                self.k[sp] = fp.CellVariable(mesh=mesh, value=0.0)
                self.s[sp] = fp.CellVariable(mesh=mesh, value=0.0)
                rhs = (
                    fp.DiffusionTerm(coeff=sp_params.diffusivity_um2_per_s)
                    - fp.ImplicitSourceTerm(coeff=self.k[sp])
                    + self.s[sp]
                )
                self.eq[sp] = {"steady": 0 == rhs, "transient": fp.TransientTerm() == rhs}
            self.dt_s: float | None = None  # None until the first step: steady solves

            # FiPy's default solver class (sparse LU) at tolerance 1e-12, not its default 1e-5,
            # which accepts a guess within 1e-5 of the RHS unchanged. On a 3D mesh LU fill-in
            # exceeds memory (50^3 cells: > 17 GB), so there it is FiPy's CG + PyAMG.
            self.fipy_solver = fipy_reference_solver("amg" if mesh.dim == 3 else "lu")

        def _solve_oxygen(self) -> None:
            self.O.updateOld()
            eq = self.eq_oxygen["steady" if self.dt_s is None else "transient"]
            for _ in range(200):  # sweep the nonlinear uptake to convergence (FiPy docs)
                before = np.array(self.O.value)
                eq.sweep(var=self.O, dt=self.dt_s, solver=self.fipy_solver)
                if (
                    np.max(np.abs(np.asarray(self.O.value) - before))
                    <= self.sweep_tolerance * self.po2
                ):
                    break
            self.state["oxygen"] = np.array(self.O.value, dtype=float)
            self.state["hypoxia"] = hypoxia(self.state["oxygen"], self.p.oxygen)

        def _solve_species(self, plasma, dt_days) -> None:
            for sp in self.species:
                sink, terms = self.sink_and_terms(sp, plasma)  # the same physics as the fast path
                self.k[sp].setValue(sink)
                self.s[sp].setValue(factors.sum_terms(terms))
                self.C[sp].updateOld()
                if dt_days is None:
                    self.eq[sp]["steady"].solve(var=self.C[sp], solver=self.fipy_solver)
                else:
                    self.eq[sp]["transient"].solve(
                        var=self.C[sp], dt=dt_days * SECONDS_PER_DAY, solver=self.fipy_solver
                    )
                self.state[sp] = np.maximum(np.array(self.C[sp].value, dtype=float), 0.0)

        def step(self, dt, plasma, arrivals_per_day) -> None:
            self.dt_s = dt * SECONDS_PER_DAY
            self._solve_oxygen()  # every field, every step
            super().step(dt, plasma, arrivals_per_day)

    return NaiveFiPySite


def _peak_rss_mib() -> float:
    try:
        import resource

        scale = 1024.0 if sys.platform != "darwin" else 1024.0 * 1024.0
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale
    except ImportError:  # pragma: no cover - Windows
        import psutil

        return psutil.Process().memory_info().peak_wset / 2**20


def _run_solver_case(case: SolverCase, path: str) -> dict[str, object]:
    """Child process: set up and step one path; time, final fields and peak memory."""
    from fields.engine.site import SiteModel

    t0 = time.perf_counter()
    if path == "naive":
        p, patch, plasma, arrivals = _problem(case, "fipy")
        model = _naive_site_class()("lung", p.sites["lung"], p, patch)
    else:
        p, patch, plasma, arrivals = _problem(case, "fast")
        model = SiteModel("lung", p.sites["lung"], p, patch)
    model.initialise(plasma)
    t1 = time.perf_counter()
    for _ in range(case.steps):
        model.step(1.0, plasma, arrivals)
    t2 = time.perf_counter()
    return {
        "setup_s": t1 - t0,
        "loop_s": t2 - t1,
        "cells": patch.n_cells,
        "fields": {name: np.array(model.state[name]) for name in ("oxygen", *model.species)},
        "peak_mib": _peak_rss_mib(),
    }


def _run_target_case(case: TargetCase) -> dict[str, object]:
    import fields
    from fields.experiments.run import simulate  # imports FiPy: not part of the timed run

    params = fields.Parameters()
    t0 = time.perf_counter()
    simulate(
        params,
        sites=case.sites,
        days=case.days,
        geometry=case.geometry,
        store_fields=case.store_fields,
        output_every_days=case.output_every_days,
    )
    return {"wall_s": time.perf_counter() - t0, "peak_mib": _peak_rss_mib()}


def _child(conn, func: Callable, args: tuple) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        conn.send(("ok", func(*args)))
    except BaseException as exc:  # report any failure to the parent
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def _in_child(func: Callable, *args: object) -> dict[str, object]:
    """Run func(*args) in a fresh spawned process (clean peak-memory figure)."""
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


def max_relative_difference(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    """max over fields of max|a - b| / max|b| (b is the reference)."""
    worst = 0.0
    for name in b:
        scale = float(np.max(np.abs(b[name])))
        diff = float(np.max(np.abs(a[name] - b[name])))
        worst = max(worst, diff / scale if scale > 0 else diff)
    return worst


# ------------------------------------------------------------------------------- tables
def _machine() -> str:
    try:
        import psutil

        memory = f", {psutil.virtual_memory().total / 2**30:.0f} GiB"
    except Exception:  # pragma: no cover
        memory = ""
    cpu = platform.processor() or platform.machine()
    return (
        f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} cores{memory}, "
        f"Python {platform.python_version()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}"
    )


def _versions() -> str:
    import fipy
    import scipy

    from fields.core.version import __version__

    return f"fields {__version__}, FiPy {fipy.__version__}, SciPy {scipy.__version__}, NumPy {np.__version__}"


def run_benchmark(
    solver_cases: Sequence[SolverCase] = SOLVER_CASES,
    target_cases: Sequence[TargetCase] = TARGET_CASES,
    echo: Callable[[str], None] = print,
) -> dict[str, list[dict[str, object]]]:
    """Measure both tables, printing each row as it completes; return the rows."""
    echo(f"machine: {_machine()}")
    echo(f"versions: {_versions()}")
    echo("")
    from fields.parameters import SPECIES_NAMES

    factors = " + ".join(SPECIES_NAMES)
    echo(f"Solver: lung patch, oxygen + {factors} + local ODEs, dt = 1 day (backward Euler)")
    echo("")
    header = (
        "| case | cells | steps | naive FiPy ms/step | fields ms/step | speed-up | "
        "max rel diff | naive peak MiB | fields peak MiB | fields setup s |"
    )
    echo(header)
    echo("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    solver_rows = []
    for case in solver_cases:
        naive = _in_child(_run_solver_case, case, "naive")
        fast = _in_child(_run_solver_case, case, "fields")
        row = {
            "case": case.label,
            "cells": fast["cells"],
            "steps": case.steps,
            "naive_ms_per_step": 1e3 * naive["loop_s"] / case.steps,
            "fields_ms_per_step": 1e3 * fast["loop_s"] / case.steps,
            "speedup": naive["loop_s"] / fast["loop_s"] if fast["loop_s"] > 0 else math.inf,
            "max_rel_diff": max_relative_difference(fast["fields"], naive["fields"]),
            "naive_peak_mib": naive["peak_mib"],
            "fields_peak_mib": fast["peak_mib"],
            "fields_setup_s": fast["setup_s"],
        }
        solver_rows.append(row)
        echo(
            f"| {row['case']} | {row['cells']} | {row['steps']} | {row['naive_ms_per_step']:.1f} | "
            f"{row['fields_ms_per_step']:.2f} | {row['speedup']:.0f}x | {row['max_rel_diff']:.1e} | "
            f"{row['naive_peak_mib']:.0f} | {row['fields_peak_mib']:.0f} | {row['fields_setup_s']:.2f} |"
        )
    target_rows = []
    if target_cases:
        echo("")
        echo("Targets: whole fields.simulate runs (default parameters, outputs every 30 d)")
        echo("")
        echo("| run | wall s (after import) | peak MiB | target |")
        echo("|---|---:|---:|---|")
        for case in target_cases:
            result = _in_child(_run_target_case, case)
            row = {"run": case.label, **result, "target": case.target}
            target_rows.append(row)
            echo(
                f"| {case.label} | {result['wall_s']:.2f} | {result['peak_mib']:.0f} | {case.target} |"
            )
    return {"solver": solver_rows, "targets": target_rows}
