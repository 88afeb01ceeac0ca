"""Argument helpers shared by the subcommands."""

from __future__ import annotations

from collections.abc import Sequence

from fields.core.errors import FieldsInputError


def parse_set(items: Sequence[str]) -> dict[str, str]:
    """``--set key=value`` items as a dict of dotted keys."""
    updates: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise FieldsInputError(
                f"--set {item!r} is not allowed: the form is key=value, e.g. primary.tvdt_days=80"
            )
        updates[key.strip()] = value.strip()
    return updates


def add_executor_options(parser) -> None:
    """--workers or --scheduler: where a sweep, cohort or calibration runs."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=int,
        help="worker processes of a local cluster (default: one per core; 0: in this process)",
    )
    where.add_argument("--scheduler", metavar="ADDRESS", help="an existing Dask scheduler")


def check_workers(workers: int | None) -> None:
    if workers is not None and workers < 0:
        raise FieldsInputError(f"--workers = {workers} is not allowed: an integer >= 0")


def output_path(value: str, suffix: str, what: str):
    """``--out``: a name ending in ``suffix`` in an existing folder."""
    from pathlib import Path

    from fields.core.files import check_output_folder

    out = Path(value)
    if out.suffix != suffix:
        raise FieldsInputError(f"--out = '{out}' is not allowed: a {what} name ending in {suffix}")
    check_output_folder(out)
    return out


def write_beside(out, fig, text: str):
    """The figure (.png) and the report (.md) beside ``out``, each written atomically; prints the
    report and returns the two paths."""
    from pathlib import Path

    from fields.core.files import atomic_path
    from fields.plot import save_figure

    figure, table = Path(out).with_suffix(".png"), Path(out).with_suffix(".md")
    with atomic_path(figure) as tmp:
        save_figure(fig, tmp)
    with atomic_path(table) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    print(text)
    return figure, table
