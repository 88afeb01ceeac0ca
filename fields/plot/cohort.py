"""Figures of cohorts and calibrations: metastasis-free survival with the published targets, and
a calibration's posterior predictions against every target."""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from fields.experiments.population.cohort_stats import statistic
from fields.experiments.population.survival import groups, kaplan_meier


def plot_mfs(ds: xr.Dataset, by: str | None = "t_stage") -> plt.Figure:
    """Left: Kaplan-Meier metastasis-free survival with 95 % bands per group. Right: the time to
    metastasis among patients who relapse (empirical CDF), with the cohort's median targets."""
    km = kaplan_meier(ds, by)
    masks = groups(ds, by)
    relapsed = ds["metastasis_observed"].values.astype(bool)
    targets = json.loads(ds.attrs.get("targets", "[]"))
    fig, (left, right) = plt.subplots(1, 2, figsize=(10.5, 4.0), layout="constrained")
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    months = km["month"].values
    for g, name in enumerate(km["group"].values):
        c = colours[g % len(colours)]
        n, events = int(km["patients"].values[g]), int(km["events"].values[g])
        left.step(
            months,
            km["survival"].values[g],
            where="post",
            color=c,
            label=f"{name} (n = {n}, {events} events)",
        )
        left.fill_between(
            months,
            km["ci_low"].values[g],
            km["ci_high"].values[g],
            step="post",
            color=c,
            alpha=0.2,
            linewidth=0,
        )
        mask = masks[str(name)] & relapsed
        times = np.sort(ds["time_to_metastasis_days"].values[mask] / 30.4375)
        if times.size:
            right.step(
                times,
                np.arange(1, times.size + 1) / times.size,
                where="post",
                color=c,
                label=f"{name}: median {np.median(times):.1f} months",
            )
        for t in targets:
            if t["statistic"] == "median_months_to_metastasis" and t["stages"] == [str(name)]:
                right.axvline(t["value"], color=c, linestyle="--", linewidth=1)
                right.axvspan(t["value"] - t["sd"], t["value"] + t["sd"], color=c, alpha=0.1)
    left.set_xlabel("months after resection")
    left.set_ylabel("metastasis-free survival (1)")
    left.set_ylim(0.0, 1.02)
    left.set_title("Kaplan-Meier, patients M0 at diagnosis")
    left.legend(fontsize=8, loc="lower left")
    right.set_xlabel("months from resection to first detectable metastasis")
    right.set_ylabel("fraction of relapsing patients (1)")
    right.set_title("relapsing patients; dashed: published median ± sd")
    right.legend(fontsize=8, loc="lower right")
    m1 = [t for t in targets if t["statistic"] == "percent_metastatic_at_diagnosis"]
    if m1:
        t = m1[0]
        model = statistic(ds, t["statistic"], t["stages"])
        fig.suptitle(
            f"{ds.attrs.get('cohort', '')}: metastatic at diagnosis among "
            f"{'/'.join(t['stages'] or ['all'])}: {model:.1f} % (published "
            f"{t['value']:.3g} %)",
            fontsize=10,
        )
    return fig


def plot_calibration(fit: xr.Dataset) -> plt.Figure:
    """Top: each target's posterior-predictive distribution (box) against the published value
    ± sd (fitted targets filled, held-out validation open). Bottom: marginal posteriors."""
    targets = list(fit["target"].values)
    params = list(fit["parameter"].values)
    cols = max(len(targets), len(params))
    fig, axes = plt.subplots(
        2, cols, figsize=(2.6 * cols, 5.6), layout="constrained", squeeze=False
    )
    w = fit["weight"].values
    for k, name in enumerate(targets):
        ax = axes[0, k]
        pred = fit["predicted"].values[:, k]
        ok = np.isfinite(pred)
        if ok.any():
            ax.hist(
                pred[ok],
                bins=20,
                weights=w[ok],
                color="C0",
                alpha=0.6,
                orientation="horizontal",
                label="model",
            )
            mean = float(np.average(pred[ok], weights=w[ok]))
            ax.axhline(mean, color="C0", linewidth=1.5, label="model mean")
        value, sd = float(fit["target_value"].values[k]), float(fit["target_sd"].values[k])
        held = fit["target_kind"].values[k] == "validation"
        ax.axhline(value, color="C3", linestyle=":" if held else "-", label="published")
        ax.axhspan(value - sd, value + sd, color="C3", alpha=0.15)
        ax.set_title(("held out: " if held else "") + _wrap(str(name)), fontsize=8)
        ax.set_xlabel("posterior weight")
        shown = [value - sd, value + sd, *(pred[ok] if ok.any() else [])]
        pad = 0.05 * (max(shown) - min(shown) or 1.0)
        ax.set_ylim(min(shown) - pad, max(shown) + pad)
    for j, name in enumerate(params):
        ax = axes[1, j]
        x = fit["posterior"].values[:, j]
        log = str(fit["prior"].values[j]) == "loguniform"
        shown = np.log10(x) if log else x
        ax.hist(shown, bins=20, weights=w, color="C2", alpha=0.7)
        estimate = float(fit["estimate"].values[j])
        ax.axvline(np.log10(estimate) if log else estimate, color="k", linewidth=1)
        unit = fit["unit"].values[j]
        ax.set_xlabel(f"log10 {name} ({unit})" if log else f"{name} ({unit})", fontsize=8)
        ax.set_ylabel("posterior weight")
    for ax in [*axes[0, len(targets) :], *axes[1, len(params) :]]:
        ax.set_visible(False)
    axes[0, 0].legend(fontsize=7)
    return fig


def _wrap(text: str, width: int = 28) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))
