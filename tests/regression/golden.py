"""Golden regression scenarios and the comparison that names what moved.

Regenerate on purpose with ``make regen-golden`` (``python -m tests.regression.regen``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

import fields
from fields.parameters.batch import ParameterBatch

DATA = Path(__file__).resolve().parent.parent / "data"
RTOL = 1e-6  # relative, per value
ATOL_FRACTION = 1e-9  # absolute, as a fraction of the variable's largest magnitude

SCENARIOS: dict[str, dict[str, Any]] = {
    "golden_2d": {
        "updates": {"geometry.domain_um": 200.0, "primary.initial_cells": 1e9},
        "run": {
            "sites": ["lung", "bone_marrow"],
            "days": 360,
            "geometry": "2d",
            "output_every_days": 120,
            "seed": 0,
        },
    },
    "golden_krogh": {
        "updates": {"geometry.krogh_cells": 20},
        "run": {
            "sites": list(fields.SITE_NAMES),
            "days": 3650,
            "geometry": "krogh",
            "output_every_days": 365,
            "seed": 0,
            "store_fields": False,
        },
    },
    "golden_interventions": {
        "updates": {
            "geometry.krogh_cells": 20,
            "primary.resection_diameter_mm": 30.0,
            "interventions.anti_vegf.start_day": 1500.0,
            "interventions.anti_vegf.end_day": 1800.0,
            "interventions.tgfb_blockade.start_day": 1600.0,
            "interventions.lox_inhibition.start_day": 1400.0,
            "interventions.lox_inhibition.end_day": 2000.0,
            "interventions.vessel_normalisation.start_day": 1500.0,
            "interventions.vessel_normalisation.end_day": 1700.0,
        },
        "run": {
            "sites": ["lung", "liver", "bone_marrow"],
            "days": 2500,
            "geometry": "krogh",
            "output_every_days": 250,
            "seed": 0,
        },
    },
}


def run_scenario(name: str, params: fields.Parameters | None = None) -> xr.DataTree:
    spec = SCENARIOS[name]
    p = (params or fields.Parameters()).with_updates(spec["updates"])
    return fields.simulate(p, **spec["run"])


def run_batch_scenario(name: str) -> xr.DataTree:
    """The scenario as run 1 of a two-run batch (run 0: a faster-growing primary)."""
    spec = SCENARIOS[name]
    p = fields.Parameters().with_updates(spec["updates"])
    other = p.with_updates({"primary.tvdt_days": 0.7 * p.primary.tvdt_days})
    run = {"store_fields": True, **spec["run"]}
    return fields.simulate_batch(ParameterBatch.from_sets([other, p]), **run)[1]


def compare(actual: xr.DataTree, golden: xr.DataTree) -> list[str]:
    """Readable differences: one line per variable that moved beyond tolerance."""
    problems = []
    for node in golden.subtree:
        try:
            got = actual[node.path].dataset
        except KeyError:
            problems.append(f"{node.path}: node missing")
            continue
        for name, ref in node.dataset.data_vars.items():
            if name not in got:
                problems.append(f"{node.path}/{name}: variable missing")
                continue
            a = np.asarray(got[name].values, dtype=float)
            b = np.asarray(ref.values, dtype=float)
            if a.shape != b.shape:
                problems.append(f"{node.path}/{name}: shape {a.shape} != golden {b.shape}")
                continue
            both_nan = np.isnan(a) & np.isnan(b)
            scale = np.nanmax(np.abs(b)) if np.isfinite(b).any() else 0.0
            tol = ATOL_FRACTION * scale + RTOL * np.abs(np.nan_to_num(b))
            diff = np.where(both_nan, 0.0, np.abs(a - b))
            bad = ~(diff <= tol)  # a NaN on one side only is a difference
            if bad.any():
                i = np.unravel_index(np.nanargmax(np.where(bad, diff, -1.0)), diff.shape)
                rel = diff[i] / abs(b[i]) if b[i] != 0 else np.inf
                problems.append(
                    f"{node.path}/{name} moved: max |diff| {diff[i]:.3e} ({rel:.2e} relative) at index {tuple(int(k) for k in i)}, "
                    f"golden {b[i]:.6g} -> now {a[i]:.6g}; {int(bad.sum())} of {bad.size} values beyond rtol={RTOL:g}"
                )
    return problems
