"""Size-structured metastatic lesions: growth along characteristics in log size (days, cells).

The lesions of a site have a size density n(t, s) over s = ln(cells) that obeys the transport
equation (Iwata, Kawasaki & Shigesada 2000; Benzekry et al. 2016)

    dn/dt + d(v(s) n)/ds = 0,      v(0) n(t, 0) = F(t)      (lesions founded per day),

with v = d ln x / dt. It is solved along its characteristics: the lesions founded in a step form
a cohort, an expected number of lesions spread evenly over a log-size interval whose two ends
move by the exact solution of the growth law (a founded lesion starts at one cell, so a cohort
founded over dt spans [0, ln x(dt)]). Cohorts never mix, so the scheme is conservative (the
number of lesions changes only by the inflow), positive and free of numerical diffusion; the
density on a fixed size grid is the cohorts' overlap with its bins.

Growth laws, with r = ln 2 / TVDT and a support factor sigma in [0, 1] beyond the avascular limit:

- exponential: d ln x / dt = sigma r
- gompertz:    d ln x / dt = sigma r ln(K/x) / ln(K/x_ref), i.e. u = ln(K/x) decays as e^{-a t}
"""

from __future__ import annotations

import math

import numpy as np

from fields.parameters import LesionParameters


def _rate(p: LesionParameters) -> float:
    """The law's rate constant (1/day): r (exponential) or r / ln(K/x_ref) (Gompertz)."""
    r = p.growth_rate_per_day
    if p.growth_law == "exponential":
        return r
    return r / np.log(p.carrying_capacity_cells / p.reference_cells)


def _advance(s: np.ndarray, rate: np.ndarray | float, dt: float, p: LesionParameters):
    """Exact log size after dt at a constant rate constant (no switch crossed)."""
    ln_k = np.log(p.carrying_capacity_cells)
    if p.growth_law == "exponential":
        return np.minimum(s + rate * dt, ln_k)
    return ln_k - (ln_k - s) * np.exp(-rate * dt)


def _time_to(s: np.ndarray, target: float, rate: float, p: LesionParameters) -> np.ndarray:
    """Days for cohorts below ``target`` to reach it at a constant rate constant (inf if never)."""
    ln_k = np.log(p.carrying_capacity_cells)
    with np.errstate(divide="ignore", invalid="ignore"):
        if p.growth_law == "exponential":
            t = (target - s) / rate
        else:
            t = np.log((ln_k - s) / (ln_k - target)) / rate
    return np.where(rate > 0.0, t, np.inf)


def grow(s: np.ndarray, dt, support, switch, p: LesionParameters) -> np.ndarray:
    """Log sizes after dt days: full rate below the avascular limit ``switch`` (ln cells),
    ``support`` times the rate above it, the crossing handled exactly. Arguments broadcast
    (one run: vectors; a batch: (runs, cohorts) with (runs, 1) parameters)."""
    rate = _rate(p)
    out = _advance(s, rate * support, dt, p)
    below = s < switch
    if np.any(below):
        with np.errstate(divide="ignore", invalid="ignore"):
            t_hit = _time_to(s, switch, rate, p)
            fast = _advance(s, rate, dt, p)
            rest = np.maximum(dt - t_hit, 0.0)
            crossed = _advance(np.zeros_like(s) + switch, rate * support, rest, p)
        out = np.where(below, np.where(t_hit >= dt, fast, crossed), out)
    return out


# Settled cohorts: every lesion at or beyond both the detection size and the avascular limit.
# They all grow by the same supported map in a step, so each is kept as a key on a per-run clock
# (the sum of the map's increments) and costs nothing per step: ln(K/x) = exp(key + clock) for
# Gompertz, ln x = min(key + clock, ln K) for exponential growth.
def clock_increment(dt, support, p: LesionParameters):
    """The settled cohorts' clock advance over dt days with ``support`` (ln units)."""
    rate = _rate(p) * support * dt
    return rate if p.growth_law == "exponential" else -rate


def settle_key(s, clock, ln_k, law: str):
    """The clock-free key of log sizes ``s`` (ln cells) at ``clock``; ``ln_k`` = ln(K)."""
    if law == "exponential":
        return s - clock
    with np.errstate(divide="ignore"):  # a lesion at the carrying capacity: key -inf
        return np.log(ln_k - s) - clock


def settled_size(key, clock, ln_k, law: str):
    """Log sizes (ln cells) of settled cohorts with ``key`` at ``clock``."""
    if law == "exponential":
        return np.minimum(key + clock, ln_k)
    return ln_k - np.exp(key + clock)


def log_cells_at_diameter(diameter_mm, cells_per_mm3):
    """ln(cells) of a sphere of ``diameter_mm``."""
    return np.log(math.pi / 6.0 * diameter_mm**3 * cells_per_mm3)


def merge_closest(
    lo: np.ndarray, hi: np.ndarray, n: np.ndarray, keep: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """At most ``keep`` cohorts: merge the neighbours closest in size into one interval (the
    number of lesions is conserved exactly)."""
    order = np.argsort(lo, kind="stable")
    lo, hi, n = lo[order], hi[order], n[order]
    while lo.size > keep:
        gaps = lo[1:] - hi[:-1] + (hi[1:] - lo[1:]) + (hi[:-1] - lo[:-1])
        pairs = np.sort(np.argsort(gaps, kind="stable")[: lo.size - keep])
        pairs = pairs[np.concatenate(([True], np.diff(pairs) > 1))]  # disjoint pairs
        lo[pairs] = np.minimum(lo[pairs], lo[pairs + 1])
        hi[pairs] = np.maximum(hi[pairs], hi[pairs + 1])
        n[pairs] = n[pairs] + n[pairs + 1]
        drop = np.zeros(lo.size, dtype=bool)
        drop[pairs + 1] = True
        lo, hi, n = lo[~drop], hi[~drop], n[~drop]
    return lo, hi, n


def size_edges(p: LesionParameters) -> np.ndarray:
    """Edges of the lesion-density bins over ln(cells), from one cell to the carrying capacity."""
    return np.linspace(0.0, math.log(p.carrying_capacity_cells), p.size_bins + 1)


def size_centres(p: LesionParameters) -> np.ndarray:
    """Geometric centres of the lesion-density bins (cells)."""
    edges = size_edges(p)
    return np.exp(0.5 * (edges[:-1] + edges[1:]))


_WIDTH = 1e-12  # a cohort narrower than this (in ln cells) is treated as a point


def fraction_below(x: float, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Share of each cohort below the log size ``x`` (cells spread evenly in log size)."""
    return np.clip((x - lo) / np.maximum(hi - lo, _WIDTH), 0.0, 1.0)


_CHUNK = 64  # cohorts per block when binning: bounded memory whatever the cohort count


def density(lo: np.ndarray, hi: np.ndarray, n: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Expected lesions per unit ln(cells) in each bin."""
    below = np.zeros(edges.size)
    for start in range(0, n.size, _CHUNK):
        part = slice(start, start + _CHUNK)
        width = np.maximum(hi[part] - lo[part], _WIDTH)
        share = np.clip((edges[None, :] - lo[part, None]) / width[:, None], 0.0, 1.0)
        below += n[part] @ share
    return np.diff(below) / np.diff(edges)


def expected_above(lo: np.ndarray, hi: np.ndarray, n: np.ndarray, threshold: float) -> float:
    """Expected number of lesions at or above a log size."""
    return float(n @ (1.0 - fraction_below(threshold, lo, hi)))


def cells(lo: np.ndarray, hi: np.ndarray, n: np.ndarray) -> float:
    """Expected tumour cells in the lesions (cells spread evenly in log size in a cohort)."""
    width = hi - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(width > _WIDTH, np.exp(lo) * np.expm1(width) / width, np.exp(lo))
    return float(np.sum(n * mean))
