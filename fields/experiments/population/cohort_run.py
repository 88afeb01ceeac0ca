"""One chunk of a cohort on a worker: sample its patients, run them as one batch, draw events.

A chunk is a fixed range of patient indices (the zarr chunk of the cohort store), so which
worker runs it, and with how many others, changes nothing: a patient's parameters and events come
from the patient's own streams, and a run gives the same numbers in any batch.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from fields.core.errors import FieldsInputError
from fields.engine.loop import run
from fields.experiments.population import outcomes
from fields.experiments.population.cohort_file import Cohort
from fields.model import dissemination, primary
from fields.parameters.batch import ParameterBatch

ERROR_WIDTH = 300
#: outputs per patient (and per patient and site / month) of a cohort, with units and long names
OUTPUTS: dict[str, tuple[str, str]] = {
    "t_stage": ("1", "T stage from the diameter at diagnosis"),
    "diagnosis_day": ("day", "day of diagnosis and resection, from the first cancer cell"),
    "metastatic_at_diagnosis": ("1", "a detectable metastasis at diagnosis (M1)"),
    "time_to_metastasis_days": (
        "day",
        "from resection to the first detectable metastasis, or to censoring at the end of "
        "follow-up or death (NaN: metastatic at diagnosis)",
    ),
    "metastasis_observed": ("1", "a first detectable metastasis after resection was observed"),
    "first_site": ("1", "site of the first detectable metastasis ('' : none)"),
    "detectable_lesions": ("1", "detectable lesions at the end of follow-up or at death"),
    "sites_involved": ("1", "sites with a detectable lesion at the end of follow-up or death"),
    "death_day": ("day", "day the tumour burden reaches the lethal burden (NaN: alive)"),
    "p_metastatic_at_diagnosis": ("1", "P(a detectable metastasis at diagnosis)"),
    "metastasis_free_probability": (
        "1",
        "P(no detectable metastasis m months after resection | none at resection)",
    ),
    "marrow_dtc_expected": (
        "1",
        "expected DTCs found in a bone-marrow aspirate at diagnosis (assays.marrow_cells_assayed "
        "mononuclear cells)",
    ),
    "marrow_dtc_count": ("1", "DTCs found in the patient's aspirate at diagnosis (a Poisson draw)"),
    "ctc_expected": (
        "1",
        "expected circulating tumour cells counted in one CellSearch sample at diagnosis",
    ),
    "ctc_count": ("1", "CTCs counted in the patient's sample at diagnosis (a Poisson draw)"),
    "expected_by_site": (
        "1",
        "expected detectable lesions in each site, lead_month months from diagnosis (never "
        "decreasing; flat after death)",
    ),
    "steps": ("1", "time steps taken by the patient's run"),
}


def months(cohort: Cohort) -> np.ndarray:
    """The follow-up grid of the Rao-Blackwell metastasis-free probability (months)."""
    return np.arange(0.0, cohort.follow_up_days / outcomes.MONTH_DAYS + 1e-9, 1.0)


def lead_months(cohort: Cohort) -> np.ndarray:
    """The grid of ``expected_by_site``: months from diagnosis, from LEAD_MONTHS before it to
    the end of follow-up."""
    return np.concatenate((np.arange(-outcomes.LEAD_MONTHS, 0.0, 1.0), months(cohort)))


def diagnosis_days(cohort: Cohort, batch: ParameterBatch) -> np.ndarray:
    day = primary.resection_time(batch.stacked().primary)
    if day is None:
        return np.full(batch.size, np.inf)
    return np.broadcast_to(np.asarray(day, dtype=float).reshape(-1, 1), (batch.size, 1))[:, 0]


def run_chunk(cohort: Cohort, start: int, stop: int) -> dict[str, Any]:
    """Patients ``start`` to ``stop - 1``: their sampled values and outputs. Never raises: a
    failed batch or patient comes back with its message."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    idx = np.arange(start, stop)
    n = idx.size
    values = cohort.sample(idx)
    result: dict[str, Any] = {"start": start, "stop": stop, "samples": values}
    out = empty_outputs(cohort, n)
    status = np.zeros(n, dtype=np.int8)
    errors = np.full(n, "", dtype=f"<U{ERROR_WIDTH}")
    try:
        batch = ParameterBatch(cohort.base, values)
        dx = diagnosis_days(cohort, batch)
        if not np.isfinite(dx).all():
            bad = int(idx[np.nonzero(~np.isfinite(dx))[0][0]])
            raise FieldsInputError(f"patient {bad} is never diagnosed: its primary never resects")
        every = cohort.output_every_days
        horizon = np.ceil((dx + cohort.follow_up_days) / every - 1e-9) * every
        rec = run(
            batch,
            list(cohort.sites),
            days=horizon,
            geometry="krogh",
            seed=cohort.seed,
            output_every_days=every,
            keep="events",
            progress=False,
            stop_at_death=True,
        )
    except Exception as exc:  # the whole chunk failed: every patient says why
        errors[:] = f"{type(exc).__name__}: {exc}"[:ERROR_WIDTH]
        status[:] = 2
        result.update(outputs=out, status=status, error=errors)
        return result
    stage = cohort.t_stage(values)
    if stage is not None:
        out["t_stage"][:] = stage
    grid = months(cohort) * outcomes.MONTH_DAYS
    lead = lead_months(cohort)
    ctc_and_dtc = _assays(cohort, batch, rec, dx)
    names = list(cohort.sites)
    times = rec.times
    for row in range(n):
        if row in rec.errors:
            errors[row] = f"NumericalError: {rec.errors[row]}"[:ERROR_WIDTH]
            status[row] = 2
            continue
        by_site = np.stack([rec.site_series[s]["expected_detectable_lesions"][row] for s in names])
        death = float(rec.death_day[row])
        end = dx[row] + cohort.follow_up_days
        if math.isfinite(death):
            end = min(end, death)
        rng = np.random.default_rng([cohort.seed, int(idx[row]), 1])
        events = outcomes.patient_events(times, by_site, float(dx[row]), end, rng, names)
        for key in ("metastatic_at_diagnosis", "metastasis_observed", "time_to_metastasis_days"):
            out[key][row] = events[key]
        out["first_site"][row] = events["first_site"]
        out["detectable_lesions"][row] = events["detectable_lesions"]
        out["sites_involved"][row] = int(np.count_nonzero(events["detectable_lesions"]))
        out["death_day"][row] = death
        out["diagnosis_day"][row] = dx[row]
        p_m1, free = outcomes.metastasis_free(
            times, by_site.sum(axis=0), float(dx[row]), grid, death
        )
        out["p_metastatic_at_diagnosis"][row] = p_m1
        out["metastasis_free_probability"][row] = free
        out["marrow_dtc_expected"][row] = ctc_and_dtc[1][row]
        out["ctc_expected"][row] = ctc_and_dtc[0][row]
        counts = np.random.default_rng([cohort.seed, int(idx[row]), 2])  # the assays' stream
        ctc, marrow = ctc_and_dtc[0][row], ctc_and_dtc[1][row]
        out["ctc_count"][row] = counts.poisson(ctc) if np.isfinite(ctc) else -1
        out["marrow_dtc_count"][row] = counts.poisson(marrow) if np.isfinite(marrow) else -1
        at = dx[row] + lead * outcomes.MONTH_DAYS
        out["expected_by_site"][row] = np.stack(
            [np.interp(at, times, e, left=0.0) for e in outcomes.running_max(by_site)]
        )
        out["steps"][row] = rec.steps[row]
        status[row] = 1
    result.update(outputs=out, status=status, error=errors)
    return result


def _assays(cohort: Cohort, batch: ParameterBatch, rec, dx: np.ndarray):
    """Every patient's expected CellSearch count and marrow-aspirate count at diagnosis (NaN
    without a bone-marrow site)."""
    n = dx.size
    p = batch.stacked()
    shed = np.array(
        [
            np.interp(dx[r] - 1e-6, rec.times, rec.systemic["dissemination_rate"][r])
            for r in range(n)
        ]
    )
    ctc = np.broadcast_to(dissemination.ctc_expected(shed[:, None], p), (n, 1))[:, 0]
    if "bone_marrow" not in cohort.sites:
        return ctc, np.full(n, math.nan)
    series = rec.site_series["bone_marrow"]
    total = series["dtc_dormant_total"] + series["dtc_proliferating_total"]
    cells = np.array([np.interp(dx[r], rec.times, total[r]) for r in range(n)])
    dtc = np.broadcast_to(dissemination.marrow_dtc_expected(cells[:, None], p), (n, 1))[:, 0]
    return ctc, dtc


def empty_outputs(cohort: Cohort, n: int) -> dict[str, np.ndarray]:
    sites = len(cohort.sites)
    return {
        "t_stage": np.full(n, "", dtype="<U8"),
        "diagnosis_day": np.full(n, np.nan),
        "metastatic_at_diagnosis": np.zeros(n, dtype=bool),
        "time_to_metastasis_days": np.full(n, np.nan),
        "metastasis_observed": np.zeros(n, dtype=bool),
        "first_site": np.full(n, "", dtype="<U16"),
        "detectable_lesions": np.zeros((n, sites), dtype=np.int64),
        "sites_involved": np.zeros(n, dtype=np.int64),
        "death_day": np.full(n, np.nan),
        "p_metastatic_at_diagnosis": np.full(n, np.nan),
        "metastasis_free_probability": np.full((n, months(cohort).size), np.nan),
        "marrow_dtc_expected": np.full(n, np.nan),
        "marrow_dtc_count": np.full(n, -1, dtype=np.int64),
        "ctc_expected": np.full(n, np.nan),
        "ctc_count": np.full(n, -1, dtype=np.int64),
        "expected_by_site": np.full((n, sites, lead_months(cohort).size), np.nan),
        "steps": np.zeros(n, dtype=np.int64),
    }
