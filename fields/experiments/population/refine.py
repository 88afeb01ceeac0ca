"""A second pool for a calibration, drawn near the first posterior (adaptive importance sampling).

The first pool draws the calibrated keys from broad proposals, so at a typical estimate only a
fifth of its patients carry weight (Kish's effective size), and a statistic that rests on a few
of them (a relapse median carried by the relapses of high-founding patients) has a Monte Carlo
error near its target's sd. The second pool draws those keys from the cohort's population at the
first estimate, widened by :data:`WIDEN`. Both pools are then one sample of the deterministic
mixture of their proposals ([cornuet2012]): every patient is weighted by p_theta(x) / q_mix(x),
q_mix = sum_j n_j q_j(x) / sum_j n_j, so a theta far from the estimate keeps the first pool's
coverage and one near it gains the second pool's patients.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from fields.experiments.population.calibration_file import Calibration
from fields.experiments.population.cohort_stats import weighted_quantile
from fields.experiments.population.distributions import Distribution

#: the refined proposal's spread over the posterior predictive's, so its tails cover the
#: posterior's (on the lead_time fit of 2026-11-30, 56 % of the refined pool's patients stayed
#: effective at the estimate)
WIDEN = 1.5
#: the location and spread numbers of the distributions a refinement can centre
SHAPES = {"lognormal": ("median", "sigma"), "normal": ("mean", "sd")}

Stages = list[tuple[dict[str, Distribution], int]]


def mixture_log_q(values: dict[str, np.ndarray], stages: Stages) -> np.ndarray:
    """log q_mix of each patient's drawn factors: stages are (proposals, patients) pairs."""
    total = sum(n for _, n in stages)
    parts = [
        math.log(n / total) + sum(props[k].logpdf(x) for k, x in values.items())
        for props, n in stages
    ]
    return np.logaddexp.reduce(np.stack([np.asarray(p, dtype=float) for p in parts]), axis=0)


def _location(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Weighted median and sd of a location's posterior particles."""
    mean = float(np.sum(w * x) / np.sum(w))
    sd = math.sqrt(float(np.sum(w * (x - mean) ** 2) / np.sum(w)))
    return weighted_quantile(x, w, 0.5), sd


def refined_proposals(
    cal: Calibration, particles: np.ndarray, weights: np.ndarray
) -> dict[str, Distribution]:
    """Proposals centred on the posterior: for each calibrated key, its cohort distribution at
    the posterior median of its location, with the spread of the posterior predictive (the
    upper 95 % of the key's spread, and the posterior sd of its location) times :data:`WIDEN`.
    A scaled median stays where the first pool drew it (its candidates scale the pool)."""
    column = {(p.key, p.field): j for j, p in enumerate(cal.priors) if not p.scaled}
    out: dict[str, Distribution] = {}
    for key in cal.proposals:
        base = cal.cohort.samples[key]
        loc, scale = SHAPES[base.kind]
        log = base.kind == "lognormal"
        centre = math.log(base.params[loc]) if log else base.params[loc]
        loc_sd = 0.0
        if (key, loc) in column:
            x = particles[:, column[key, loc]]
            centre, loc_sd = _location(np.log(x) if log else x, weights)
        spread = base.params[scale]
        if (key, scale) in column:
            spread = weighted_quantile(particles[:, column[key, scale]], weights, 0.95)
        params = {
            loc: math.exp(centre) if log else centre,
            scale: WIDEN * math.hypot(spread, loc_sd),
        }
        out[key] = Distribution(
            base.kind,
            params,
            "refined proposal: the population at the first posterior, widened",
            scaled_by=cal.proposals[key].scaled_by,  # drawn as the first pool draws
        )
    return out


def combine(first: xr.Dataset, second: xr.Dataset) -> xr.Dataset:
    """The two pools as one (patients of the first, then of the second)."""
    both = xr.concat([first, second], dim="patient", combine_attrs="override")
    return both.assign_coords(patient=np.arange(both.sizes["patient"]))
