"""What a batch keeps: every run's outputs on the shared output days, as (runs, time) arrays."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fields.engine.recorder import Recorder, RunRecord
from fields.model import lesions
from fields.numerics.geometry import Patch
from fields.parameters.batch import ParameterBatch


@dataclass
class BatchRecord:
    """Outputs of a batch: ``systemic[name]`` (runs, time), ``site_series[site][name]`` (runs,
    time), optional ``fields[site][name]`` (runs, time, cells) and ``density[site]`` (runs, time,
    lesion_size); per run the outgrowth, death and resection days, steps taken and failures."""

    batch: ParameterBatch
    sites: list[str]
    geometry: str
    seed: int
    days: float
    times: np.ndarray
    keep: str
    systemic: dict[str, np.ndarray] = field(default_factory=dict)
    site_series: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    fields: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    density: dict[str, np.ndarray] = field(default_factory=dict)
    outgrowth: dict[str, np.ndarray] = field(default_factory=dict)
    death_day: np.ndarray = field(default_factory=lambda: np.zeros(0))
    resection_day: np.ndarray = field(default_factory=lambda: np.zeros(0))
    onset_day: np.ndarray = field(default_factory=lambda: np.zeros(0))
    events: list[list[tuple[float, str]]] = field(default_factory=list)
    steps: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    max_error: np.ndarray = field(default_factory=lambda: np.zeros(0))
    errors: dict[int, str] = field(default_factory=dict)
    patches: dict[str, list[Patch]] = field(default_factory=dict)
    horizon: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def size(self) -> int:
        return self.batch.size

    def output_count(self, i: int) -> int:
        """How many output days run i has (those up to its own horizon)."""
        days = float(self.horizon[i]) if self.horizon.size else self.days
        return int(np.searchsorted(self.times, days + 1e-9 * max(days, 1.0), side="right"))

    def run_record(self, i: int) -> RunRecord:
        """Run i as the per-run engine's :class:`RunRecord` (for :func:`fields.io.build_tree`)."""
        if i in self.errors:
            raise RuntimeError(self.errors[i])
        p = self.batch.member(i)
        days = float(self.horizon[i]) if self.horizon.size else self.days
        n = self.output_count(i)
        rec = Recorder(store_fields=bool(self.fields))
        rec.times = [float(t) for t in self.times[:n]]
        rec.systemic = {k: list(v[i, :n]) for k, v in self.systemic.items()}
        rec.site_series = {
            s: {k: list(v[i, :n]) for k, v in series.items()}
            for s, series in self.site_series.items()
        }
        rec.lesion_density = {s: list(v[i, :n]) for s, v in self.density.items()}
        views = {}
        for s in self.sites:
            patch = self.patches[s][i]
            if self.fields:
                rec.site_fields[s] = {
                    k: [patch.to_grid(frame) for frame in v[i, :n]]
                    for k, v in self.fields[s].items()
                }
            views[s] = _SiteView(patch, _Sizes(lesions.size_edges(p.lesions)))
        return RunRecord(
            p,
            views,  # type: ignore[arg-type]  # what build_tree reads of a SiteModel
            rec,
            {s: float(self.outgrowth[s][i]) for s in self.sites},
            self.geometry,
            self.seed,
            days,
            self.events[i],
            float(self.onset_day[i]),
            float(self.resection_day[i]),
            float(self.death_day[i]),
            int(self.steps[i]),
            float(self.max_error[i]) if self.max_error.size else 0.0,
        )


@dataclass
class _Sizes:
    edges: np.ndarray

    def centres(self) -> np.ndarray:
        return np.exp(0.5 * (self.edges[:-1] + self.edges[1:]))


@dataclass
class _SiteView:
    patch: Patch
    lesions: _Sizes
