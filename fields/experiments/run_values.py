"""What a study's outputs read of one run, from its DataTree or straight from a batch record.

A batched sweep derives each run's outputs from the batch arrays without building a DataTree
per run; both sources give the same numbers (tests/experiments/test_sweep.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from fields.engine.record import Record


@dataclass
class RunValues:
    """One run's outputs on its output days (days): systemic and site series, the per-site
    outgrowth day, resection and death days, and each stored field at the last output."""

    times: np.ndarray
    systemic: dict[str, np.ndarray]
    sites: dict[str, dict[str, np.ndarray]]
    outgrowth: dict[str, float]
    resection_day: float
    death_day: float
    last_fields: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    @classmethod
    def from_tree(cls, tree: xr.DataTree) -> RunValues:
        root = tree.dataset
        sites = list(tree.children)
        return cls(
            times=np.asarray(tree["time"].values, dtype=float),
            systemic={k: np.asarray(v.values) for k, v in root.data_vars.items() if v.dims},
            sites={
                s: {
                    k: v.values for k, v in tree[s].dataset.data_vars.items() if v.dims == ("time",)
                }
                for s in sites
            },
            outgrowth={s: float(tree[s]["time_to_outgrowth_days"]) for s in sites},
            resection_day=float(tree["resection_day"]),
            death_day=float(tree["death_day"]),
            last_fields={
                s: {
                    k: v.isel(time=-1).values.ravel()
                    for k, v in tree[s].dataset.data_vars.items()
                    if v.dims[:1] == ("time",) and len(v.dims) > 1 and k != "lesion_density"
                }
                for s in sites
            },
        )

    @classmethod
    def from_batch(cls, rec: Record, i: int) -> RunValues:
        """Run i of a batch record (its outputs up to its own horizon)."""
        n = rec.output_count(i)
        return cls(
            times=np.asarray(rec.times[:n], dtype=float),
            systemic={k: v[i, :n] for k, v in rec.systemic.items()},
            sites={
                s: {k: v[i, :n] for k, v in series.items()} for s, series in rec.site_series.items()
            },
            outgrowth={s: float(v[i]) for s, v in rec.outgrowth.items()},
            resection_day=float(rec.resection_day[i]),
            death_day=float(rec.death_day[i]) if rec.death_day.size else math.nan,
            last_fields={
                s: {k: v[i, n - 1] for k, v in frames.items()} for s, frames in rec.fields.items()
            },
        )
