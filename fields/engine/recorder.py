"""What a run keeps: outputs at the requested days, and the finished run handed to the io layer."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fields.engine.site import SiteModel
from fields.parameters import Parameters


@dataclass
class Recorder:
    """Collects outputs at the requested days."""

    store_fields: bool
    times: list[float] = field(default_factory=list)
    systemic: dict[str, list[float]] = field(default_factory=dict)
    site_series: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    site_fields: dict[str, dict[str, list[np.ndarray]]] = field(default_factory=dict)
    lesion_density: dict[str, list[np.ndarray]] = field(default_factory=dict)

    def record(
        self,
        t: float,
        systemic: dict[str, float],
        sites: dict[str, SiteModel],
        series: dict[str, dict[str, float]],
    ) -> None:
        """Keep the outputs at day t (``series``: each site's series, computed once per step)."""
        self.times.append(t)
        for key, value in systemic.items():
            self.systemic.setdefault(key, []).append(value)
        for name, model in sites.items():
            for key, value in series[name].items():
                self.site_series.setdefault(name, {}).setdefault(key, []).append(value)
            self.lesion_density.setdefault(name, []).append(model.lesions.density())
            if self.store_fields:
                store = self.site_fields.setdefault(name, {})
                for key, values in model.state.items():
                    store.setdefault(key, []).append(model.patch.to_grid(values).copy())


@dataclass
class RunRecord:
    """A finished run: what :func:`fields.io.build_tree` turns into the output DataTree."""

    params: Parameters
    sites: dict[str, SiteModel]
    recorder: Recorder
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
