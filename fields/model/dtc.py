"""Solitary disseminated tumour cells: dormant Q and activated P per voxel (cells/mm^3, days).

    dQ/dt = f_Q A + q P - r Q - d_Q Q
    dP/dt = (1 - f_Q) A - q P + r Q - d_P P - k_f P        (+ slow motility, in the engine)

Reactivation r rises with stiffness (FAK/TAZ), niche and the factors that declare a
``reactivation`` response (perivascular VEGF-A); dormancy induction q rises with hypoxia, soft
matrix and the factors with a ``dormancy`` response (TGF-beta: its dormancy-inducing role, beside
its pro-niche one); niches protect activated cells; dormant cells are lost slowly (Sleeman et al.
2012; Karrison et al. 1999). An activated cell founds a growing lesion at rate k_f, which needs
the niche (Kaplan et al. 2005), stiff matrix and oxygen, and which the soil's growth signals
speed (factors with a ``colonisation`` response: the bone matrix's TGF-beta, Yin et al. 1999);
the founded lesions grow in :mod:`fields.model.lesions`.

With the signals frozen over a step the system is linear with a Metzler matrix, so the exact
update (closed-form 2x2 matrix exponential, vectorised) keeps Q, P >= 0 for any step size.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from fields.model.factors import signals, union
from fields.model.kinetics import hill
from fields.parameters import DTCParameters, SpeciesParameters


@dataclass
class DTCRates:
    """Per-voxel rates (1/day)."""

    reactivation: np.ndarray
    dormancy: np.ndarray
    death_dormant: np.ndarray
    death_proliferating: np.ndarray
    founding: np.ndarray


def rates(
    stiffness: np.ndarray,
    niche: np.ndarray,
    hyp: np.ndarray,
    factors: Mapping[str, np.ndarray],
    species: Mapping[str, SpeciesParameters],
    p: DTCParameters,
    hostility: float,
) -> DTCRates:
    """Fate rates (1/day) from the local microenvironment; reactivation and dormancy are the mean
    of their signals."""
    stiff = hill(stiffness, p.reactivation_stiffness_half_kpa, 2.0)
    wake = signals(factors, species, "reactivation")
    total = stiff + niche
    for part in wake:
        total = total + part
    reactivation = p.reactivation_max_per_day * total / (2.0 + len(wake))
    sleep = signals(factors, species, "dormancy")
    total = hyp
    for part in sleep:
        total = total + part
    total = total + (1.0 - stiff)
    dormancy = p.dormancy_induction_max_per_day * total / (2.0 + len(sleep))
    soil = p.founding_without_niche + (1.0 - p.founding_without_niche) * niche
    founding = p.founding_per_day * soil * 0.5 * (stiff + (1.0 - hyp))
    grow = signals(factors, species, "colonisation")
    if grow:  # growth signals of the soil (the bone matrix's TGF-beta)
        founding = founding * (1.0 + p.colonisation_gain * union(grow, stiffness))
    death_p = p.proliferating_death_per_day * hostility * (1.0 - p.niche_protection * niche)
    death_q = np.zeros_like(stiffness) + p.dormant_death_per_day * hostility
    return DTCRates(reactivation, dormancy, death_q, death_p, founding)


def angiogenic_support(
    factors: Mapping[str, np.ndarray],
    species: Mapping[str, SpeciesParameters],
    cooption: float,
    like: np.ndarray,
) -> np.ndarray:
    """Support of lesion growth beyond the avascular limit, c + (1 - c) A, in [0, 1]."""
    return cooption + (1.0 - cooption) * union(signals(factors, species, "angiogenesis"), like)


#: below this |x| the series of (e^x - 1)/x is used; beyond it the quotient, whose relative error
#: is at most ~1e-16 / |x| < 2e-13 (no expm1: half the time of the closed forms)
SERIES_X = 1e-3


def _phi1_from(e: np.ndarray, x: np.ndarray) -> np.ndarray:
    """(e^x - 1)/x given e = e^x: the quotient, or its series (error < 1e-14) near 0."""
    near = np.abs(x) < SERIES_X
    if not near.any():
        return (e - 1.0) / x
    series = 1.0 + x * (0.5 + x * (1.0 / 6.0 + x / 24.0))
    return np.where(near, series, (e - 1.0) / np.where(near, 1.0, x))


#: below this delta t the near-equal-eigenvalue series are used (error ~ (delta t)^2 / 12 there;
#: the closed forms above lose ~1e-16 / (delta t) to cancellation)
SMALL_DELTA_T = 1e-5


def _dphi1(x: np.ndarray) -> np.ndarray:
    """d/dx (e^x - 1)/x = (e^x (x - 1) + 1)/x^2 = int_0^1 u e^{xu} du, accurate near 0."""
    small = np.abs(x) < 1e-2
    safe = np.where(small, 1.0, x)
    series = 0.5 + x * (1.0 / 3.0 + x * (1.0 / 8.0 + x * (1.0 / 30.0 + x / 144.0)))
    exact = (safe * np.exp(safe) - np.expm1(safe)) / (safe * safe)
    return np.where(small, series, exact)


def linear2_exact(
    a11: np.ndarray,
    a12: np.ndarray,
    a21: np.ndarray,
    a22: np.ndarray,
    b1: np.ndarray,
    b2: np.ndarray,
    x1: np.ndarray,
    x2: np.ndarray,
    t: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact x(t) of x' = M x + b for 2x2 M with real eigenvalues (e.g. Metzler), vectorised.

    With mu = tr/2 and delta = sqrt(((a11 - a22)/2)^2 + a12 a21):
    e^{Mt} = e^{mu t} [cosh(delta t) I + sinh(delta t)/delta (M - mu I)] and the source integral
    uses I1 = int_0^t e^{mu s} cosh(delta s) ds, I2 = int_0^t e^{mu s} sinh(delta s)/delta ds.
    """
    mu = 0.5 * (a11 + a22)
    delta = np.sqrt(np.maximum(0.25 * (a11 - a22) ** 2 + a12 * a21, 0.0))
    z = delta * t
    # e^{Mt} and the source integrals from the eigenvalues' two exponentials
    lp, lm = (mu + delta) * t, (mu - delta) * t
    ep, en = np.exp(lp), np.exp(lm)
    plus, minus = _phi1_from(ep, lp), _phi1_from(en, lm)
    em_cosh = 0.5 * (ep + en)  # e^{mu t} cosh(delta t)
    i1 = 0.5 * t * (plus + minus)
    small = z < SMALL_DELTA_T
    if small.any():
        # near equal eigenvalues: sinh(delta t)/delta -> t (1 + (delta t)^2 / 6) and
        # I2 -> t^2 int_0^1 u e^{mu t u} du, wrong by ~(delta t)^2 / 12
        safe = np.where(small, 1.0, delta)
        em_sinhc = np.where(small, np.exp(mu * t) * t * (1.0 + z * z / 6.0), 0.5 * (ep - en) / safe)
        i2 = np.where(
            small, t * t * _dphi1(np.where(small, mu * t, 0.0)), 0.5 * t * (plus - minus) / safe
        )
    else:
        em_sinhc = 0.5 * (ep - en) / delta  # e^{mu t} sinh(delta t) / delta
        i2 = 0.5 * t * (plus - minus) / delta
    # N = M - mu I
    n11, n22 = a11 - mu, a22 - mu
    nx1 = n11 * x1 + a12 * x2
    nx2 = a21 * x1 + n22 * x2
    nb1 = n11 * b1 + a12 * b2
    nb2 = a21 * b1 + n22 * b2
    y1 = em_cosh * x1 + em_sinhc * nx1 + i1 * b1 + i2 * nb1
    y2 = em_cosh * x2 + em_sinhc * nx2 + i1 * b2 + i2 * nb2
    return y1, y2


def system(arrivals: np.ndarray, r: DTCRates, dormant_fraction: float) -> tuple[np.ndarray, ...]:
    """(a11, a12, a21, a22, b1, b2) of the linear (Q, P) system x' = M x + b (1/day, cells/mm^3/day)."""
    a11 = -(r.reactivation + r.death_dormant)
    a12 = r.dormancy
    a21 = r.reactivation
    a22 = -(r.dormancy + r.death_proliferating + r.founding)
    return a11, a12, a21, a22, dormant_fraction * arrivals, (1.0 - dormant_fraction) * arrivals


def update(
    dormant: np.ndarray,
    proliferating: np.ndarray,
    arrivals: np.ndarray,
    r: DTCRates,
    dormant_fraction: float,
    dt: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact step of the (Q, P) system over dt days with rates frozen; both stay >= 0."""
    q, p = linear2_exact(*system(arrivals, r, dormant_fraction), dormant, proliferating, dt)
    return np.maximum(q, 0.0), np.maximum(p, 0.0)


def step_mean(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Mean of a density over a step from its two ends, exact for an exponential course (the
    logarithmic mean); the arithmetic mean where an end is zero (cells/mm^3)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        u = np.log(after / before)
        relative = np.where(u == 0.0, 1.0, np.expm1(u) / u)
        mean = before * relative
    positive = (before > 0.0) & (after > 0.0) & np.isfinite(mean)
    return np.where(positive, mean, 0.5 * (before + after))
