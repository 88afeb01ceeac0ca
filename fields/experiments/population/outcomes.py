"""A patient's clinical events drawn from the model's expected numbers of detectable lesions.

Detectable metastases appear as a Poisson process in time whose mean by day t is the expected
number of detectable lesions E(t) summed over sites (the lesion layer, ``fields.model.lesions``).
The first one appears when E reaches a threshold drawn from Exp(1) (first passage of a Poisson
process); its site is drawn in proportion to each site's share of the increase of E over that
interval; the detectable lesions at the end of follow-up are that one plus Poisson(E(end) -
threshold), spread over sites by their increase since the first. Each patient draws from its own
stream, so a patient's events do not depend on the others or on the worker count.

Rao-Blackwell summaries (used for calibration, where draws would only add noise) are the same
events' probabilities: P(metastatic at diagnosis) = 1 - exp(-E(dx)) and the metastasis-free
probability s days after diagnosis, exp(-(E(dx + s) - E(dx))).
"""

from __future__ import annotations

import math

import numpy as np

MONTH_DAYS = 30.4375
#: months before diagnosis kept of each site's expected lesions (the sites of metastases found
#: at diagnosis); earlier lesions count as found at that month
LEAD_MONTHS = 120


def running_max(e: np.ndarray) -> np.ndarray:
    """E made non-decreasing in time (a detected lesion stays detected); NaN after a run
    ended carries the last value."""
    filled = np.where(np.isfinite(e), e, -np.inf)
    out = np.maximum.accumulate(np.maximum(filled, 0.0), axis=-1)
    return out


def at_time(times: np.ndarray, e: np.ndarray, when: float) -> float:
    """E at ``when`` (linear between outputs; its last value beyond the last output)."""
    return float(np.interp(when, times, e))


def patient_events(
    times: np.ndarray,
    by_site: np.ndarray,
    diagnosis_day: float,
    end_day: float,
    rng: np.random.Generator,
    site_names: list[str],
) -> dict[str, object]:
    """One patient's events from ``by_site`` (site, time) expected detectable lesions; events
    after ``end_day`` (end of follow-up or death) are censored. A patient dead of metastases
    before ``diagnosis_day`` is metastatic at diagnosis, with the site of the first one."""
    e_site = running_max(by_site)
    e = running_max(e_site.sum(axis=0))
    threshold = rng.exponential()
    lesion_u = rng.random()
    site_u = rng.random()
    e_end = at_time(times, e, end_day)
    if end_day < diagnosis_day and e_end > 0.0:  # dead of metastases before the primary
        threshold = min(threshold, e_end)  # reached its size: presents with metastases
    e_dx = at_time(times, e, min(diagnosis_day, end_day))
    out: dict[str, object] = {
        "metastatic_at_diagnosis": e_dx >= threshold,
        "metastasis_observed": False,
        "time_to_metastasis_days": end_day - diagnosis_day,
        "first_site": "",
        "detectable_lesions": np.zeros(len(site_names), dtype=np.int64),
    }
    if e_end < threshold:
        return out
    k = int(np.argmax(e >= threshold))
    if k == 0:
        first_day = float(times[0])
    else:
        frac = (threshold - e[k - 1]) / (e[k] - e[k - 1])
        first_day = float(times[k - 1] + frac * (times[k] - times[k - 1]))
    first_day = min(first_day, end_day)
    gain = np.maximum(e_site[:, k] - (e_site[:, k - 1] if k else 0.0), 0.0)
    share = gain if gain.sum() > 0 else np.maximum(e_site[:, k], 1e-300)
    first = int(np.searchsorted(np.cumsum(share) / share.sum(), site_u, side="right"))
    first = min(first, len(site_names) - 1)
    counts = np.zeros(len(site_names), dtype=np.int64)
    counts[first] = 1
    extra = _poisson(e_end - threshold, lesion_u)
    if extra:
        later = np.array(
            [at_time(times, row, end_day) - at_time(times, row, first_day) for row in e_site]
        )
        later = np.maximum(later, 0.0)
        weights = later / later.sum() if later.sum() > 0 else share / share.sum()
        counts += rng.multinomial(extra, weights)
    out["first_site"] = site_names[first]
    out["detectable_lesions"] = counts
    if out["metastatic_at_diagnosis"]:
        out["time_to_metastasis_days"] = math.nan
        return out
    out["metastasis_observed"] = True
    out["time_to_metastasis_days"] = first_day - diagnosis_day
    return out


def _poisson(mean: float, u: float) -> int:
    """Poisson(mean) by inversion of one uniform (so one draw per patient, whatever the mean)."""
    from scipy.stats import poisson

    return int(poisson.ppf(u, max(mean, 0.0))) if mean > 0 else 0


def metastasis_free(
    times: np.ndarray,
    e_total: np.ndarray,
    diagnosis_day: float,
    grid: np.ndarray,
    death_day: float = math.inf,
) -> tuple[float, np.ndarray]:
    """(P(metastatic at diagnosis), metastasis-free probability on ``grid`` days after diagnosis
    given none at diagnosis). After death E stays at its value then (a run stops at death, and
    death comes only after a detectable metastasis), so the curve is flat, never censored. A
    patient dead of metastases before diagnosis presents with them (P = 1), as drawn."""
    if death_day < diagnosis_day:
        return 1.0, np.ones(np.shape(grid))
    e = running_max(e_total)
    e_dx = at_time(times, e, diagnosis_day)
    return float(-math.expm1(-e_dx)), np.exp(-(np.interp(diagnosis_day + grid, times, e) - e_dx))
