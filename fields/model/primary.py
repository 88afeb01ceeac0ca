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


def grow(cells, dt_days, p: PrimaryParameters):
    """Tumour cells after ``dt_days`` of growth from ``cells`` (closed form; arrays broadcast)."""
    cells = np.asarray(cells, dtype=float)
    rho = p.growth_rate_per_day
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if p.growth_law == "exponential":
            out = cells * np.exp(rho * dt_days)
        else:
            big_k = p.carrying_capacity_cells
            a = rho / np.log(big_k / p.reference_cells)
            out = big_k * np.exp(np.log(cells / big_k) * np.exp(-a * dt_days))
            out = np.where(cells >= big_k, big_k, out)
    return _same(np.where(cells > 0.0, out, 0.0))


def _same(x: np.ndarray):
    """A float for a scalar result, the array otherwise."""
    return float(x) if np.ndim(x) == 0 else x


def time_to_reach(cells, target, p: PrimaryParameters):
    """Days of growth from ``cells`` until ``target`` cells (0 if already there, inf if never)."""
    cells, target = np.asarray(cells, dtype=float), np.asarray(target, dtype=float)
    rho = p.growth_rate_per_day
    with np.errstate(divide="ignore", invalid="ignore"):
        if p.growth_law == "exponential":
            t = np.log(target / cells) / rho
        else:
            big_k = p.carrying_capacity_cells
            a = rho / np.log(big_k / p.reference_cells)
            t = -np.log(np.log(target / big_k) / np.log(cells / big_k)) / a
            t = np.where(target >= big_k, np.inf, t)
    t = np.where(cells <= 0.0, np.inf, t)
    return _same(np.where(target <= cells, 0.0, t))


def diameter_mm(cells: float | np.ndarray, p: PrimaryParameters) -> float | np.ndarray:
    """Diameter (mm) of a sphere holding ``cells`` at ``p.cells_per_mm3``."""
    volume = np.asarray(cells, dtype=float) / p.cells_per_mm3
    d = np.cbrt(6.0 * volume / math.pi)
    return float(d) if np.ndim(d) == 0 else d


def cells_at_diameter(diameter: float, p: PrimaryParameters) -> float:
    """Cells in a sphere of ``diameter`` mm."""
    return math.pi / 6.0 * diameter**3 * p.cells_per_mm3


def resection_time(p: PrimaryParameters):
    """Day of resection: the earlier of ``resection_day`` and reaching ``resection_diameter_mm``."""
    t = np.inf
    if p.resection_day is not None:
        t = np.minimum(t, p.resection_day)
    if p.resection_diameter_mm is not None:
        t = np.minimum(
            t, time_to_reach(p.initial_cells, cells_at_diameter(p.resection_diameter_mm, p), p)
        )
    out = _same(np.asarray(t, dtype=float))
    if np.ndim(out) == 0:  # one run: None when never resected; a batch: inf
        return out if math.isfinite(out) else None
    return out


def onset_time(p: PrimaryParameters, d: DisseminationParameters) -> float:
    """Day the primary first reaches the dissemination onset diameter (before any resection)."""
    return time_to_reach(p.initial_cells, cells_at_diameter(d.onset_diameter_mm, p), p)


def local_rate(n0, n1, dt):
    """Exponential rate that takes n0 to n1 over dt (the in-step growth model)."""
    n0, n1, dt = (np.asarray(x, dtype=float) for x in (n0, n1, dt))
    ok = (n0 > 0.0) & (n1 > 0.0) & (dt > 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.log(n1 / n0) / dt
    return _same(np.where(ok, rate, 0.0))


def integral_cells(n0, n1, dt):
    """Cell-days over a step, exact for exponential growth between n0 and n1."""
    lam = np.asarray(local_rate(n0, n1, dt))
    safe = np.where(lam == 0.0, 1.0, lam)
    return _same(np.where(lam == 0.0, n0 * dt, n0 * np.expm1(lam * dt) / safe))


def advance_plasma(conc, n0, n1, dt, s: SpeciesParameters, active_fraction=1.0):
    """Plasma concentration (pg/mL) after dt days, for tumour cells going from n0 to n1.

    Linear law: exact for N growing exponentially across the step. Saturating law: exact for
    the tumour source varying linearly in time across the step (its error is second order in
    dt, and clearance in minutes makes it negligible over days). Arrays broadcast (dt > 0)."""
    k = s.plasma_clearance_per_day
    m = active_fraction
    base = m * s.plasma_baseline_pg_per_ml
    decay = np.exp(-k * dt)
    out = base + (conc - base) * decay
    if s.plasma_source_law == "linear":
        lam = local_rate(n0, n1, dt)
        rise = m * s.plasma_secretion_per_cell_per_day * n0 * (np.exp(lam * dt) - decay)
        return _same(out + np.where(np.asarray(n0) > 0.0, rise / (lam + k), 0.0))
    s0, s1 = m * s.plasma_source_per_day(n0), m * s.plasma_source_per_day(n1)
    e1 = -np.expm1(-k * dt) / k  # int_0^dt e^{-k(dt - tau)} dtau
    e2 = dt / k - e1 / k  # int_0^dt e^{-k(dt - tau)} tau dtau
    return _same(out + s0 * e1 + (s1 - s0) / dt * e2)


def plasma_steady_state(cells: float, s: SpeciesParameters, active_fraction: float = 1.0) -> float:
    """Quasi-steady plasma level for a constant burden (pg/mL)."""
    return active_fraction * (
        s.plasma_baseline_pg_per_ml + s.plasma_source_per_day(cells) / s.plasma_clearance_per_day
    )


def shed_rate(cells, p: PrimaryParameters, d: DisseminationParameters):
    """Cells shed into the blood per day (only above the onset diameter)."""
    cells = np.asarray(cells, dtype=float)
    above = diameter_mm(cells, p) >= d.onset_diameter_mm * (1.0 - 1e-12)
    grams = cells / (p.cells_per_mm3 * 1000.0)  # 1 cm^3 ~ 1 g
    rate = _per_g_per_day(p, d) * grams**d.size_exponent  # per 1 g at 1 g
    return _same(np.where((cells > 0.0) & above, rate, 0.0))


def metastatic_shed_rate(cells, p: PrimaryParameters, d: DisseminationParameters):
    """Cells shed into the blood per day by metastases holding ``cells`` in all, shedding as one
    tumour of that mass at ``d.metastatic_shedding`` times the primary's rate per gram (the
    primary's growth coupling and onset apply)."""
    return _same(np.asarray(d.metastatic_shedding) * np.asarray(shed_rate(cells, p, d)))


def _per_g_per_day(p: PrimaryParameters, d: DisseminationParameters):
    """Cells shed per gram per day at 1 g: per day (coupling 0) or per doubling (coupling 1)."""
    return d.shed_cells_per_g_per_day * (d.reference_tvdt_days / p.tvdt_days) ** d.growth_coupling


def shed_cells(n0, n1, dt, p: PrimaryParameters, d: DisseminationParameters):
    """Cells shed during a step (the step never straddles the onset: it is an event); exact for
    exponential growth across the step, since N**b then grows exponentially too."""
    b = d.size_exponent
    grams_per_cell = 1.0 / (p.cells_per_mm3 * 1000.0)
    shed = (
        _per_g_per_day(p, d)
        * grams_per_cell**b
        * integral_cells(np.asarray(n0, dtype=float) ** b, np.asarray(n1, dtype=float) ** b, dt)
    )
    return _same(np.where(np.asarray(shed_rate(n0, p, d)) == 0.0, 0.0, shed))
