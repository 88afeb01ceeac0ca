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

STATISTICS = {
    "median_months_to_metastasis": "median months from resection to the first detectable "
    "metastasis among patients without one at resection who have one within follow-up",
    "percent_metastatic_at_diagnosis": "percent of patients with a detectable metastasis at "
    "diagnosis",
    "percent_metastasis_within_years": "percent of patients without a metastasis at resection "
    "who have one within `years` years",
    "percent_marrow_dtc_positive": "percent of patients with >= 1 DTC in a bone-marrow aspirate "
    "of 2e6 mononuclear cells at diagnosis (without a metastasis at diagnosis)",
    "percent_ctc_positive": "percent of patients with >= 1 circulating tumour cell in 7.5 mL "
    "of blood at diagnosis (without a metastasis at diagnosis)",
}


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
) -> float:
    """One population statistic of a cohort Dataset (see :data:`STATISTICS`). ``stage_mix``:
    the share of each T stage in the published population; the cohort's patients are weighted
    so their stages have that mix (a stratified cohort standing for a registry)."""
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
    p_m1 = ds["p_metastatic_at_diagnosis"].values
    if name == "percent_metastatic_at_diagnosis":
        return 100.0 * float(np.sum(w * p_m1) / np.sum(w))
    m0 = w * (1.0 - p_m1)
    if name in ("percent_marrow_dtc_positive", "percent_ctc_positive"):
        key = "marrow_dtc_expected" if name == "percent_marrow_dtc_positive" else "ctc_expected"
        positive = -np.expm1(-np.nan_to_num(ds[key].values, nan=0.0))
        return 100.0 * float(np.sum(m0 * positive) / np.sum(m0))
    months = ds["month"].values
    # nansum: unfinished patients (weight 0) hold NaN curves
    incidence = np.nansum(m0[:, None] * (1.0 - ds["metastasis_free_probability"].values), axis=0)
    if name == "percent_metastasis_within_years":
        if years is None or not years > 0.0:
            raise FieldsInputError(f"years = {years!r} is not allowed: a number > 0")
        at = float(np.interp(12.0 * years, months, incidence))
        return 100.0 * at / float(np.sum(m0))
    total = incidence[-1]
    if total <= 0.0:
        return math.nan
    return float(np.interp(0.5, incidence / total, months))


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
