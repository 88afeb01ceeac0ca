"""Command line: ``fields run | sweep | plot | sites | bench`` (DESIGN 6).

Bad input never shows a traceback: one message naming the key, the value and what is allowed,
exit code 2, and no output file left behind (results are written to a temporary name and renamed).
A numerical failure (NaN, Inf, a bound violated) is one message naming the site, the variable, the
time and the likely cause, exit code 3. A sweep with failed runs exits 1 and lists them.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from collections.abc import Sequence
from typing import NoReturn

from fields.errors import FieldsInputError, NumericalError

EXIT_INPUT = 2
EXIT_NUMERICAL = 3


def _one_line(message: str) -> str:
    """Escape control characters (a key may contain a newline) so an error stays one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)


def _parse_set(items: Sequence[str]) -> dict[str, str]:
    updates: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise FieldsInputError(
                f"--set {item!r} is not allowed: the form is key=value, e.g. primary.tvdt_days=80"
            )
        updates[key.strip()] = value.strip()
    return updates


def cmd_run(args: argparse.Namespace) -> int:
    import fields
    from fields.output import check_netcdf_path, write_netcdf
    from fields.simulate import DEFAULT_SITES

    check_netcdf_path(args.out)  # before minutes of simulation, not after
    params = fields.load_parameters(args.config) if args.config else fields.Parameters()
    if args.set:
        params = params.with_updates(_parse_set(args.set))
    sites = args.site or DEFAULT_SITES
    tree = fields.simulate(
        params,
        sites=sites,
        days=args.days,
        geometry=args.geometry,
        seed=args.seed,
        output_every_days=args.output_every,
        store_fields=not args.no_fields,
        progress=None,
        checkpoint=args.checkpoint,
        checkpoint_every_days=args.checkpoint_every,
        resume=args.resume,
    )
    path = write_netcdf(tree, args.out)
    print(f"wrote {path}")
    for site in tree.children:
        t = float(tree[site]["time_to_outgrowth_days"])
        when = "none" if math.isnan(t) else f"day {t:.0f}"
        print(f"  {site:<12} time to outgrowth: {when}")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from pathlib import Path

    from fields.output import atomic_path, open_result
    from fields.plot import save_figure

    if not args.out.lower().endswith(".png"):
        raise FieldsInputError(f"--out = '{args.out}' is not allowed: a file name ending in .png")
    if not 20 <= args.dpi <= 600:
        raise FieldsInputError(f"--dpi = {args.dpi} is not allowed: an integer from 20 to 600")
    out = Path(args.out)
    if args.result.rstrip("/").endswith(".zarr"):
        fig = _sweep_figure(args)
    else:
        from fields.plot import plot_result

        tree = open_result(args.result)
        for site in args.site or []:
            if site not in tree.children:
                raise FieldsInputError(
                    f"--site = {site!r} is not allowed: one of {', '.join(tree.children)}"
                )
        fig = plot_result(tree, sites=args.site)
    with atomic_path(out) as tmp:
        save_figure(fig, tmp, dpi=args.dpi)
    print(f"wrote {out}")
    return 0


def _sweep_figure(args: argparse.Namespace):
    import json

    from fields.plot import plot_heatmap, plot_outcome_vs_parameter, plot_sobol
    from fields.sweep import open_sweep

    ds = open_sweep(args.result)
    varied = json.loads(ds.attrs.get("varied", "[]"))
    scalars = [n for n in ds.data_vars if n not in ("status", "error") and "time" not in ds[n].dims]
    output = args.output or ("sobol" if "sobol_S1" in ds else (scalars or [None])[0])
    if output == "sobol":
        if "sobol_S1" not in ds:
            raise FieldsInputError(
                "--output = 'sobol' is not allowed: the store has no Sobol indices"
            )
        return plot_sobol(ds)
    if output not in ds.data_vars or output in ("status", "error"):
        allowed = [n for n in ds.data_vars if n not in ("status", "error")]
        raise FieldsInputError(f"--output = {output!r} is not allowed: one of {', '.join(allowed)}")
    for flag, value in (("--x", args.x), ("--y", args.y)):
        if value is not None and value not in varied:
            raise FieldsInputError(f"{flag} = {value!r} is not allowed: one of {', '.join(varied)}")
    site = args.site[0] if args.site else None
    if site is not None and site not in [str(s) for s in ds["site"].values]:
        raise FieldsInputError(
            f"--site = {site!r} is not allowed: one of {', '.join(map(str, ds['site'].values))}"
        )
    if not varied:
        raise FieldsInputError(f"result = '{args.result}' is not allowed: the study varies nothing")
    x = args.x or varied[0]
    if "time" in ds[output].dims:
        from fields.plot import plot_series_by_run

        return plot_series_by_run(ds, output, x, site=site)
    if args.y is not None:
        return plot_heatmap(ds, output, x, args.y, site=site)
    return plot_outcome_vs_parameter(ds, output, x, sites=[site] if site else None)


def cmd_sites(args: argparse.Namespace) -> int:
    from fields.sites import SITE_NAMES, SiteParameters, site_preset, site_source

    presets = {name: site_preset(name) for name in SITE_NAMES}
    rows = [f for f in dataclasses.fields(SiteParameters)]
    header = ["parameter", "unit", *SITE_NAMES]
    table = [header]
    for f in rows:
        table.append(
            [
                f.name,
                str(f.metadata["unit"]),
                *(f"{getattr(presets[s], f.name):g}" for s in SITE_NAMES),
            ]
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for index, row in enumerate(table):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
        if index == 0:
            print("  ".join("-" * w for w in widths))
    print("\nSources (per parameter; per-site notes where they differ):")
    for f in rows:
        notes: dict[str, list[str]] = {}
        for s in SITE_NAMES:
            notes.setdefault(site_source(s, f.name), []).append(s)
        for text, names in notes.items():
            who = "all sites" if len(names) == len(SITE_NAMES) else ", ".join(names)
            print(f"  {f.name} [{who}]: {text}")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    import time
    import warnings
    from pathlib import Path

    from fields.study import load_study
    from fields.sweep import failed_runs, sweep

    if args.workers is not None and args.workers < 0:
        raise FieldsInputError(f"--workers = {args.workers} is not allowed: an integer >= 0")
    study = load_study(args.study)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # failures are listed below instead
        ds = sweep(study, store=args.out, client=args.scheduler, workers=args.workers)
    wall = time.perf_counter() - started
    ran = int(ds.attrs.get("last_session_runs", 0))
    total = ds.sizes["run"]
    rate = f", {ran / wall:.2f} runs/s" if ran else ""
    print(f"{study.name}: {total} runs in {args.out} ({ran} run now in {wall:.1f} s{rate})")
    if "sobol_S1" in ds:
        from fields.output import atomic_path
        from fields.plot import plot_sobol, save_figure

        figure = Path(args.out).with_name(Path(args.out).stem + "_sobol.png")
        with atomic_path(figure) as tmp:
            save_figure(plot_sobol(ds), tmp)
        print(f"wrote {figure} (Sobol indices)")
    failed = failed_runs(ds)
    if failed:
        print(f"{len(failed)} runs failed:", file=sys.stderr)
        for index, message in failed:
            print(f"  run {index}: {message}", file=sys.stderr)
        return 1
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from pathlib import Path

    from fields import bench
    from fields.output import atomic_path, check_output_folder

    if args.markdown and not args.markdown.lower().endswith(".md"):
        raise FieldsInputError(
            f"--markdown = '{args.markdown}' is not allowed: a file name ending in .md"
        )
    if args.markdown:
        check_output_folder(Path(args.markdown))  # before minutes of benchmarking
    if args.quick:
        solver_cases, target_cases = bench.QUICK_SOLVER_CASES, bench.QUICK_TARGET_CASES
    else:
        solver_cases, target_cases = bench.SOLVER_CASES, bench.TARGET_CASES
    if args.only:
        wanted = set(args.only)
        known = {c.label for c in solver_cases} | {c.label for c in target_cases}
        unknown = sorted(wanted - known)
        if unknown:
            raise FieldsInputError(
                f"--only = {unknown[0]!r} is not allowed: one of {', '.join(sorted(known))}"
            )
        solver_cases = [c for c in solver_cases if c.label in wanted]
        target_cases = [c for c in target_cases if c.label in wanted]
    lines: list[str] = []

    def echo(line: str) -> None:
        lines.append(line)
        print(line, flush=True)

    bench.run_benchmark(solver_cases, target_cases, echo=echo)
    if args.markdown:
        with atomic_path(Path(args.markdown)) as tmp:
            Path(tmp).write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"wrote {args.markdown}")
    return 0


class OneLineErrorParser(argparse.ArgumentParser):
    """Usage errors as one line (like every other bad input), exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_INPUT, f"fields: error: {_one_line(message)} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    from fields import __version__
    from fields.geometry import GEOMETRIES
    from fields.sites import SITE_NAMES

    parser = OneLineErrorParser(
        prog="fields",
        description="Simulate how a primary tumour prepares distant organs for metastasis.",
    )
    parser.add_argument("--version", action="version", version=f"fields {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="simulate and write a netCDF result")
    run.add_argument("--config", help="parameter TOML file")
    run.add_argument(
        "--site",
        action="append",
        metavar="SITE",
        help=f"site to simulate (repeat); one of {', '.join(SITE_NAMES)}",
    )
    run.add_argument("--days", type=float, default=3650.0, help="horizon in days (default 3650)")
    run.add_argument(
        "--geometry", default="2d", help=f"one of {', '.join(GEOMETRIES)} (default 2d)"
    )
    run.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="override a parameter (repeat)"
    )
    run.add_argument("--seed", type=int, default=0, help="capillary layout seed (default 0)")
    run.add_argument(
        "--output-every", type=float, default=30.0, help="days between outputs (default 30)"
    )
    run.add_argument("--no-fields", action="store_true", help="keep only time series and scalars")
    run.add_argument(
        "--checkpoint", metavar="FILE", help="write the full state to FILE (atomically) as it runs"
    )
    run.add_argument(
        "--checkpoint-every",
        type=float,
        metavar="DAYS",
        help="days between checkpoints (default 365; needs --checkpoint)",
    )
    run.add_argument(
        "--resume",
        action="store_true",
        help="continue from --checkpoint if it exists (same options as the interrupted run)",
    )
    run.add_argument("--out", required=True, help="result file (.nc)")
    run.set_defaults(func=cmd_run)

    plot = sub.add_parser("plot", help="PNG of a run (.nc) or of a sweep store (.zarr)")
    plot.add_argument("result", help="result file (.nc) or sweep store (.zarr)")
    plot.add_argument("--out", required=True, help="figure file (.png)")
    plot.add_argument(
        "--output", help="sweeps: output to plot, or 'sobol' (default: Sobol bars if present)"
    )
    plot.add_argument("--x", help="sweeps: varied parameter on the x axis (default: the first)")
    plot.add_argument("--y", help="sweeps: second varied parameter (draws a heatmap)")
    plot.add_argument(
        "--site",
        action="append",
        help="runs: sites to draw (repeat; default all); sweeps: site of a per-site output",
    )
    plot.add_argument("--dpi", type=int, default=110, help="resolution (default 110)")
    plot.set_defaults(func=cmd_plot)

    sites = sub.add_parser("sites", help="table of organ-site presets with units and sources")
    sites.set_defaults(func=cmd_sites)

    sweep = sub.add_parser("sweep", help="run or resume a study on Dask into a zarr store")
    sweep.add_argument("study", help="study file (.toml), see studies/")
    sweep.add_argument("--out", required=True, help="zarr store (.zarr); resumed if it exists")
    where = sweep.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=int,
        help="worker processes of a local cluster (default: one per core; 0: in this process)",
    )
    where.add_argument("--scheduler", metavar="ADDRESS", help="an existing Dask scheduler")
    sweep.set_defaults(func=cmd_sweep)

    bench = sub.add_parser(
        "bench",
        help="naive FiPy loop vs the project's solver, and whole-run targets (see benchmarks/)",
    )
    bench.add_argument(
        "--quick", action="store_true", help="tiny cases only (seconds; checks the harness)"
    )
    bench.add_argument(
        "--only", action="append", metavar="CASE", help="run only this case label (repeat)"
    )
    bench.add_argument("--markdown", metavar="FILE.md", help="also write the tables to this file")
    bench.set_defaults(func=cmd_bench)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already reported
        return int(exc.code or 0) if not isinstance(exc.code, str) else EXIT_INPUT
    try:
        return int(args.func(args))
    except FieldsInputError as exc:
        print(f"fields: error: {_one_line(str(exc))}", file=sys.stderr)
        return EXIT_INPUT
    except NumericalError as exc:
        print(f"fields: error: {_one_line(str(exc))}", file=sys.stderr)
        return EXIT_NUMERICAL
    except KeyboardInterrupt:
        print("fields: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
