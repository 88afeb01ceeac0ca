"""The subcommands of ``fields``: run, plot, sites, sweep, bench (cohort and calibrate are in
:mod:`fields.cli.population`)."""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys

from fields.cli.arguments import check_workers, parse_set
from fields.core.errors import FieldsInputError


def cmd_run(args: argparse.Namespace) -> int:
    import fields
    from fields.engine.loop import DEFAULT_SITES
    from fields.io import check_netcdf_path, write_netcdf

    check_netcdf_path(args.out)  # before minutes of simulation, not after
    params = fields.load_parameters(args.config) if args.config else fields.Parameters()
    if args.set:
        params = params.with_updates(parse_set(args.set))
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
    p_end = float(tree["p_metastatic"][-1])
    death = float(tree["death_day"])
    print(
        f"  P(detectable metastasis by day {float(tree['time'][-1]):.0f}) = {p_end:.3g}; "
        f"death: {'none' if math.isnan(death) else f'day {death:.0f}'}"
    )
    for site in tree.children:
        t = float(tree[site]["time_to_outgrowth_days"])
        when = "never" if math.isnan(t) else f"day {t:.0f}"
        print(f"  {site:<12} P(detectable metastasis) >= 0.5: {when}")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from pathlib import Path

    from fields.core.files import atomic_path
    from fields.io import open_result
    from fields.plot import save_figure

    if not args.out.lower().endswith(".png"):
        raise FieldsInputError(f"--out = '{args.out}' is not allowed: a file name ending in .png")
    if not 20 <= args.dpi <= 600:
        raise FieldsInputError(f"--dpi = {args.dpi} is not allowed: an integer from 20 to 600")
    out = Path(args.out)
    from fields.cli.population import population_figure
    from fields.cli.trials import trial_figure

    fig = trial_figure(args.result) or population_figure(args)
    if fig is not None:
        pass
    elif args.by is not None:
        raise FieldsInputError(f"--by = {args.by!r} is not allowed: only for cohort stores")
    elif args.result.rstrip("/").endswith(".zarr"):
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

    from fields.experiments import open_sweep
    from fields.plot import plot_heatmap, plot_outcome_vs_parameter, plot_sobol

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
    import fields
    from fields.parameters import SiteParameters
    from fields.parameters.references import cited_keys, full_reference

    params = fields.Parameters()
    names = list(params.sites)
    sourced = {
        key: (source, confidence) for key, _v, _u, source, confidence in params.sourced_leaves()
    }
    header = ["parameter", "unit", *names]
    table = [header]
    rows = []
    for f in dataclasses.fields(SiteParameters):
        values = [getattr(params.sites[s], f.name) for s in names]
        if f.metadata["kind"] is dict:
            for factor in sorted({k for v in values for k in v}):
                rows.append(
                    (f"{f.name}.{factor}", f.metadata["unit"], [v.get(factor, 0.0) for v in values])
                )
        else:
            rows.append((f.name, f.metadata["unit"], values))
    for key, unit, values in rows:
        table.append([key, str(unit), *(v if isinstance(v, str) else f"{v:g}" for v in values)])
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for index, row in enumerate(table):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
        if index == 0:
            print("  ".join("-" * w for w in widths))
    print("\nSources (per parameter; [key] cites the bibliography, see the docs' references):")
    for key, _unit, _values in rows:
        notes: dict[tuple[str, str], list[str]] = {}
        for s in names:
            origin = sourced.get(f"sites.{s}.{key}")
            if origin is not None:
                notes.setdefault(origin, []).append(s)
        for (text, confidence), who in notes.items():
            where = "all sites" if len(who) == len(names) else ", ".join(who)
            print(f"  {key} [{where}] ({confidence}): {text}")
    site_texts = (text for key, (text, _c) in sourced.items() if key.startswith("sites."))
    print("\nReferences:")
    for ref in dict.fromkeys(k for text in site_texts for k in cited_keys(text)):
        print(f"  [{ref}] {full_reference(ref)}")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    import time
    import warnings
    from pathlib import Path

    from fields.experiments import failed_runs, load_study, sweep

    check_workers(args.workers)
    study = load_study(args.study)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # failures are listed below instead
        ds = sweep(study, store=args.out, client=args.scheduler, workers=args.workers)
    wall = time.perf_counter() - started
    ran = int(ds.attrs.get("last_run_runs", 0))
    total = ds.sizes["run"]
    rate = f", {ran / wall:.2f} runs/s" if ran else ""
    print(f"{study.name}: {total} runs in {args.out} ({ran} run now in {wall:.1f} s{rate})")
    if "sobol_S1" in ds:
        from fields.core.files import atomic_path
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
    from fields.core.files import atomic_path, check_output_folder

    if args.markdown and not args.markdown.lower().endswith(".md"):
        raise FieldsInputError(
            f"--markdown = '{args.markdown}' is not allowed: a file name ending in .md"
        )
    if args.markdown:
        check_output_folder(Path(args.markdown))  # before minutes of benchmarking
    lines: list[str] = []

    def echo(line: str) -> None:
        lines.append(line)
        print(line, flush=True)

    bench.run(quick=args.quick, only=args.only or (), echo=echo)
    if args.markdown:
        with atomic_path(Path(args.markdown)) as tmp:
            Path(tmp).write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"wrote {args.markdown}")
    return 0
