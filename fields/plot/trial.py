"""Figures of virtual trials: metastasis-free survival by arm, and a forest plot of hazard
ratios against the control (with the published ones beside)."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from fields.experiments.population.survival import kaplan_meier


def plot_trial(ds: xr.Dataset) -> plt.Figure:
    """Left: Kaplan-Meier metastasis-free survival (M0 patients) by arm with 95 % bands.
    Right: hazard ratio (95 % CI) of each arm against the control, by endpoint; published
    hazard ratios as open squares."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11.0, 4.2), layout="constrained")
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    arms = [str(a) for a in ds["arm"].values]
    for k, arm in enumerate(arms):
        km = kaplan_meier(ds.sel(arm=arm)).isel(group=0)
        if not km["patients"].values > 0:
            continue
        c = colours[k % len(colours)]
        months = km["month"].values
        label = f"{arm} (n = {int(km['patients'])}, {int(km['events'])} events)"
        left.step(months, km["survival"].values, where="post", color=c, label=label)
        left.fill_between(
            months,
            km["ci_low"].values,
            km["ci_high"].values,
            step="post",
            color=c,
            alpha=0.15,
            linewidth=0,
        )
    left.set_xlabel("months from resection")
    left.set_ylabel("metastasis-free survival (1)")
    left.set_ylim(0.0, 1.02)
    left.set_title(f"{ds.attrs.get('trial', '')}: {ds.attrs.get('design', '')} arms")
    left.legend(fontsize=7, loc="lower left")

    treated = [a for a in arms if a != ds.attrs["control"]]
    endpoints = [str(e) for e in ds["endpoint"].values]
    rows, labels = [], []
    for arm in treated:
        for endpoint in endpoints:
            rows.append((arm, endpoint))
            labels.append(f"{arm}: {endpoint}")
    y = np.arange(len(rows))[::-1]
    for (arm, endpoint), yy in zip(rows, y, strict=True):
        e = ds.sel(arm=arm, endpoint=endpoint)
        hr, low, high = float(e["hr"]), float(e["hr_low"]), float(e["hr_high"])
        c = colours[arms.index(arm) % len(colours)]
        if math.isfinite(hr) and hr > 0:
            right.errorbar(hr, yy, xerr=[[hr - low], [high - hr]], fmt="o", color=c, capsize=3)
        else:
            right.annotate(
                f"{int(e['events'])} vs {int(e['events_control'])} events",
                (1.0, yy),
                fontsize=7,
                ha="center",
                va="center",
            )
    if "published_hr" in ds:
        for r in range(ds.sizes["published"]):
            key = (str(ds["published_arm"].values[r]), str(ds["published_endpoint"].values[r]))
            if key in rows:
                yy = y[rows.index(key)] + 0.25
                hr = float(ds["published_hr"].values[r])
                low, high = (
                    float(ds["published_low"].values[r]),
                    float(ds["published_high"].values[r]),
                )
                right.errorbar(
                    hr,
                    yy,
                    xerr=[[hr - low], [high - hr]],
                    fmt="s",
                    mfc="white",
                    color="black",
                    capsize=3,
                    label="published" if r == 0 else None,
                )
    right.axvline(1.0, color="grey", linewidth=0.8)
    right.set_xscale("log")
    right.set_yticks(y, labels, fontsize=7)
    right.set_xlabel(f"hazard ratio against {ds.attrs['control']} (1), 95 % CI")
    right.set_title("Cox model, M0 patients")
    if "published_hr" in ds:
        right.legend(fontsize=7)
    return fig
