"""Hypoxia response to tissue oxygen."""

from __future__ import annotations

import numpy as np

from fields.parameters import OxygenParameters


def hypoxia(oxygen: np.ndarray, p: OxygenParameters) -> np.ndarray:
    """H(O) = 1 / (1 + (O/O_h)^m) in [0, 1]; O in mmHg."""
    ratio = np.maximum(oxygen, 0.0) / p.hypoxia_threshold_mmhg
    with np.errstate(over="ignore"):  # a huge ratio overflows to inf, and H to 0: correct
        return 1.0 / (1.0 + ratio**p.hypoxia_hill)
