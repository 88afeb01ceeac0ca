"""Each patient's probabilities of the clinical events, from the expected detectable lesions of
each site on the months around diagnosis (``expected_by_site``), optionally scaled.

Detectable metastases form a Poisson process whose mean by month m is E(m) = sum_s E_s(m)
(:mod:`.outcomes`). So a patient is metastatic at diagnosis with probability 1 - exp(-E(0)),
metastasis-free m months after it (given none at diagnosis) with probability
exp(-(E(m) - E(0))), and the first detectable lesion falls in month interval k and in site s
with probability (dE_s,k / dE_k) exp(-E_{k-1}) (1 - exp(-dE_k)) (exact when the sites' shares
are constant within an interval).

Everything the expected lesions of a site are proportional to (the cells shed, the share that
arrests and survives in the site, the founding rate) scales E_s without a new run
(``site_scale``): the DTC and lesion equations are linear in the cells that arrive. A
calibration evaluates such parameters on one simulated pool this way
(:mod:`.reweighting`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr


@dataclass
class Probabilities:
    """Per patient: P(metastatic at diagnosis) ``p_m1``; the metastasis-free probability on the
    cohort's month grid after diagnosis ``free`` (given none at diagnosis); the probability
    that the first detectable lesion is in site s and found by diagnosis ``site_dx`` (sums to
    ``p_m1``) or after it within follow-up ``site_relapse``; the expected CTCs and marrow DTCs
    of the patient's samples at diagnosis."""

    p_m1: np.ndarray
    free: np.ndarray
    site_dx: np.ndarray
    site_relapse: np.ndarray
    ctc: np.ndarray
    dtc: np.ndarray


def probabilities(
    ds: xr.Dataset,
    site_scale: np.ndarray | None = None,
    ctc_scale: np.ndarray | float = 1.0,
    dtc_scale: np.ndarray | float = 1.0,
) -> Probabilities:
    """The patients' probabilities, with each site's expected lesions multiplied by
    ``site_scale`` ((patients, sites) or (sites,)) and the assays' expected counts by theirs.
    A Dataset without ``expected_by_site`` (written before it was kept) gives its stored
    probabilities, unscaled, and no site shares."""
    if "expected_by_site" not in ds:
        return _stored(ds)
    e = np.nan_to_num(ds["expected_by_site"].values, nan=0.0)
    if site_scale is not None:
        scale = np.asarray(site_scale, dtype=float)
        e = e * (scale[None, :, None] if scale.ndim == 1 else scale[:, :, None])
    lead = ds["lead_month"].values
    i0 = int(np.searchsorted(lead, 0.0))
    total = e.sum(axis=1)
    p_m1 = -np.expm1(-total[:, i0])
    free = np.exp(-(total[:, i0:] - total[:, i0 : i0 + 1]))
    before = np.concatenate((np.zeros((total.shape[0], 1)), total[:, :-1]), axis=1)
    step = total - before  # dE_k, the first interval holding everything before the grid
    site_step = e - np.concatenate((np.zeros((*e.shape[:2], 1)), e[:, :, :-1]), axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        first = np.exp(-before) * -np.expm1(-step)  # P(the first lesion comes in interval k)
        share = np.where(step[:, None, :] > 0.0, site_step / step[:, None, :], 0.0)
    joint = share * first[:, None, :]
    site_dx = joint[:, :, : i0 + 1].sum(axis=2)
    site_relapse = joint[:, :, i0 + 1 :].sum(axis=2)
    dead = ds["death_day"].values < ds["diagnosis_day"].values  # dead of metastases first
    if dead.any():  # they present with metastases (as drawn; outcomes.metastasis_free)
        at_death = e[dead, :, -1]
        weights = at_death / np.maximum(at_death.sum(axis=1, keepdims=True), 1e-300)
        p_m1[dead], free[dead] = 1.0, 1.0
        site_dx[dead], site_relapse[dead] = weights, 0.0
    ctc = np.nan_to_num(ds["ctc_expected"].values, nan=0.0) * ctc_scale
    dtc = ds["marrow_dtc_expected"].values * dtc_scale
    return Probabilities(p_m1, free, site_dx, site_relapse, ctc, dtc)


def _stored(ds: xr.Dataset) -> Probabilities:
    n = ds.sizes["patient"]
    sites = ds.sizes.get("site", 0)
    nan = np.full((n, sites), np.nan)

    def get(name: str) -> np.ndarray:
        return ds[name].values if name in ds else np.full(n, np.nan)

    return Probabilities(
        ds["p_metastatic_at_diagnosis"].values,
        ds["metastasis_free_probability"].values,
        nan,
        nan.copy(),
        get("ctc_expected"),
        get("marrow_dtc_expected"),
    )
