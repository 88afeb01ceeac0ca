"""The loop state: everything the time loop carries from one step to the next."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from fields.model import primary
from fields.parameters import Parameters


@dataclass
class LoopState:
    """Everything the time loop carries from one step to the next (what a checkpoint holds)."""

    t: float
    dt: float
    cells: float
    resect_pending: bool
    next_out: int = 1
    stop_index: int = 0
    shed_per_day: float = 0.0
    plasma: dict[str, float] = field(default_factory=dict)
    outgrowth: dict[str, float] = field(default_factory=dict)
    previous_expected: dict[str, float] = field(default_factory=dict)
    death_day: float = math.nan
    previous_burden: float = 0.0
    # the error controller (fields.engine.stepping): ln of the controlled quantities now, their
    # change over the last step and its length (0: no history), steps taken, largest estimate
    z: np.ndarray = field(default_factory=lambda: np.zeros(0))
    last_dz: np.ndarray = field(default_factory=lambda: np.zeros(0))
    last_step: float = 0.0
    steps: int = 0
    max_error: float = 0.0

    @classmethod
    def fresh(cls, p: Parameters, names: list[str], resect_day: float | None) -> LoopState:
        return cls(
            t=0.0,
            dt=p.stepping.dt_min_days,
            cells=p.primary.initial_cells,
            resect_pending=resect_day is not None,
            outgrowth={name: math.nan for name in names},
        )

    def systemic(self, p: Parameters) -> dict[str, float]:
        """The primary and plasma now (the first part of
        :func:`fields.engine.contract.systemic_names`)."""
        return {
            "tumour_cells": self.cells,
            "tumour_diameter_mm": primary.diameter_mm(self.cells, p.primary),
            **{f"plasma_{name}": self.plasma[name] for name in p.species},
            "dissemination_rate": self.shed_per_day,
        }


def patient(series: dict[str, dict[str, float]]) -> dict[str, float]:
    """Patient-level outcomes from the sites' series: P(at least one detectable metastasis
    anywhere), the expected number of detectable lesions and the metastatic burden (cells)."""
    expected = sum(s["expected_detectable_lesions"] for s in series.values())
    return {
        "p_metastatic": -math.expm1(-expected),
        "expected_detectable_lesions": expected,
        "metastatic_burden_cells": sum(s["metastasis_cells"] for s in series.values()),
    }
