"""Virtual adjuvant trials: every arm of a trial file on the same virtual patients (common
random numbers), and the contrasts a trial reports.

Each arm is a cohort (:func:`fields.experiments.population.cohort.cohort`), resumable in its own
store beside the trial's until the trial is written. In a paired trial a patient draws the same
numbers in every arm (its parameters, its detection threshold, its first site), so the arms
differ only by the therapy. Hazard ratios come from lifelines' Cox model on M0 patients, time
from resection in months, with a robust (sandwich) variance clustered on the patient when the
arms are paired (Lin & Wei 1989, as lifelines implements it for ``cluster_col``).
"""

from __future__ import annotations

import math
import shutil
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from fields.core.version import __version__
from fields.experiments.population.cohort import cohort
from fields.experiments.population.outcomes import MONTH_DAYS
from fields.experiments.population.survival import groups, kaplan_meier
from fields.experiments.population.trial_file import Trial, load_trial

#: per-patient cohort variables a trial keeps, by arm
KEPT = (
    "status",
    "t_stage",
    "metastatic_at_diagnosis",
    "metastasis_observed",
    "time_to_metastasis_days",
    "first_site",
    "death_day",
)


def arm_store(out: str | Path, arm: str) -> Path:
    """Where an arm's cohort runs (and resumes) until the trial is written."""
    out = Path(out)
    return out.with_name(f"{out.name}.arms") / f"{arm}.zarr"


def trial(
    spec: str | Path | Trial,
    store: str | Path | None = None,
    client: Any = None,
    workers: int | None = None,
    patients: int | None = None,
    progress: bool | None = None,
) -> xr.Dataset:
    """Run every arm (resuming each from its store beside ``store``), and return the trial's
    Dataset: the kept cohort variables by (arm, patient), and the contrasts of
    :func:`contrasts`."""
    if not isinstance(spec, Trial):
        spec = load_trial(spec)
    started = time.perf_counter()
    arms = []
    for arm in spec.arms:
        where = arm_store(store, arm.name) if store is not None else None
        if where is not None:
            where.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            ds = cohort(
                spec.arm_cohort(arm, patients),
                store=where,
                client=client,
                workers=workers,
                progress=progress,
            )
        kept = ds[[k for k in KEPT if k in ds]]
        arms.append(kept.drop_vars([c for c in kept.coords if c != "patient"]))
    out = xr.concat(arms, dim="arm", join="outer")
    out = out.assign_coords(arm=np.array(spec.names))
    out.attrs = {
        "title": f"fields virtual trial: {spec.name}",
        "trial": spec.name,
        "description": spec.description,
        "design": spec.design,
        "control": spec.control,
        "years": spec.years,
        "cohort": spec.cohort.name,
        "cohort_fingerprint_control": spec.arm_cohort(spec.arms[0]).fingerprint(),
        "follow_up_days": spec.cohort.follow_up_days,
        "sites": list(spec.cohort.sites),
        "arm_descriptions": [a.description for a in spec.arms],
        "fields_version": __version__,
        "seconds": round(time.perf_counter() - started, 3),
    }
    return out.merge(contrasts(out, spec))


def finish(store: str | Path) -> None:
    """Remove the arms' stores once the trial's own store is written."""
    folder = arm_store(store, "x").parent
    if folder.is_dir():
        shutil.rmtree(folder)


def m0(ds: xr.Dataset, arm: str) -> np.ndarray:
    """The finished patients of ``arm`` without a metastasis at diagnosis."""
    return groups(ds.sel(arm=arm), None)["all"]


def _events(ds: xr.Dataset, arm: str, endpoint: str) -> np.ndarray:
    a = ds.sel(arm=arm)
    observed = a["metastasis_observed"].values.astype(bool)
    if endpoint == "distant":
        return observed
    return observed & (a["first_site"].values.astype(str) == endpoint)


def cox(ds: xr.Dataset, arm: str, control: str, endpoint: str, paired: bool, mask=None):
    """(HR, 95 % low, high, p, events in arm, events in control) of ``arm`` against
    ``control`` on M0 patients (within ``mask`` when given); the HR is NaN when an arm has no
    event (the Cox estimate has no finite maximum)."""
    from lifelines import CoxPHFitter

    rows = []
    for treated, name in ((1.0, arm), (0.0, control)):
        keep = m0(ds, name) if mask is None else m0(ds, name) & mask
        a = ds.sel(arm=name)
        months = a["time_to_metastasis_days"].values[keep] / MONTH_DAYS
        event = _events(ds, name, endpoint)[keep]
        ids = a["patient"].values[keep]
        rows.append((np.full(months.size, treated), months, event, ids))
    treated, months, event, ids = (np.concatenate(c) for c in zip(*rows, strict=True))
    n_arm, n_control = int(rows[0][2].sum()), int(rows[1][2].sum())
    nan = (math.nan, math.nan, math.nan, math.nan, n_arm, n_control)
    if n_arm == 0 or n_control == 0 or months.size < 4:  # no finite MLE
        return nan
    import pandas as pd

    frame = pd.DataFrame({"treated": treated, "months": np.maximum(months, 1e-6), "event": event})
    if paired and ds.attrs.get("design", "paired") == "paired":
        frame["patient"] = ids
    fitter = CoxPHFitter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fitter.fit(
                frame,
                duration_col="months",
                event_col="event",
                cluster_col="patient" if "patient" in frame else None,
            )
        except Exception:  # lifelines' convergence failures (no events in an arm, collinear)
            return nan
    s = fitter.summary.loc["treated"]
    return (
        float(s["exp(coef)"]),
        float(s["exp(coef) lower 95%"]),
        float(s["exp(coef) upper 95%"]),
        float(s["p"]),
        n_arm,
        n_control,
    )


def incidence(ds: xr.Dataset, arm: str, years: float) -> tuple[float, float, float]:
    """Distant metastasis within ``years`` of resection among M0 patients (%), from the
    Kaplan-Meier curve of :func:`~fields.experiments.population.survival.kaplan_meier` at the
    last whole month, with its 95 % CI."""
    if not m0(ds, arm).any():
        return math.nan, math.nan, math.nan
    km = kaplan_meier(ds.sel(arm=arm)).isel(group=0)
    month = int(np.searchsorted(km["month"].values, years * 365.25 / MONTH_DAYS + 1e-9) - 1)
    s, low, high = (float(km[v].values[month]) for v in ("survival", "ci_low", "ci_high"))
    return 100.0 * (1.0 - s), 100.0 * (1.0 - high), 100.0 * (1.0 - low)


def contrasts(ds: xr.Dataset, spec: Trial) -> xr.Dataset:
    """Per arm the incidence at ``spec.years``; hazard ratios against the control by
    (arm, endpoint) and, for distant relapse, by (arm, stratum) of T stage."""
    arms, endpoints = spec.names, spec.endpoints()
    paired = spec.design == "paired"
    shape = (len(arms), len(endpoints))
    cols = {k: np.full(shape, np.nan) for k in ("hr", "hr_low", "hr_high", "p")}
    ev = {k: np.zeros(shape, dtype=np.int64) for k in ("events", "events_control")}
    for i, arm in enumerate(arms):
        if arm == spec.control:
            continue
        for j, endpoint in enumerate(endpoints):
            hr, low, high, p, e1, e0 = cox(ds, arm, spec.control, endpoint, paired)
            cols["hr"][i, j], cols["hr_low"][i, j], cols["hr_high"][i, j] = hr, low, high
            cols["p"][i, j] = p
            ev["events"][i, j], ev["events_control"][i, j] = e1, e0
    stages = sorted(
        {str(s) for s in np.unique(ds["t_stage"].values.astype(str)) if s}
        if "t_stage" in ds
        else set()
    )
    strata = np.full((len(arms), len(stages), 3), np.nan)
    for i, arm in enumerate(arms):
        if arm == spec.control:
            continue
        for j, stage in enumerate(stages):
            mask = ds["t_stage"].sel(arm=arm).values.astype(str) == stage
            strata[i, j] = cox(ds, arm, spec.control, "distant", paired, mask)[:3]
    inc = np.array([incidence(ds, arm, spec.years) for arm in arms])
    hr_attrs = {"units": "1", "long_name": f"hazard ratio against {spec.control} (Cox)"}
    out = xr.Dataset(
        {
            "hr": (("arm", "endpoint"), cols["hr"], hr_attrs),
            "hr_low": (
                ("arm", "endpoint"),
                cols["hr_low"],
                {"units": "1", "long_name": "95 % CI, lower"},
            ),
            "hr_high": (
                ("arm", "endpoint"),
                cols["hr_high"],
                {"units": "1", "long_name": "95 % CI, upper"},
            ),
            "hr_p": (("arm", "endpoint"), cols["p"], {"units": "1", "long_name": "Wald p"}),
            "events": (("arm", "endpoint"), ev["events"], {"units": "1"}),
            "events_control": (("arm", "endpoint"), ev["events_control"], {"units": "1"}),
            "hr_stratum": (("arm", "stratum"), strata[:, :, 0], hr_attrs),
            "hr_stratum_low": (("arm", "stratum"), strata[:, :, 1], {"units": "1"}),
            "hr_stratum_high": (("arm", "stratum"), strata[:, :, 2], {"units": "1"}),
            "incidence": (
                ("arm",),
                inc[:, 0],
                {"units": "%", "long_name": f"distant metastasis within {spec.years:g} years (KM)"},
            ),
            "incidence_low": (("arm",), inc[:, 1], {"units": "%", "long_name": "95 % CI, lower"}),
            "incidence_high": (("arm",), inc[:, 2], {"units": "%", "long_name": "95 % CI, upper"}),
        },
        coords={"endpoint": np.array(endpoints), "stratum": np.array(stages, dtype=str)},
    )
    if spec.published:
        out = out.merge(_published(spec))
    return out


def _published(spec: Trial) -> xr.Dataset:
    rows = spec.published
    return xr.Dataset(
        {
            "published_arm": (("published",), np.array([r.arm for r in rows])),
            "published_endpoint": (("published",), np.array([r.endpoint for r in rows])),
            "published_hr": (("published",), np.array([r.hazard_ratio for r in rows])),
            "published_low": (("published",), np.array([r.low for r in rows])),
            "published_high": (("published",), np.array([r.high for r in rows])),
            "published_source": (("published",), np.array([r.source for r in rows])),
            "published_population": (("published",), np.array([r.population for r in rows])),
        }
    )


def write_trial(ds: xr.Dataset, path: str | Path) -> None:
    """Write a trial Dataset as a zarr store, atomically: a kill leaves no store or a whole one."""
    import os
    import tempfile

    path = Path(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        ds = ds.copy()
        for v in ds.variables.values():
            v.encoding = {}  # the arms' stores' codecs do not carry over
        ds.to_zarr(tmp / "store.zarr", mode="w", zarr_format=2, consolidated=True)
        os.replace(tmp / "store.zarr", path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def open_trial(path: str | Path) -> xr.Dataset:
    """Open a trial store written by :func:`write_trial` (loaded into memory)."""
    from fields.core.errors import FieldsInputError

    path = Path(path)
    try:
        with xr.open_zarr(path, consolidated=True) as ds:
            if "trial" not in ds.attrs or "hr" not in ds:
                raise ValueError("no trial attributes")
            return ds.load()
    except Exception as exc:
        raise FieldsInputError(
            f"trial store = '{path}' is not allowed: not a trial store ({type(exc).__name__})"
        ) from None
