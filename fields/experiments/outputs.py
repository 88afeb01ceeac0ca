"""The outputs of one run of a study, and the run itself as a worker executes it."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from fields.core.errors import FieldsInputError
from fields.engine.inputs import site_patches
from fields.engine.loop import run
from fields.engine.stepping import crossing_time
from fields.experiments.run import simulate
from fields.experiments.run_values import RunValues
from fields.experiments.study import RUN_SCALARS, Study
from fields.io.attrs import attrs_for
from fields.numerics.geometry import Patch
from fields.parameters import Parameters
from fields.parameters.batch import ParameterBatch

DETECTION_CELLS_1E9 = 1e9

#: units and long names of the derived outputs (series and the run's own scalars, such as
#: ``resection_day`` and ``death_day``, reuse the run's CF attributes)
DERIVED_ATTRS: dict[str, tuple[str, str]] = {
    "diameter_at_first_niche_mm": (
        "mm",
        "primary diameter when the site's niche fraction first exceeds 0 (NaN: never)",
    ),
    "hypoxic_distance_um": (
        "um",
        "distance from the capillary wall to the nearest hypoxic tissue, last output (NaN: none)",
    ),
    "first_outgrowth_days": (
        "day",
        "first day P(detectable metastasis) reaches 0.5 in any site (NaN: none)",
    ),
    "time_resection_to_outgrowth_days": (
        "day",
        "time from resection to first_outgrowth_days (NaN: none or no resection)",
    ),
    "time_to_1e9_cells_days": (
        "day",
        "time for the primary to reach 1e9 cells, log-linear between outputs (NaN: never)",
    ),
    "necrotic_distance_um": (
        "um",
        "distance from the capillary wall to the nearest necrotic tissue, last output (NaN: none)",
    ),
    "p_metastatic_at_diagnosis": (
        "1",
        "probability of a detectable metastasis at diagnosis (resection) (NaN: not resected)",
    ),
    "p_relapse_10_years": (
        "1",
        "probability of a detectable metastasis within 10 years of resection among patients "
        "without one at resection (NaN: not resected or horizon too short)",
    ),
    "median_months_to_metastasis": (
        "month",
        "median time from resection to the first detectable metastasis among patients who "
        "relapse within the horizon (NaN: none)",
    ),
}


def output_attrs(study: Study, name: str) -> dict[str, str]:
    """units and long_name of an output (series reuse the run's CF attributes)."""
    units, long_name = attrs_for(study.base).get(name) or DERIVED_ATTRS[name]
    return {"units": units, "long_name": long_name}


def _crossing(times: np.ndarray, values: np.ndarray, level: float) -> float:
    """First time a positive series reaches level, log-linear between samples (NaN: never)."""
    above = np.nonzero(values >= level)[0]
    if above.size == 0:
        return math.nan
    i = int(above[0])
    if i == 0:
        return float(times[0])
    return crossing_time(times[i - 1], times[i], values[i - 1], values[i], level)


def run_outputs(study: Study, params: Parameters, run: RunValues) -> dict[str, np.ndarray]:
    """The study's outputs of one run (``params`` are the run's), as arrays shaped (time),
    (site) or (site, time)."""
    times = run.times
    diameter = run.systemic["tumour_diameter_mm"]
    values: dict[str, np.ndarray] = {}
    outgrowth = np.array([run.outgrowth[s] for s in study.sites])
    resect_day = run.resection_day
    first = float(np.nanmin(outgrowth)) if np.isfinite(outgrowth).any() else math.nan
    for name in study.outputs:
        if name in run.systemic:  # systemic series
            values[name] = np.asarray(run.systemic[name], dtype=float)
        elif name in RUN_SCALARS:
            scalars = {
                "first_outgrowth_days": first,
                "resection_day": resect_day,
                "time_resection_to_outgrowth_days": first - resect_day,
                "death_day": run.death_day,
                **relapse_outcomes(times, run.systemic["p_metastatic"], resect_day),
            }
            if name == "time_to_1e9_cells_days":
                scalars[name] = _crossing(times, run.systemic["tumour_cells"], DETECTION_CELLS_1E9)
            values[name] = np.array(scalars[name])
        elif name == "time_to_outgrowth_days":
            values[name] = outgrowth
        elif name == "diameter_at_first_niche_mm":
            found = []
            for s in study.sites:
                hits = np.nonzero(run.sites[s]["niche_fraction"] > 0.0)[0]
                found.append(float(diameter[hits[0]]) if hits.size else math.nan)
            values[name] = np.array(found)
        elif name in ("hypoxic_distance_um", "necrotic_distance_um"):
            patches = site_patches(params, study.sites, study.geometry, study.seed)
            threshold = (
                params.oxygen.hypoxia_threshold_mmhg
                if name == "hypoxic_distance_um"
                else params.oxygen.necrosis_threshold_mmhg
            )
            values[name] = np.array(
                [
                    _hypoxic_distance(run.last_fields[s]["oxygen"], patches[s], threshold)
                    for s in study.sites
                ]
            )
        else:  # site series
            values[name] = np.stack([np.asarray(run.sites[s][name]) for s in study.sites])
    return values


def relapse_outcomes(times: np.ndarray, p_met: np.ndarray, resect_day: float) -> dict[str, float]:
    """From p_metastatic(t): P(metastatic at diagnosis), P(relapse within 10 years) =
    (p(r + T) - p(r)) / (1 - p(r)), and the median months from resection to a detectable
    metastasis among those who relapse by the horizon (conditional CDF reaching 0.5)."""
    out = {
        "p_metastatic_at_diagnosis": math.nan,
        "p_relapse_10_years": math.nan,
        "median_months_to_metastasis": math.nan,
    }
    if not math.isfinite(resect_day):
        return out
    at_dx = float(np.interp(resect_day, times, p_met))
    out["p_metastatic_at_diagnosis"] = at_dx
    if resect_day + 3650.0 <= times[-1] + 1e-9 and at_dx < 1.0:
        later = float(np.interp(resect_day + 3650.0, times, p_met))
        out["p_relapse_10_years"] = (later - at_dx) / (1.0 - at_dx)
    gained = p_met[-1] - at_dx
    if gained > 0.0:
        after = times >= resect_day
        t = np.concatenate(([resect_day], times[after]))
        q = (np.concatenate(([at_dx], p_met[after])) - at_dx) / gained
        out["median_months_to_metastasis"] = float(np.interp(0.5, q, t) - resect_day) / 30.4375
    return out


def _hypoxic_distance(oxygen: np.ndarray, patch: Patch, threshold: float) -> float:
    """Smallest distance to the capillary wall of a cell below ``threshold`` (mmHg) in the last
    output's ``oxygen`` (flat, cell order) (um)."""
    hypoxic = np.asarray(oxygen).ravel() < threshold
    if not hypoxic.any():
        return math.nan
    return float(patch.distance_to_wall_um[hypoxic].min())


def _run_arguments(study: Study) -> dict[str, Any]:
    """What a study fixes for each of its runs (sites, horizon, geometry, seed, outputs)."""
    return {
        "sites": list(study.sites),
        "days": study.days,
        "geometry": study.geometry,
        "seed": study.seed,
        "output_every_days": study.output_every_days,
        "store_fields": study.needs_fields,
    }


def run_one(study: Study, index: int, updates: dict[str, Any]) -> dict[str, Any]:
    """One run on a worker. Never raises: failures come back as a message."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        params = study.parameters_for(updates)
        tree = simulate(params, **_run_arguments(study), progress=False)
        values = run_outputs(study, params, RunValues.from_tree(tree))
        return {"index": index, "ok": True, "values": values}
    except Exception as exc:  # isolate the failure; the sweep goes on
        return {"index": index, "ok": False, "error": f"{type(exc).__name__}: {exc}"}


def run_chunk(study: Study, indices: list[int], designs: list[dict[str, Any]]) -> list[dict]:
    """Several runs of a study on a worker, as one batch when they can share one (only
    numbers varied; on 2d and 3d grids also one grid); otherwise, or for parameter errors, one
    by one. Never raises."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:  # even one run goes through the batch: results do not depend on the worker count
        params = [study.parameters_for(u) for u in designs]
        batch = ParameterBatch.from_sets(params)
    except FieldsInputError:
        return [run_one(study, i, u) for i, u in zip(indices, designs, strict=True)]
    try:
        # no study output reads the lesion-size densities: keep the series only
        record = run(batch, **_run_arguments(study), keep="series")
    except FieldsInputError:  # e.g. runs on grids of different sizes: they go one by one
        return [run_one(study, i, u) for i, u in zip(indices, designs, strict=True)]
    except Exception as exc:  # the whole batch failed: every run says why
        message = f"{type(exc).__name__}: {exc}"
        return [{"index": i, "ok": False, "error": message} for i in indices]
    results = []
    for j, i in enumerate(indices):
        if j in record.errors:
            results.append(
                {"index": i, "ok": False, "error": f"NumericalError: {record.errors[j]}"}
            )
            continue
        try:
            values = run_outputs(study, params[j], RunValues.from_batch(record, j))
            results.append({"index": i, "ok": True, "values": values})
        except Exception as exc:
            results.append({"index": i, "ok": False, "error": f"{type(exc).__name__}: {exc}"})
    return results
