"""Population statistics of a cohort, from each patient's probabilities (optionally weighted).

These are the Rao-Blackwell forms of the statistics of the drawn events: a patient contributes
its probability of being metastatic at diagnosis and its metastasis-free curve rather than one
draw, so a statistic of N patients has the noise of N patients' parameters only. Weights let a
simulated pool stand for another population (importance sampling, :mod:`.calibration`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import numpy as np
import xarray as xr

from fields.core.errors import FieldsInputError
from fields.experiments.population.expected import Probabilities, probabilities

STATISTICS = {
    "median_months_to_metastasis": "median months from resection to the first detectable "
    "metastasis among patients without one at resection who have one within follow-up",
    "percent_metastatic_at_diagnosis": "percent of patients with a detectable metastasis at "
    "diagnosis",
    "percent_metastasis_within_years": "percent of patients without a metastasis at resection "
    "who have one within `years` years",
    "percent_marrow_dtc_positive": "percent of patients with >= 1 DTC in a bone-marrow aspirate "
    "at diagnosis (without a metastasis at diagnosis)",
    "percent_ctc_positive": "percent of patients with >= 1 circulating tumour cell in one "
    "CellSearch sample at diagnosis (without a metastasis at diagnosis)",
    "percent_site_at_diagnosis": "percent of patients metastatic at diagnosis whose first "
    "detectable metastasis is in `site`",
    "percent_site_of_first_relapse": "percent of patients relapsing after resection within "
    "follow-up whose first detectable metastasis is in `site`",
    "marrow_dtc_relapse_rate_ratio": "distant-metastasis incidence-rate ratio, marrow DTC "
    "positive against negative patients (M0 at diagnosis; within `years` years, default all "
    "follow-up)",
    "ctc_relapse_rate_ratio": "distant-metastasis incidence-rate ratio, CTC positive against "
    "negative patients (M0 at diagnosis; within `years` years, default all follow-up)",
}
#: statistics that need a site, and those that may take `years`
SITE_STATISTICS = ("percent_site_at_diagnosis", "percent_site_of_first_relapse")
YEARS_STATISTICS = (
    "percent_metastasis_within_years",
    "marrow_dtc_relapse_rate_ratio",
    "ctc_relapse_rate_ratio",
)


def select(ds: xr.Dataset, stages: Sequence[str] | None) -> np.ndarray:
    """Finished patients of the given T stages (all stages when None)."""
    ok = ds["status"].values == 1
    if stages:
        declared = json.loads(ds.attrs.get("stage_names", "[]"))
        known = declared or sorted(set(ds["t_stage"].values.astype(str)) - {""})
        for s in stages:
            if s not in known:
                raise FieldsInputError(f"stage = {s!r} is not allowed: one of {', '.join(known)}")
        ok &= np.isin(ds["t_stage"].values.astype(str), list(stages))
    return ok


def statistic(
    ds: xr.Dataset,
    name: str,
    stages: Sequence[str] | None = None,
    weights: np.ndarray | None = None,
    years: float | None = None,
    stage_mix: dict[str, float] | None = None,
    site: str | None = None,
    probs: Probabilities | None = None,
) -> float:
    """One population statistic of a cohort Dataset (see :data:`STATISTICS`). ``stage_mix``:
    the share of each T stage in the published population; the cohort's patients are weighted
    so their stages have that mix (a stratified cohort standing for a registry). ``probs``: the
    patients' probabilities (default: from the Dataset as it is; a calibration passes scaled
    ones)."""
    if name not in STATISTICS:
        raise FieldsInputError(
            f"statistic = {name!r} is not allowed: one of {', '.join(STATISTICS)}"
        )
    rows = select(ds, list(stage_mix) if stage_mix else stages)
    w = np.ones(rows.size) if weights is None else np.asarray(weights, dtype=float)
    w = np.where(rows, w, 0.0)
    if stage_mix:
        stage = ds["t_stage"].values.astype(str)
        for s, share in stage_mix.items():
            here = stage == s
            total = w[here].sum()
            w = np.where(here, w * (share / total if total > 0 else 0.0), w)
    if w.sum() <= 0.0:
        return math.nan
    pr = probs if probs is not None else probabilities(ds)
    if name == "percent_metastatic_at_diagnosis":
        return 100.0 * float(np.sum(w * pr.p_m1) / np.sum(w))
    m0 = w * (1.0 - pr.p_m1)
    if name in SITE_STATISTICS:
        sites = [str(s) for s in ds["site"].values]
        if site not in sites:
            raise FieldsInputError(f"site = {site!r} is not allowed: one of {', '.join(sites)}")
        part = pr.site_dx if name == "percent_site_at_diagnosis" else pr.site_relapse
        total = float(np.sum(w[:, None] * part))
        return 100.0 * float(np.sum(w * part[:, sites.index(site)])) / total if total else math.nan
    if name in ("percent_marrow_dtc_positive", "percent_ctc_positive"):
        expected = pr.dtc if name == "percent_marrow_dtc_positive" else pr.ctc
        positive = -np.expm1(-np.nan_to_num(expected, nan=0.0))
        return 100.0 * float(np.sum(m0 * positive) / np.sum(m0))
    months = ds["month"].values
    if name in ("marrow_dtc_relapse_rate_ratio", "ctc_relapse_rate_ratio"):
        expected = pr.dtc if name.startswith("marrow") else pr.ctc
        if not np.isfinite(expected[rows]).any():
            return math.nan
        return rate_ratio(months, pr.free, m0, -np.expm1(-np.nan_to_num(expected)), years)
    incidence = np.nansum(m0[:, None] * (1.0 - pr.free), axis=0)
    if name == "percent_metastasis_within_years":
        if years is None or not years > 0.0:
            raise FieldsInputError(f"years = {years!r} is not allowed: a number > 0")
        at = float(np.interp(12.0 * years, months, incidence))
        return 100.0 * at / float(np.sum(m0))
    total = incidence[-1]
    if total <= 0.0:
        return math.nan
    return float(np.interp(0.5, incidence / total, months))


def rate_ratio(
    months: np.ndarray,
    free: np.ndarray,
    m0: np.ndarray,
    positive: np.ndarray,
    years: float | None,
) -> float:
    """Incidence-rate ratio of the first metastasis (events per person-month) between the
    marker-positive and marker-negative patients, each patient counted with its probability of
    each, over ``years`` (all follow-up when None)."""
    end = months[-1] if years is None else min(12.0 * years, months[-1])
    keep = months <= end + 1e-9
    t, s = months[keep], np.nan_to_num(free[:, keep], nan=1.0)
    events = 1.0 - s[:, -1]
    time = np.sum(0.5 * (s[:, 1:] + s[:, :-1]) * np.diff(t), axis=1)
    rates = []
    for share in (positive, 1.0 - positive):
        weight = m0 * share
        person_time = float(np.sum(weight * time))
        rates.append(float(np.sum(weight * events)) / person_time if person_time > 0 else 0.0)
    return rates[0] / rates[1] if rates[1] > 0 else math.nan


def weighted_quantile(x: np.ndarray, w: np.ndarray, q: float) -> float:
    """The q-quantile of values ``x`` with weights ``w`` (linear in the weighted CDF)."""
    order = np.argsort(x)
    cdf = np.cumsum(w[order])
    return float(np.interp(q, cdf / cdf[-1], x[order]))


def effective_size(weights: np.ndarray) -> float:
    """Kish's effective sample size of importance weights."""
    w = np.asarray(weights, dtype=float)
    total = w.sum()
    return float(total**2 / np.sum(w**2)) if total > 0 else 0.0
