"""Primary tumour growth, plasma factors and dissemination. Pure functions; time in days.

Growth laws (Klein 2009):

- exponential: dN/dt = rho N,  rho = ln 2 / TVDT
- gompertz:    dN/dt = rho N ln(K/N) / ln(K/N_ref)   (doubling time equals TVDT at N_ref)

Plasma factor X: dC/dt = k (m C_base - C) + m S(N(t)), with clearance k from the plasma half-life
(minutes), m the fraction left active by therapy and the tumour source S either linear in N or
saturating, k dC_max N/(N + N_half) (soluble-receptor trapping keeps plasma VEGF-A within its
measured range; Stefanini et al. 2008). Clearance is minutes while the loop steps days, so the
updates are exact solutions over a step.
"""

from __future__ import annotations

import math

import numpy as np

from fields.parameters import DisseminationParameters, PrimaryParameters, SpeciesParameters


def grow(cells: float, dt_days: float, p: PrimaryParameters) -> float:
    """Tumour cells after ``dt_days`` of growth from ``cells`` (closed form)."""
    if cells <= 0.0:
        return 0.0
    rho = p.growth_rate_per_day
    if p.growth_law == "exponential":
        return cells * math.exp(rho * dt_days)
    big_k = p.carrying_capacity_cells
    if cells >= big_k:
        return big_k
    a = rho / math.log(big_k / p.reference_cells)
    return big_k * math.exp(math.log(cells / big_k) * math.exp(-a * dt_days))


def time_to_reach(cells: float, target: float, p: PrimaryParameters) -> float:
    """Days of growth from ``cells`` until ``target`` cells (0 if already there, inf if never)."""
    if target <= cells:
        return 0.0
    if cells <= 0.0:
        return math.inf
    rho = p.growth_rate_per_day
    if p.growth_law == "exponential":
        return math.log(target / cells) / rho
    big_k = p.carrying_capacity_cells
    if target >= big_k:
        return math.inf
    a = rho / math.log(big_k / p.reference_cells)
    return -math.log(math.log(target / big_k) / math.log(cells / big_k)) / a


def diameter_mm(cells: float | np.ndarray, p: PrimaryParameters) -> float | np.ndarray:
    """Diameter (mm) of a sphere holding ``cells`` at ``p.cells_per_mm3``."""
    volume = np.asarray(cells, dtype=float) / p.cells_per_mm3
    d = np.cbrt(6.0 * volume / math.pi)
    return float(d) if np.ndim(d) == 0 else d


def cells_at_diameter(diameter: float, p: PrimaryParameters) -> float:
    """Cells in a sphere of ``diameter`` mm."""
    return math.pi / 6.0 * diameter**3 * p.cells_per_mm3


def resection_time(p: PrimaryParameters) -> float | None:
    """Day of resection: the earlier of ``resection_day`` and reaching ``resection_diameter_mm``."""
    times = []
    if p.resection_day is not None:
        times.append(p.resection_day)
    if p.resection_diameter_mm is not None:
        t = time_to_reach(p.initial_cells, cells_at_diameter(p.resection_diameter_mm, p), p)
        if math.isfinite(t):
            times.append(t)
    return min(times) if times else None


def onset_time(p: PrimaryParameters, d: DisseminationParameters) -> float:
    """Day the primary first reaches the dissemination onset diameter (before any resection)."""
    return time_to_reach(p.initial_cells, cells_at_diameter(d.onset_diameter_mm, p), p)


def local_rate(n0: float, n1: float, dt: float) -> float:
    """Exponential rate that takes n0 to n1 over dt (the in-step growth model)."""
    if n0 <= 0.0 or n1 <= 0.0 or dt <= 0.0:
        return 0.0
    return math.log(n1 / n0) / dt


def integral_cells(n0: float, n1: float, dt: float) -> float:
    """Cell-days over a step, exact for exponential growth between n0 and n1."""
    lam = local_rate(n0, n1, dt)
    if lam == 0.0:
        return n0 * dt
    return n0 * math.expm1(lam * dt) / lam


def advance_plasma(
    conc: float,
    n0: float,
    n1: float,
    dt: float,
    s: SpeciesParameters,
    active_fraction: float = 1.0,
) -> float:
    """Plasma concentration (pg/mL) after dt days, for tumour cells going from n0 to n1.

    Linear law: exact for N growing exponentially across the step. Saturating law: exact for
    the tumour source varying linearly in time across the step (its error is second order in
    dt, and clearance in minutes makes it negligible over days)."""
    k = s.plasma_clearance_per_day
    m = active_fraction
    base = m * s.plasma_baseline_pg_per_ml
    decay = math.exp(-k * dt)
    out = base + (conc - base) * decay
    if s.plasma_source_law == "linear":
        if n0 > 0.0:
            lam = local_rate(n0, n1, dt)
            out += (
                m
                * s.plasma_secretion_per_cell_per_day
                * n0
                * (math.exp(lam * dt) - decay)
                / (lam + k)
            )
        return out
    s0, s1 = m * s.plasma_source_per_day(n0), m * s.plasma_source_per_day(n1)
    if dt <= 0.0:
        return out
    e1 = -math.expm1(-k * dt) / k  # int_0^dt e^{-k(dt - tau)} dtau
    e2 = dt / k - e1 / k  # int_0^dt e^{-k(dt - tau)} tau dtau
    return out + s0 * e1 + (s1 - s0) / dt * e2


def plasma_steady_state(cells: float, s: SpeciesParameters, active_fraction: float = 1.0) -> float:
    """Quasi-steady plasma level for a constant burden (pg/mL)."""
    return active_fraction * (
        s.plasma_baseline_pg_per_ml + s.plasma_source_per_day(cells) / s.plasma_clearance_per_day
    )


def shed_rate(cells: float, p: PrimaryParameters, d: DisseminationParameters) -> float:
    """Cells shed into the blood per day (only above the onset diameter)."""
    if cells <= 0.0 or diameter_mm(cells, p) < d.onset_diameter_mm * (1.0 - 1e-12):
        return 0.0
    grams = cells / (p.cells_per_mm3 * 1000.0)  # 1 cm^3 ~ 1 g
    return d.shed_cells_per_g_per_day * grams


def shed_cells(
    n0: float, n1: float, dt: float, p: PrimaryParameters, d: DisseminationParameters
) -> float:
    """Cells shed during a step (the step never straddles the onset: it is an event)."""
    if shed_rate(n0, p, d) == 0.0:
        return 0.0
    grams_per_cell = 1.0 / (p.cells_per_mm3 * 1000.0)
    return d.shed_cells_per_g_per_day * grams_per_cell * integral_cells(n0, n1, dt)
