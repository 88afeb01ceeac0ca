"""What a batch of runs keeps: every run's outputs on the shared output days, as (runs, time)
arrays, and one finished run as the io layer reads it (:class:`RunRecord`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fields.model import lesions
from fields.numerics.geometry import Patch
from fields.parameters import Parameters
from fields.parameters.batch import ParameterBatch


@dataclass
class Record:
    """Outputs of a batch: ``systemic[name]`` (runs, time), ``site_series[site][name]`` (runs,
    time), optional ``fields[site][name]`` (runs, time, cells) and ``density[site]`` (runs, time,
    lesion_size); per run the outgrowth, death and resection days, steps taken, and the message
    of each run that failed a numerical guard (``errors``, by run index)."""

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

    def write(self, ids, at, column, systemic, sites, lesion_series, edges) -> None:
        """Store output ``column[k]`` of batch rows ``at`` (runs ``ids[at]``): the systemic
        values (rows, 1), each site's series and lesion series, fields and size density."""
        runs = ids[at]
        for key, kept in self.systemic.items():
            kept[runs, column] = np.broadcast_to(systemic[key], (ids.size, 1))[at, 0]
        for name, site in sites.items():
            series = {**site.series(), **lesion_series[name]}
            for key, kept in self.site_series[name].items():
                kept[runs, column] = series[key][at, 0]
            if self.fields:
                for key, value in site.state.items():
                    self.fields[name][key][runs, column] = value[at]
            if self.density:
                for row, run, col in zip(at, runs, column, strict=True):
                    self.density[name][run, col] = site.lesions.density(row, edges)

    def output_count(self, i: int) -> int:
        """How many output days run i has (those up to its own horizon)."""
        days = float(self.horizon[i]) if self.horizon.size else self.days
        return int(np.searchsorted(self.times, days + 1e-9 * max(days, 1.0), side="right"))

    def run_record(self, i: int) -> RunRecord:
        """Run i alone, for :func:`fields.io.build_tree` (views of this record's arrays)."""
        if i in self.errors:
            raise RuntimeError(self.errors[i])
        p = self.batch.member(i)
        days = float(self.horizon[i]) if self.horizon.size else self.days
        n = self.output_count(i)
        centres = lesions.size_centres(p.lesions)
        fields_ = {
            s: {
                k: v[i, :n].reshape(n, *self.patches[s][i].shape) for k, v in self.fields[s].items()
            }
            for s in self.fields
        }
        return RunRecord(
            params=p,
            patches={s: self.patches[s][i] for s in self.sites},
            times=self.times[:n],
            systemic={k: v[i, :n] for k, v in self.systemic.items()},
            site_series={
                s: {k: v[i, :n] for k, v in series.items()}
                for s, series in self.site_series.items()
            },
            density={s: v[i, :n] for s, v in self.density.items()},
            fields=fields_,
            lesion_sizes=centres,
            outgrowth={s: float(self.outgrowth[s][i]) for s in self.sites},
            geometry=self.geometry,
            seed=self.seed,
            days=days,
            events=self.events[i],
            onset_day=float(self.onset_day[i]),
            resection_day=float(self.resection_day[i]),
            death_day=float(self.death_day[i]),
            steps=int(self.steps[i]),
            max_error=float(self.max_error[i]) if self.max_error.size else 0.0,
        )


@dataclass
class RunRecord:
    """One finished run: its outputs on its output days (``times``), site by site, with the
    patch of each site; ``fields[site][name]`` is ``(time, *grid)`` when fields were stored and
    ``density[site]`` (time, lesion_size) when lesion densities were kept."""

    params: Parameters
    patches: dict[str, Patch]
    times: np.ndarray
    systemic: dict[str, np.ndarray]
    site_series: dict[str, dict[str, np.ndarray]]
    density: dict[str, np.ndarray]
    fields: dict[str, dict[str, np.ndarray]]
    lesion_sizes: np.ndarray  # geometric centres of the lesion-size bins (cells)
    outgrowth: dict[str, float]
    geometry: str
    seed: int
    days: float
    events: list[tuple[float, str]]
    onset_day: float
    resection_day: float
    death_day: float
    steps: int = 0  # time steps taken
    max_error: float = 0.0  # largest local error estimate of a step (ln units; stepping.rtol)

    @property
    def sites(self) -> list[str]:
        return list(self.patches)
