"""The targets table of ``fields bench``: whole :func:`fields.simulate` runs (the default
scenario, one Krogh site, a 3d 50^3 year, and the memory of a long run without fields), wall
time after import and peak memory, each in its own child process."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fields.bench.harness import in_child, peak_rss_mib
from fields.engine.loop import DEFAULT_SITES


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


TARGET_CASES = (
    TargetCase("default scenario (5 sites, 2d, 3650 d)", DEFAULT_SITES, "2d", 3650.0, "< 60 s"),
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


def run_target_case(case: TargetCase) -> dict[str, object]:
    """Child process: one whole run; wall time after import and peak memory."""
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
    return {"wall_s": time.perf_counter() - t0, "peak_mib": peak_rss_mib()}


def run_target_table(
    cases: Sequence[TargetCase] = TARGET_CASES, echo: Callable[[str], None] = print
) -> list[dict[str, object]]:
    """Measure the targets table, printing each row as it completes; return the rows."""
    if not cases:
        return []
    echo("")
    echo("Targets: whole fields.simulate runs (default parameters, outputs every 30 d)")
    echo("")
    echo("| run | wall s (after import) | peak MiB | target |")
    echo("|---|---:|---:|---|")
    rows = []
    for case in cases:
        result = in_child(run_target_case, case)
        rows.append({"run": case.label, **result, "target": case.target})
        echo(
            f"| {case.label} | {result['wall_s']:.2f} | {result['peak_mib']:.0f} | {case.target} |"
        )
    return rows
