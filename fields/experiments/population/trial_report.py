"""What a trial reports: incidence and hazard ratios by arm, published against model, and per
arm the relapse, M1 and first-site numbers with bootstrap intervals."""

from __future__ import annotations

import math
import warnings

import numpy as np
import xarray as xr

from fields.experiments.population.trial import m0


def report(ds: xr.Dataset) -> str:
    """A markdown summary: incidence by arm, hazard ratios, published against model."""
    control, years = ds.attrs["control"], float(ds.attrs["years"])
    lines = [
        f"# {ds.attrs['title']}",
        "",
        f"Design: {ds.attrs['design']}; control arm: {control}; "
        f"{int(ds.sizes['patient'])} patients per arm (fields {ds.attrs['fields_version']}).",
        "",
        f"| arm | M0 patients | distant metastasis within {years:g} years (%) | HR (95 % CI) |",
        "|---|---:|---:|---|",
    ]
    for k, arm in enumerate(ds["arm"].values):
        patients = int(m0(ds, str(arm)).sum())
        hr = _hr(ds, k, "distant")
        lines.append(
            f"| {arm} | {patients} | {ds['incidence'].values[k]:.1f} "
            f"({ds['incidence_low'].values[k]:.1f} - {ds['incidence_high'].values[k]:.1f}) | {hr} |"
        )
    if "published_hr" in ds:
        lines += ["", "| arm | endpoint | published HR (95 % CI) | model HR (95 % CI) | source |"]
        lines.append("|---|---|---|---|---|")
        arms = [str(a) for a in ds["arm"].values]
        for r in range(ds.sizes["published"]):
            arm, endpoint = (
                str(ds["published_arm"].values[r]),
                str(ds["published_endpoint"].values[r]),
            )
            pub = (
                f"{ds['published_hr'].values[r]:.2f} ({ds['published_low'].values[r]:.2f} - "
                f"{ds['published_high'].values[r]:.2f})"
            )
            model = _hr(ds, arms.index(arm), endpoint)
            lines.append(
                f"| {arm} | {endpoint} | {pub} | {model} | {ds['published_source'].values[r]} |"
            )
    if "t_stage" in ds:
        lines += ["", "Per arm (%, 90 % bootstrap intervals over patients):", "", summary_table(ds)]
    return "\n".join(lines) + "\n"


def _hr(ds: xr.Dataset, k: int, endpoint: str) -> str:
    e = ds.sel(endpoint=endpoint)
    hr, low, high = (float(e[v].values[k]) for v in ("hr", "hr_low", "hr_high"))
    if str(ds["arm"].values[k]) == ds.attrs["control"]:
        return "1 (control)"
    if not math.isfinite(hr):
        return f"- ({int(e['events'].values[k])} vs {int(e['events_control'].values[k])} events)"
    return f"{hr:.2f} ({low:.2f} - {high:.2f})"


def summary(ds: xr.Dataset, resamples: int = 200, seed: int = 0) -> xr.Dataset:
    """Per arm, with 90 % bootstrap intervals over patients (the same resampled patients in
    every arm): distant metastasis within the trial's years after resection by T stage (%, of
    M0 patients; follow-up censors no one before it, since death comes only after a
    metastasis), metastatic at diagnosis among T1/T2 (%), and each site's share of first
    relapses (%)."""
    years = float(ds.attrs["years"])
    sites = [str(s) for s in ds.attrs["sites"]]
    stages = sorted({str(s) for s in np.unique(ds["t_stage"].values.astype(str)) if s})
    names = [f"relapse within {years:g} y, {s}" for s in stages]
    names += ["metastatic at diagnosis, T1/T2", *[f"first relapse in {s}" for s in sites]]

    def stats(idx: np.ndarray) -> np.ndarray:
        out = np.full((ds.sizes["arm"], len(names)), np.nan)
        for k in range(ds.sizes["arm"]):
            a = ds.isel(arm=k, patient=idx)
            done = a["status"].values == 1
            m1 = a["metastatic_at_diagnosis"].values.astype(bool)
            stage = a["t_stage"].values.astype(str)
            early = (a["time_to_metastasis_days"].values <= years * 365.25) & a[
                "metastasis_observed"
            ].values.astype(bool)
            col = 0
            for s in stages:
                m0 = done & ~m1 & (stage == s)
                out[k, col] = 100.0 * early[m0].mean() if m0.any() else np.nan
                col += 1
            small = done & np.isin(stage, ["T1", "T2"])
            out[k, col] = 100.0 * m1[small].mean() if small.any() else np.nan
            col += 1
            relapsed = done & ~m1 & a["metastasis_observed"].values.astype(bool)
            first = a["first_site"].values.astype(str)[relapsed]
            for s in sites:
                out[k, col] = 100.0 * np.mean(first == s) if first.size else np.nan
                col += 1
        return out

    n = ds.sizes["patient"]
    value = stats(np.arange(n))
    rng = np.random.default_rng(seed)
    draws = np.stack([stats(rng.integers(0, n, n)) for _ in range(resamples)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanpercentile(draws, [5.0, 95.0], axis=0)
    return xr.Dataset(
        {
            "value": (("arm", "quantity"), value, {"units": "%"}),
            "low": (("arm", "quantity"), low, {"units": "%", "long_name": "90 % bootstrap, lower"}),
            "high": (
                ("arm", "quantity"),
                high,
                {"units": "%", "long_name": "90 % bootstrap, upper"},
            ),
        },
        coords={"arm": ds["arm"].values, "quantity": np.array(names)},
        attrs={"resamples": resamples},
    )


def summary_table(ds: xr.Dataset, resamples: int = 200) -> str:
    """:func:`summary` as a markdown table, arms as rows."""
    s = summary(ds, resamples)
    head = "| arm | " + " | ".join(str(q) for q in s["quantity"].values) + " |"
    lines = [head, "|---|" + "---:|" * s.sizes["quantity"]]
    for k, arm in enumerate(s["arm"].values):
        cells = [
            f"{s['value'].values[k, j]:.1f} ({s['low'].values[k, j]:.1f} - {s['high'].values[k, j]:.1f})"
            for j in range(s.sizes["quantity"])
        ]
        lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
