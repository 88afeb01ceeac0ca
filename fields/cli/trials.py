"""``fields trial``: a virtual adjuvant trial from a trial file into a zarr store, with its
report (.md) and figure (.png) beside it."""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from fields.cli.arguments import add_executor_options, check_workers, output_path, write_beside
from fields.core.errors import FieldsInputError


def cmd_trial(args: argparse.Namespace) -> int:
    from fields.experiments.population import trial as trials
    from fields.experiments.population.trial_file import DESIGNS, load_trial
    from fields.plot.trial import plot_trial

    check_workers(args.workers)
    out = output_path(args.out, ".zarr", "store")
    if out.exists():
        raise FieldsInputError(
            f"--out = '{out}' is not allowed: it exists (a finished trial; an unfinished one "
            f"resumes from {trials.arm_store(out, 'ARM').parent})"
        )
    if args.patients is not None and args.patients < 1:
        raise FieldsInputError(f"--patients = {args.patients} is not allowed: an integer >= 1")
    if args.design is not None and args.design not in DESIGNS:
        raise FieldsInputError(
            f"--design = {args.design!r} is not allowed: one of {', '.join(DESIGNS)}"
        )
    spec = load_trial(args.trial)
    if args.design is not None:
        spec = dataclasses.replace(spec, design=args.design)
    started = time.perf_counter()
    ds = trials.trial(
        spec, store=out, client=args.scheduler, workers=args.workers, patients=args.patients
    )
    trials.write_trial(ds, out)
    trials.finish(out)
    from fields.experiments.population.trial_report import report

    figure, table = write_beside(out, plot_trial(ds), report(ds))
    print(f"wrote {out}, {figure}, {table} in {time.perf_counter() - started:.1f} s")
    return 0


def trial_figure(path: str):
    """The figure of a trial store, or None when ``path`` is not one."""
    p = Path(path.rstrip("/"))
    if not (p / ".zattrs").is_file():
        return None
    import json

    if "trial" not in json.loads((p / ".zattrs").read_text(encoding="utf-8")):
        return None
    from fields.experiments.population.trial import open_trial
    from fields.plot.trial import plot_trial

    return plot_trial(open_trial(p))


def add_parser(sub) -> None:
    trial = sub.add_parser(
        "trial", help="run a virtual adjuvant trial: arms on the same virtual patients"
    )
    trial.add_argument(
        "trial", help="trial file (.toml), e.g. studies/trials/ebctcg_chemotherapy.toml"
    )
    trial.add_argument("--out", required=True, help="zarr store (.zarr); also writes .png and .md")
    trial.add_argument("--patients", type=int, help="patients per arm (default: the file's)")
    trial.add_argument("--design", help="paired (default: the file's) or independent")
    add_executor_options(trial)
    trial.set_defaults(func=cmd_trial)
