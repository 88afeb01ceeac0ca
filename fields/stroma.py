"""Stromal response per voxel: LOX, ECM stiffness and niche formation (DESIGN 3.2).

Each ODE is linear in its own state once the other fields are frozen over a step, so every update
is the exact solution of dy/dt = rate (target - y): unconditionally stable, bounded by
construction, vectorised over voxels. Causal chain from ``000_2a2265c6c67cfdc9.txt`` 3.2-3.3:
hypoxia induces LOX, LOX crosslinking and TGF-beta stiffen the matrix, VEGF-A (VEGFR1+ BMDC
recruitment) and TGF-beta (S100A8/9 induction) above a threshold form the niche, and removing the
primary lets the niche decay.
"""

from __future__ import annotations

import numpy as np

from fields.parameters import StromaParameters


def hill(x: np.ndarray, half: float, n: float) -> np.ndarray:
    """x^n / (x^n + half^n), for x >= 0, written 1 / (1 + (half/x)^n) so that no ratio of two
    overflowed powers (inf/inf = NaN) can occur: x = 0 gives 0, x >> half gives 1."""
    with np.errstate(divide="ignore", over="ignore"):
        inverse = (half / np.maximum(x, 0.0)) ** n
    return 1.0 / (1.0 + inverse)


def relax(y: np.ndarray, target: np.ndarray, rate: np.ndarray, dt: float) -> np.ndarray:
    """Exact solution of dy/dt = rate (target - y) after dt."""
    return target + (y - target) * np.exp(-rate * dt)


def update_lox(
    lox: np.ndarray, hyp: np.ndarray, p: StromaParameters, inhibition: float, dt: float
) -> np.ndarray:
    """dL/dt = a_L (1 - inhibition) H - L / tau_L (LOX in a.u.; 1 at full hypoxia)."""
    rate = 1.0 / p.lox_lifetime_days
    target = p.lox_induction_per_day * (1.0 - inhibition) * hyp * p.lox_lifetime_days
    return relax(lox, target, rate, dt)


def stiffening_drive(lox: np.ndarray, tgfb: np.ndarray, p: StromaParameters) -> np.ndarray:
    """b_L L + b_T T/(T + K_T) in kPa/day."""
    return p.lox_stiffening_kpa_per_day * lox + p.tgfb_stiffening_kpa_per_day * hill(
        tgfb, p.tgfb_stiffening_half_pg_per_ml, 1.0
    )


def update_stiffness(
    stiffness: np.ndarray,
    lox: np.ndarray,
    tgfb: np.ndarray,
    baseline: float,
    p: StromaParameters,
    dt: float,
) -> np.ndarray:
    """dE/dt = drive (E_max - E)/E_max - (E - E_site)/tau_E, exactly; E stays in [E_site, E_max]."""
    drive = stiffening_drive(lox, tgfb, p)
    rate = drive / p.max_stiffness_kpa + 1.0 / p.stiffness_relaxation_days
    target = (drive + baseline / p.stiffness_relaxation_days) / rate
    return relax(stiffness, target, rate, dt)


def niche_stimulus(vegf: np.ndarray, tgfb: np.ndarray, p: StromaParameters) -> np.ndarray:
    """S in [0, 1]: either factor above its half-saturation recruits niche cells."""
    s_v = hill(vegf, p.niche_vegf_half_pg_per_ml, p.niche_hill)
    s_t = hill(tgfb, p.niche_tgfb_half_pg_per_ml, p.niche_hill)
    return 1.0 - (1.0 - s_v) * (1.0 - s_t)


def update_niche(
    niche: np.ndarray, stimulus: np.ndarray, p: StromaParameters, dt: float
) -> np.ndarray:
    """dn/dt = k_n S (1 - n) - n / tau_n, exactly; n stays in [0, 1]."""
    formation = p.niche_formation_per_day * stimulus
    rate = formation + 1.0 / p.niche_lifetime_days
    return relax(niche, formation / rate, rate, dt)
