"""Command line: ``fields run | sweep | cohort | calibrate | plot | sites | bench``.

Bad input never shows a traceback: one message naming the key, the value and what is allowed,
exit code 2, and no output file left behind (results are written to a temporary name and renamed).
A numerical failure (NaN, Inf, a bound violated) is one message naming the site, the variable, the
time and the likely cause, exit code 3. A sweep with failed runs exits 1 and lists them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from fields.cli.arguments import add_executor_options
from fields.cli.commands import cmd_bench, cmd_plot, cmd_run, cmd_sites, cmd_sweep
from fields.cli.population import add_parsers
from fields.cli.trials import add_parser as add_trial_parser
from fields.core.errors import FieldsInputError, NumericalError

EXIT_INPUT = 2
EXIT_NUMERICAL = 3


def _one_line(message: str) -> str:
    """Escape control characters (a key may contain a newline) so an error stays one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)


class OneLineErrorParser(argparse.ArgumentParser):
    """Usage errors as one line (like every other bad input), exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_INPUT, f"fields: error: {_one_line(message)} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    from fields.core.version import __version__
    from fields.parameters import GEOMETRIES, SITE_NAMES

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

    plot = sub.add_parser(
        "plot", help="PNG of a run or a calibration (.nc), or of a sweep or cohort store (.zarr)"
    )
    plot.add_argument("result", help="result or fit file (.nc), or sweep or cohort store (.zarr)")
    plot.add_argument("--out", required=True, help="figure file (.png)")
    plot.add_argument(
        "--output",
        help="sweeps: output to plot, or 'sobol' (default: Sobol bars if present); cohorts: mfs",
    )
    plot.add_argument("--x", help="sweeps: varied parameter on the x axis (default: the first)")
    plot.add_argument("--y", help="sweeps: second varied parameter (draws a heatmap)")
    plot.add_argument(
        "--site",
        action="append",
        help="runs: sites to draw (repeat; default all); sweeps: site of a per-site output",
    )
    plot.add_argument(
        "--by", help="cohorts: group the survival curves by t_stage or a sampled parameter"
    )
    plot.add_argument("--dpi", type=int, default=110, help="resolution (default 110)")
    plot.set_defaults(func=cmd_plot)

    sites = sub.add_parser("sites", help="table of organ-site presets with units and sources")
    sites.set_defaults(func=cmd_sites)

    sweep = sub.add_parser("sweep", help="run or resume a study on Dask into a zarr store")
    sweep.add_argument("study", help="study file (.toml), see studies/")
    sweep.add_argument("--out", required=True, help="zarr store (.zarr); resumed if it exists")
    add_executor_options(sweep)
    sweep.set_defaults(func=cmd_sweep)

    add_parsers(sub)
    add_trial_parser(sub)

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
