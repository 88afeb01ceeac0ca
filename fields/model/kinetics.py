"""Shared rate-law building blocks: saturating responses and exact linear relaxation."""

from __future__ import annotations

import numpy as np


def hill(x: np.ndarray, half: float, n: float) -> np.ndarray:
    """x^n / (x^n + half^n), for x >= 0, written 1 / (1 + (half/x)^n) so that no ratio of two
    overflowed powers (inf/inf = NaN) can occur: x = 0 gives 0, x >> half gives 1."""
    with np.errstate(divide="ignore", over="ignore"):
        ratio = half / np.maximum(x, 0.0)
        if isinstance(n, float | int) and n == 4.0:  # squared twice: half the time of pow
            inverse = ratio * ratio
            inverse *= inverse
        else:
            inverse = ratio**n
    return 1.0 / (1.0 + inverse)


def relax(y: np.ndarray, target: np.ndarray, rate: np.ndarray, dt: float) -> np.ndarray:
    """Exact solution of dy/dt = rate (target - y) after dt (rate in 1/day, dt in days)."""
    return target + (y - target) * np.exp(-rate * dt)
