"""What a run keeps: outputs at the requested days, and the finished run handed to the io layer."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fields.engine.site import SiteModel
from fields.parameters import Parameters


class Frames:
    """The frames of one stored field, written into one array allocated at the first frame for
    ``capacity`` frames (the run's output days) and doubled if more come, so the output tree
    takes a view instead of stacking a list (a second copy of every stored field)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(int(capacity), 1)
        self.data: np.ndarray | None = None
        self.n = 0

    def append(self, frame: np.ndarray) -> None:
        if self.data is None:
            self.data = np.empty((self.capacity, *np.shape(frame)))
        elif self.n == self.data.shape[0]:
            self.data = np.concatenate([self.data, np.empty_like(self.data)])
        self.data[self.n] = frame
        self.n += 1

    def array(self) -> np.ndarray:
        """The frames so far, ``(frames, *shape)``: a view, not a copy."""
        return np.empty((0,)) if self.data is None else self.data[: self.n]


def stacked(frames) -> np.ndarray:
    """A stored field's frames as one array: a view of :class:`Frames`, a stack of a list."""
    return frames.array() if isinstance(frames, Frames) else np.stack(frames)


@dataclass
class Recorder:
    """Collects outputs at the requested days (``capacity``: how many, to size stored fields)."""

    store_fields: bool
    times: list[float] = field(default_factory=list)
    systemic: dict[str, list[float]] = field(default_factory=dict)
    site_series: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    #: per site and field: :class:`Frames` as recorded, lists of frames after a checkpoint or
    #: from a batch
    site_fields: dict[str, dict[str, Frames | list[np.ndarray]]] = field(default_factory=dict)
    lesion_density: dict[str, list[np.ndarray]] = field(default_factory=dict)
    capacity: int = 1

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
                    if key not in store:
                        store[key] = Frames(self.capacity)
                    store[key].append(model.patch.to_grid(values))


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
