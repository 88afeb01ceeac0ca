"""A calibration's pool seen as the population of a candidate theta (importance reweighting and
scaling).

Each pool patient is weighted by p_theta(x) / q(x), x the patient's drawn factors (a ``times``
key's ratio to its base, a ``scaled_by`` key's draw before its power of the other key) and q the
pools' proposal mixture (:mod:`.refine`). Parameters the expected lesions are proportional to
(the cells shed, the founding rate, the sites' shares of the shed cells:
:data:`~.calibration_file.SCALED_KEYS`) are not reweighted: their candidates multiply each
site's expected lesions and the assays' expected counts (:mod:`.expected`), which is exact and
costs no effective patients. The targets' statistics are then the weighted Rao-Blackwell
statistics of :mod:`.cohort_stats`.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from fields.experiments.population.calibration_file import Calibration, Target, scaled_kind
from fields.experiments.population.cohort_stats import effective_size
from fields.experiments.population.expected import Probabilities, probabilities
from fields.experiments.population.refine import Stages, mixture_log_q
from fields.experiments.population.targets import evaluate
from fields.model.dissemination import arrest_shares


class Reweighted:
    """The pool seen as the population of a given theta (dict prior name -> value)."""

    def __init__(self, cal: Calibration, pool: xr.Dataset, stages: Stages | None = None) -> None:
        """``stages``: (proposals, patients) of each pool the Dataset joins, in order
        (default: one pool drawn from the file's proposals)."""
        self.cal, self.pool = cal, pool
        # the pools draw every key as the first pool's cohort does (a refined proposal keeps
        # the first proposal's scaled_by), so its factors are the drawn numbers of both
        drawn_as = cal.cohort.with_samples(cal.proposals)
        self.drawn_as = drawn_as.samples
        drawn = drawn_as.factors({k: pool[k].values for k in cal.cohort.samples})
        self.values = {k: drawn[k] for k in cal.proposals}  # the drawn factors of `times` keys
        # log (other / reference) of scaled_by keys: an exponent other than the pool's moves
        # their factor
        self.log_scale = {
            k: np.log(pool[s.key].values / s.reference)
            for k in cal.proposals
            if (s := cal.cohort.samples[k].scaled_by) is not None
        }
        stages = stages or [(cal.proposals, pool.sizes["patient"])]
        self.log_q = mixture_log_q(self.values, stages)

        self.sites = [str(x) for x in pool["site"].values] if "site" in pool else []
        self.reference = {  # what the pool ran with, for the scaled priors
            p.name: (
                float(cal.cohort.samples[p.key].params["median"])
                if p.field is not None
                else float(cal.cohort.base.get(p.key))
            )
            for p in cal.priors
            if p.scaled
        }
        self._shares = _shares(cal.cohort.base, self.sites) if self.sites else np.zeros(0)

    def weights(self, theta: dict[str, float]) -> np.ndarray:
        # scaled medians are weighted at the pool's median (their factor is in scales())
        theta = {**theta, **self.reference}
        changes = self.cal.changes(theta)
        log_p = 0.0
        for key, x in self.values.items():
            dist = self.cal.cohort.samples[key].with_params(**changes.get(key, {}))
            pool = self.drawn_as[key].scaled_by
            if dist.scaled_by is not None and dist.scaled_by != pool:
                # the value x * s_pool drawn as x' * s_theta: p(x') / s_theta per unit value,
                # against q(x) / s_pool
                shift = (pool.exponent - dist.scaled_by.exponent) * self.log_scale[key]
                log_p = log_p + dist.logpdf(x * np.exp(shift)) + shift
            else:
                log_p = log_p + dist.logpdf(x)
        log_w = log_p - self.log_q
        log_w = np.where(np.isfinite(log_w), log_w, -np.inf)
        if not np.isfinite(log_w).any():
            return np.zeros_like(log_w)
        return np.exp(log_w - log_w.max())

    def pool_error(
        self, theta: dict[str, float], targets: tuple[Target, ...], resamples: int = 50
    ) -> np.ndarray:
        """Monte Carlo sd of each statistic at ``theta`` from the pool's finite size (bootstrap
        over pool patients, seeded): the part of a prediction the posterior does not show."""
        return bootstrap_sd(
            self.pool,
            targets,
            self.weights(theta),
            self.cal.seed,
            resamples,
            self.probabilities(theta),
        )

    def scales(self, theta: dict[str, float]) -> tuple[np.ndarray, float, float]:
        """(each site's factor on its expected lesions, the CTC factor, the marrow-DTC factor)
        of the scaled priors at ``theta``, against the values the pool ran with."""
        shed = founding = 1.0
        shares = {}
        for prior in self.cal.priors:
            if not prior.scaled:
                continue
            ratio = theta[prior.name] / self.reference[prior.name]
            kind = scaled_kind(prior.key)
            if kind == "shed":
                shed *= ratio
            elif kind == "founding":
                founding *= ratio
            else:
                shares[prior.key] = theta[prior.name]
        site = np.full(len(self.sites), shed * founding)
        dtc = shed
        if shares:
            now = _shares(self.cal.cohort.base.with_updates(shares), self.sites)
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(self._shares > 0.0, now / self._shares, 1.0)
            site = site * ratio
            if "bone_marrow" in self.sites:
                dtc = dtc * float(ratio[self.sites.index("bone_marrow")])
        return site, shed, dtc

    def probabilities(self, theta: dict[str, float]) -> Probabilities:
        """The pool patients' event probabilities at ``theta`` (scaled; weights apart)."""
        site, ctc, dtc = self.scales(theta)
        return probabilities(self.pool, site, ctc, dtc)

    def statistics(self, theta: dict[str, float], targets: tuple[Target, ...]) -> dict[str, float]:
        w = self.weights(theta)
        if effective_size(w) < self.cal.min_effective_size:
            return {t.name: math.nan for t in targets}
        probs = self.probabilities(theta)
        return {t.name: evaluate(self.pool, t, w, probs) for t in targets}


def _shares(p, sites: list[str]) -> np.ndarray:
    """Each site's share of the shed cells (:func:`arrest_shares`), in the pool's site order."""
    shares = arrest_shares(p)
    return np.array([float(np.asarray(shares[s]).reshape(-1)[0]) for s in sites])


def bootstrap_sd(
    ds: xr.Dataset,
    targets: tuple[Target, ...],
    weights: np.ndarray | None,
    seed: int,
    resamples: int = 50,
    probs: Probabilities | None = None,
) -> np.ndarray:
    """Sd of each target's statistic over bootstrap resamples of the patients (seeded)."""
    rng = np.random.default_rng(seed)
    n = ds.sizes["patient"]
    probs = probs if probs is not None else probabilities(ds)
    values = []
    for _ in range(resamples):
        pick = rng.integers(0, n, n)
        part, w = ds.isel(patient=pick), None if weights is None else weights[pick]
        mine = Probabilities(*(getattr(probs, f)[pick] for f in _FIELDS))
        values.append([evaluate(part, t, w, mine) for t in targets])
    return np.nanstd(np.asarray(values, dtype=float), axis=0)


_FIELDS = ("p_m1", "free", "site_dx", "site_relapse", "ctc", "dtc")
