"""The population subcommands of ``fields``: cohort and calibrate, and the figures of their
results (``fields plot COHORT.zarr --output mfs``, ``fields plot FIT.nc``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fields.cli.arguments import (
    add_executor_options,
    check_workers,
    output_path,
    parse_set,
    write_beside,
)
from fields.core.errors import FieldsInputError

COHORT_OUTPUTS = ("mfs",)


def cmd_cohort(args: argparse.Namespace) -> int:
    import time
    import warnings

    import numpy as np

    from fields.experiments.population.cohort import cohort
    from fields.experiments.population.cohort_file import load_cohort
    from fields.experiments.population.survival import kaplan_meier
    from fields.experiments.population.targets import evaluate

    check_workers(args.workers)
    if args.patients is not None and args.patients < 1:
        raise FieldsInputError(f"--patients = {args.patients} is not allowed: an integer >= 1")
    spec = load_cohort(args.cohort)
    if args.patients is not None:
        spec = spec.with_patients(args.patients)
    if args.set:
        spec = spec.with_updates(parse_set(args.set))
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # failures are listed below instead
        ds = cohort(spec, store=args.out, client=args.scheduler, workers=args.workers)
    wall = time.perf_counter() - started
    ran = int(ds.attrs.get("last_run_patients", 0))
    print(f"{spec.name}: {spec.patients} patients in {args.out} ({ran} run now in {wall:.1f} s)")
    done = ds["status"].values == 1
    m1 = ds["metastatic_at_diagnosis"].values[done]
    print(f"  metastatic at diagnosis: {100 * m1.mean():.1f} % of {done.sum()} patients")
    if spec.stage_key:
        km = kaplan_meier(ds, "t_stage")
        for g, name in enumerate(km["group"].values):
            print(
                f"  {name}: {int(km['patients'].values[g])} M0 patients, "
                f"{int(km['events'].values[g])} with a metastasis; median months to metastasis "
                f"among them {km['median_months_relapsing'].values[g]:.1f}"
            )
    for t in spec.targets:
        model = evaluate(ds, t)
        print(f"  target {t.name}: model {model:.3g}, published {t.value:.3g} ± {t.sd:.2g}")
    failed = np.nonzero(ds["status"].values == 2)[0]
    if failed.size:
        print(f"{failed.size} patients failed:", file=sys.stderr)
        for i in failed[:20]:
            print(f"  patient {int(i)}: {ds['error'].values[i]}", file=sys.stderr)
        return 1
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from fields.core.files import atomic_path
    from fields.experiments.population.calibration import calibrate, report
    from fields.experiments.population.calibration_file import load_calibration
    from fields.plot.cohort import plot_calibration

    check_workers(args.workers)
    out = output_path(args.out, ".nc", "file")
    for flag, value in (
        ("--pool", args.pool),
        ("--population-size", args.population_size),
        ("--generations", args.generations),
    ):
        if value is not None and value < 1:
            raise FieldsInputError(f"{flag} = {value} is not allowed: an integer >= 1")
    for flag, value in (("--check", args.check), ("--refine", args.refine)):
        if value is not None and value < 0:
            raise FieldsInputError(f"{flag} = {value} is not allowed: an integer >= 0")
    cal = load_calibration(args.calibration)
    pool_store = args.pool_store or str(out.with_name(out.stem + "_pool.zarr"))
    fit = calibrate(
        cal,
        pool_store=pool_store,
        client=args.scheduler,
        workers=args.workers,
        pool=args.pool,
        population_size=args.population_size,
        generations=args.generations,
        check=args.check,
        refine=args.refine,
    )
    with atomic_path(out) as tmp:
        fit.to_netcdf(tmp, engine="h5netcdf")
    figure, table = write_beside(out, plot_calibration(fit), report(fit))
    print(f"wrote {out}, {figure}, {table} (pool in {pool_store})")
    return 0


def population_figure(args: argparse.Namespace):
    """The figure of a cohort store (``--output mfs``) or of a calibration fit (.nc), or None
    when ``args.result`` is neither."""
    path = args.result.rstrip("/")
    if path.endswith(".zarr") and (Path(path) / ".zattrs").is_file():
        import json

        attrs = json.loads((Path(path) / ".zattrs").read_text(encoding="utf-8"))
        if "cohort_fingerprint" not in attrs:
            return None
        from fields.experiments.population.cohort import open_cohort
        from fields.plot.cohort import plot_mfs

        output = args.output or "mfs"
        if output not in COHORT_OUTPUTS:
            raise FieldsInputError(
                f"--output = {output!r} is not allowed: one of {', '.join(COHORT_OUTPUTS)}"
            )
        return plot_mfs(open_cohort(path), by=args.by or "t_stage")
    if path.endswith(".nc"):
        import xarray as xr

        try:
            with xr.open_dataset(path, engine="h5netcdf") as ds:
                if "calibration_fingerprint" not in ds.attrs:
                    return None
                fit = ds.load()
        except (OSError, ValueError):
            return None
        from fields.plot.cohort import plot_calibration

        return plot_calibration(fit)
    return None


def add_parsers(sub) -> None:
    cohort = sub.add_parser(
        "cohort", help="run or resume a virtual patient cohort into a zarr store"
    )
    cohort.add_argument("cohort", help="cohort file (.toml), e.g. studies/lead_time.toml")
    cohort.add_argument("--out", required=True, help="zarr store (.zarr); resumed if it exists")
    cohort.add_argument("--patients", type=int, help="sample size (default: the file's)")
    cohort.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="override a fixed parameter (repeat)"
    )
    add_executor_options(cohort)
    cohort.set_defaults(func=cmd_cohort)

    cal = sub.add_parser(
        "calibrate", help="fit a cohort's population parameters to published targets (ABC-SMC)"
    )
    cal.add_argument("calibration", help="calibration file (.toml)")
    cal.add_argument("--out", required=True, help="posterior (.nc); also writes .png and .md")
    cal.add_argument("--pool", type=int, help="patients in the simulated pool (default: file's)")
    cal.add_argument("--pool-store", help="zarr store of the pool (default: OUT_pool.zarr)")
    cal.add_argument("--population-size", type=int, help="ABC-SMC particles (default: file's)")
    cal.add_argument("--generations", type=int, help="ABC-SMC generations at most")
    cal.add_argument(
        "--check",
        type=int,
        help="patients of a direct cohort at the estimate (default: file's; 0: none)",
    )
    cal.add_argument(
        "--refine",
        type=int,
        help="patients of a second pool near the first posterior (default: file's; 0: none)",
    )
    add_executor_options(cal)
    cal.set_defaults(func=cmd_calibrate)
