"""Metastasis-free survival of a cohort with lifelines: Kaplan-Meier curves with confidence bands
and medians with confidence intervals, by T stage or by any sampled variable.

The event is the first detectable metastasis after resection (``metastasis_observed``), the time
``time_to_metastasis_days`` (censored at the end of follow-up or death); patients metastatic at
diagnosis (M1) are not at risk and are left out, as in a registry's M0 analysis.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from fields.core.errors import FieldsInputError
from fields.experiments.population.outcomes import MONTH_DAYS


def groups(ds: xr.Dataset, by: str | None, bins: int = 3) -> dict[str, np.ndarray]:
    """Masks of the M0 patients (finished) of each group: every value of a text variable
    (``t_stage``), or ``bins`` quantile ranges of a numeric one; all patients when None."""
    base = (ds["status"].values == 1) & ~ds["metastatic_at_diagnosis"].values.astype(bool)
    if by is None:
        return {"all": base}
    if by not in ds.data_vars or ds[by].dims != ("patient",):
        allowed = [k for k, v in ds.data_vars.items() if v.dims == ("patient",)]
        raise FieldsInputError(f"--by = {by!r} is not allowed: one of {', '.join(sorted(allowed))}")
    values = ds[by].values
    if values.dtype.kind in "US":
        return {str(g): base & (values == g) for g in sorted(set(values[base].tolist())) if g}
    edges = np.quantile(values[base], np.linspace(0.0, 1.0, bins + 1))
    out = {}
    for k in range(bins):
        upper = values <= edges[k + 1] if k == bins - 1 else values < edges[k + 1]
        out[f"{edges[k]:.3g}-{edges[k + 1]:.3g}"] = base & (values >= edges[k]) & upper
    return out


def kaplan_meier(ds: xr.Dataset, by: str | None = None, alpha: float = 0.05) -> xr.Dataset:
    """Metastasis-free survival per group on a monthly grid: ``survival``, ``ci_low``,
    ``ci_high`` (group, month), and per group the KM median with its CI, the number at risk,
    events, and the median time to metastasis among patients with one (the registry's number)."""
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    masks = groups(ds, by)
    horizon = float(ds.attrs["follow_up_days"]) / MONTH_DAYS
    grid = np.arange(0.0, horizon + 1e-9, 1.0)
    names = list(masks)
    shape = (len(names), grid.size)
    survival, low, high = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
    scalars = {
        k: np.full(len(names), np.nan)
        for k in (
            "median_months",
            "median_ci_low",
            "median_ci_high",
            "patients",
            "events",
            "median_months_relapsing",
        )
    }
    for g, name in enumerate(names):
        mask = masks[name]
        durations = ds["time_to_metastasis_days"].values[mask] / MONTH_DAYS
        events = ds["metastasis_observed"].values[mask].astype(bool)
        scalars["patients"][g] = mask.sum()
        scalars["events"][g] = events.sum()
        if not mask.any():
            continue
        kmf = KaplanMeierFitter(alpha=alpha).fit(durations, events, label=name)
        survival[g] = kmf.survival_function_at_times(grid).values
        ci = kmf.confidence_interval_survival_function_
        times = ci.index.values
        low[g] = _step(times, ci.iloc[:, 0].values, grid)
        high[g] = _step(times, ci.iloc[:, 1].values, grid)
        scalars["median_months"][g] = kmf.median_survival_time_
        bounds = median_survival_times(kmf.confidence_interval_)
        scalars["median_ci_low"][g] = float(bounds.iloc[0, 0])
        scalars["median_ci_high"][g] = float(bounds.iloc[0, 1])
        if events.any():
            scalars["median_months_relapsing"][g] = float(np.median(durations[events]))
    coords = {"group": np.array(names, dtype=str), "month": grid}
    attrs = {"units": "1"}
    data = {
        "survival": (
            ("group", "month"),
            survival,
            {**attrs, "long_name": "metastasis-free survival (Kaplan-Meier)"},
        ),
        "ci_low": (
            ("group", "month"),
            low,
            {**attrs, "long_name": f"{100 * (1 - alpha):.0f} % CI, lower"},
        ),
        "ci_high": (
            ("group", "month"),
            high,
            {**attrs, "long_name": f"{100 * (1 - alpha):.0f} % CI, upper"},
        ),
    }
    for key, value in scalars.items():
        unit = "month" if "median" in key else "1"
        data[key] = (("group",), value, {"units": unit})
    return xr.Dataset(data, coords=coords, attrs={"by": by or "", "alpha": alpha})


def _step(times: np.ndarray, values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """A right-continuous step function sampled on ``grid``."""
    idx = np.searchsorted(times, grid, side="right") - 1
    return np.where(idx >= 0, values[np.clip(idx, 0, None)], 1.0)


def relapse_median(ds: xr.Dataset, stages: list[str]) -> float:
    """Median months from resection to metastasis among M0 patients of ``stages`` who relapse
    (the drawn events; the calibration uses the Rao-Blackwell form)."""
    mask = (ds["status"].values == 1) & np.isin(ds["t_stage"].values.astype(str), stages)
    mask &= ds["metastasis_observed"].values.astype(bool)
    if not mask.any():
        return math.nan
    return float(np.median(ds["time_to_metastasis_days"].values[mask])) / MONTH_DAYS
