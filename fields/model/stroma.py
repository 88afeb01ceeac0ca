"""Stromal response per voxel: LOX, ECM stiffness and niche formation.

Each ODE is linear in its own state once the other fields are frozen over a step, so every update
is the exact solution of dy/dt = rate (target - y): unconditionally stable, bounded by
construction, vectorised over voxels. Causal chain of Sleeman et al. 2012 (sections 3.2-3.3):
hypoxia induces LOX, LOX crosslinking and factors (TGF-beta) stiffen the matrix, factors above a
threshold (VEGF-A: VEGFR1+ BMDC recruitment; TGF-beta: S100A8/9 induction) form the niche, and
removing the primary lets the niche decay. Times in days, stiffness in kPa.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from fields.model.factors import union
from fields.model.kinetics import hill, relax
from fields.parameters import SpeciesParameters, StromaParameters

__all__ = [
    "hill",
    "niche_stimulus",
    "relax",
    "stiffening_drive",
    "update_lox",
    "update_niche",
    "update_stiffness",
]


def update_lox(
    lox: np.ndarray, hyp: np.ndarray, p: StromaParameters, inhibition: float, dt: float
) -> np.ndarray:
    """dL/dt = a_L (1 - inhibition) H - L / tau_L (LOX in a.u.; 1 at full hypoxia)."""
    rate = 1.0 / p.lox_lifetime_days
    target = p.lox_induction_per_day * (1.0 - inhibition) * hyp * p.lox_lifetime_days
    return relax(lox, target, rate, dt)


def stiffening_drive(
    lox: np.ndarray,
    factors: Mapping[str, np.ndarray],
    species: Mapping[str, SpeciesParameters],
    p: StromaParameters,
) -> np.ndarray:
    """b_L L + sum_X b_X hill(C_X) in kPa/day."""
    drive = p.lox_stiffening_kpa_per_day * lox
    for name, s in species.items():
        declared = s.response("stiffening")
        if declared is not None:
            drive = drive + s.stiffening_kpa_per_day * hill(factors[name], *declared)
    return drive


def update_stiffness(
    stiffness: np.ndarray,
    lox: np.ndarray,
    factors: Mapping[str, np.ndarray],
    species: Mapping[str, SpeciesParameters],
    baseline: float,
    p: StromaParameters,
    dt: float,
) -> np.ndarray:
    """dE/dt = drive (E_max - E)/E_max - (E - E_site)/tau_E, exactly; E stays in [E_site, E_max]."""
    drive = stiffening_drive(lox, factors, species, p)
    rate = drive / p.max_stiffness_kpa + 1.0 / p.stiffness_relaxation_days
    target = (drive + baseline / p.stiffness_relaxation_days) / rate
    return relax(stiffness, target, rate, dt)


def niche_stimulus(
    factors: Mapping[str, np.ndarray],
    plasma: Mapping[str, float],
    species: Mapping[str, SpeciesParameters],
    like: np.ndarray,
) -> np.ndarray:
    """S in [0, 1]: bone-marrow cells mobilised by plasma factors (Kaplan et al. 2005) and
    retained by tissue factors (LOX-crosslinked matrix, Erler et al. 2009; S100A8/A9). Within
    each role any factor suffices; both roles are needed when both are declared."""
    roles: dict[str, list[np.ndarray]] = {"mobilisation": [], "retention": []}
    for name, s in species.items():
        declared = s.response("niche")
        if declared is not None:
            level = plasma[name] if s.niche_role == "mobilisation" else factors[name]
            roles[s.niche_role].append(hill(np.asarray(level, dtype=float), *declared))
    present = [union(parts, like) for parts in roles.values() if parts]
    if not present:
        return np.zeros_like(like)
    stimulus = present[0]
    for part in present[1:]:
        stimulus = stimulus * part
    return np.broadcast_to(stimulus, like.shape).copy() if np.ndim(stimulus) == 0 else stimulus


def update_niche(
    niche: np.ndarray, stimulus: np.ndarray, p: StromaParameters, dt: float
) -> np.ndarray:
    """dn/dt = k_n S (1 - n) - n / tau_n, exactly; n stays in [0, 1]."""
    formation = p.niche_formation_per_day * stimulus
    rate = formation + 1.0 / p.niche_lifetime_days
    return relax(niche, formation / rate, rate, dt)
