"""Command line: ``fields run | plot | sites`` (DESIGN 6).

Bad input never shows a traceback: one message naming the key, the value and what is allowed,
exit code 2, and no output file left behind (results are written to a temporary name and renamed).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from collections.abc import Sequence

from fields.errors import FieldsInputError

EXIT_INPUT = 2


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
    from fields.output import write_netcdf
    from fields.simulate import DEFAULT_SITES

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
    from fields.plot import plot_result, save_figure

    if not args.out.lower().endswith(".png"):
        raise FieldsInputError(f"--out = '{args.out}' is not allowed: a file name ending in .png")
    out = Path(args.out)
    fig = plot_result(open_result(args.result))
    with atomic_path(out) as tmp:
        save_figure(fig, tmp)
    print(f"wrote {out}")
    return 0


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


def build_parser() -> argparse.ArgumentParser:
    from fields import __version__
    from fields.geometry import GEOMETRIES
    from fields.sites import SITE_NAMES

    parser = argparse.ArgumentParser(prog="fields", description=__doc__.splitlines()[0])
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
    run.add_argument("--out", required=True, help="result file (.nc)")
    run.set_defaults(func=cmd_run)

    plot = sub.add_parser("plot", help="multi-panel PNG of a result")
    plot.add_argument("result", help="result file (.nc)")
    plot.add_argument("--out", required=True, help="figure file (.png)")
    plot.set_defaults(func=cmd_plot)

    sites = sub.add_parser("sites", help="table of organ-site presets with units and sources")
    sites.set_defaults(func=cmd_sites)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except FieldsInputError as exc:
        print(f"fields: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("fields: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
