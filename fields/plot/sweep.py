"""Figures of a sweep: outcome vs parameter, series per run, heatmaps, Sobol indices."""

from __future__ import annotations

import math
import textwrap

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from fields.plot.labels import label


def _param_label(ds: xr.Dataset, name: str) -> str:
    units = ds[name].attrs.get("units", "") or "1"
    return f"{name} ({units})"


def _scalar_of_run(ds: xr.Dataset, output: str, site: str | None) -> xr.DataArray:
    da = ds[output]
    if "site" in da.dims:
        da = da.sel(site=site if site is not None else str(ds["site"].values[0]))
    if "time" in da.dims:
        da = da.isel(time=-1)
    return da


def plot_outcome_vs_parameter(
    ds: xr.Dataset, output: str, parameter: str, sites: list[str] | None = None
) -> plt.Figure:
    """One panel: a per-run output (last value for series) against a varied parameter, a line
    per site. Runs with NaN (the event never happened) are drawn at the top as open markers."""
    fig, ax = plt.subplots(figsize=(5.5, 3.8), layout="constrained")
    site_list = sites or (
        [str(s) for s in ds["site"].values] if "site" in ds[output].dims else [None]
    )
    x = ds[parameter].values
    order = np.argsort(x, kind="stable")
    ys = {site: _scalar_of_run(ds, output, site).values for site in site_list}
    every = np.concatenate(list(ys.values()))
    top = float(np.nanmax(every)) if np.isfinite(every).any() else 1.0
    any_missing = not np.isfinite(every).all()
    for site, y in ys.items():
        line = ax.plot(x[order], y[order], marker="o", label=site or output)[0]
        missing = ~np.isfinite(y)
        if missing.any():
            ax.plot(
                x[missing], np.full(missing.sum(), top), "o", mfc="none", color=line.get_color()
            )
    units = ds[output].attrs.get("units", "")
    ax.set_xlabel(_param_label(ds, parameter))
    ax.set_ylabel(f"{output} ({units})")
    note = "\nopen markers at the top: never happened (NaN)" if any_missing else ""
    ax.set_title(
        f"{ds.attrs.get('study', 'sweep')}: {output} vs {parameter}{note}\n"
        f"{textwrap.fill(ds[output].attrs.get('long_name', ''), 70)}",
        fontsize=8,
    )
    if len(site_list) > 1:
        ax.legend(fontsize=7)
    return fig


def plot_series_by_run(
    ds: xr.Dataset, output: str, parameter: str, site: str | None = None
) -> plt.Figure:
    """Time courses of a series output, one line per run coloured by a varied parameter."""
    da = ds[output]
    if "site" in da.dims:
        site = site if site is not None else str(ds["site"].values[0])
        da = da.sel(site=site)
    values = ds[parameter].values.astype(float)
    levels = np.unique(values[np.isfinite(values)])  # colours by rank: uneven values stay apart
    cmap = plt.get_cmap("viridis")
    fig, ax = plt.subplots(figsize=(6.0, 3.8), layout="constrained")
    for i in range(ds.sizes["run"]):
        v = values[i]
        rank = np.searchsorted(levels, v) / max(len(levels) - 1, 1) if np.isfinite(v) else 0.0
        colour = "grey" if not np.isfinite(v) else cmap(0.9 * rank)
        text = "not set" if not np.isfinite(v) else f"{v:g}"
        ax.plot(
            ds["time"], da.isel(run=i), color=colour, label=f"{parameter.split('.')[-1]} = {text}"
        )
    if (
        np.nanmax(np.abs(da.values)) > 0
        and np.nanmin(da.values) >= 0
        and output.endswith(("_total", "cells"))
    ):
        ax.set_yscale("symlog", linthresh=1.0)
    ax.set_xlabel(label(ds["time"]))
    units = ds[output].attrs.get("units", "")
    ax.set_ylabel(f"{output} ({units})")
    where = f" in {site}" if site else ""
    ax.set_title(f"{ds.attrs.get('study', 'sweep')}: {output}{where}, one line per run", fontsize=9)
    ax.legend(fontsize=6, ncols=2)
    return fig


def plot_heatmap(
    ds: xr.Dataset, output: str, x: str, y: str, site: str | None = None
) -> plt.Figure:
    """Heatmap of a per-run output over two varied parameters of a grid study."""
    da = _scalar_of_run(ds, output, site)
    table = (
        xr.Dataset(
            {"v": ("run", da.values), "x": ("run", ds[x].values), "y": ("run", ds[y].values)}
        )
        .to_dataframe()
        .pivot_table(index="y", columns="x", values="v", aggfunc="mean", dropna=False)
    )
    fig, ax = plt.subplots(figsize=(5.5, 4.2), layout="constrained")
    im = ax.pcolormesh(
        np.arange(table.shape[1] + 1), np.arange(table.shape[0] + 1), table.values, cmap="viridis"
    )
    ax.set_xticks(np.arange(table.shape[1]) + 0.5, [f"{v:g}" for v in table.columns])
    ax.set_yticks(np.arange(table.shape[0]) + 0.5, [f"{v:g}" for v in table.index])
    ax.set_xlabel(_param_label(ds, x))
    ax.set_ylabel(_param_label(ds, y))
    where = f" ({site})" if site else ""
    ax.set_title(f"{output}{where}; blank: never", fontsize=9)
    cbar = fig.colorbar(im, ax=ax)
    cbar.set_label(f"{output} ({ds[output].attrs.get('units', '')})")
    return fig


def plot_sobol(ds: xr.Dataset) -> plt.Figure:
    """Bars of first-order (S1) and total (ST) Sobol indices with 95 % confidence intervals,
    one panel per analysed output."""
    outputs = [str(o) for o in ds["sobol_output"].values]
    params = [str(p) for p in ds["parameter"].values]
    ncols = min(3, len(outputs))
    nrows = math.ceil(len(outputs) / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(4.2 * ncols, 3.2 * nrows), layout="constrained", squeeze=False
    )
    pos = np.arange(len(params))
    for k, out in enumerate(outputs):
        ax = axes[k // ncols][k % ncols]
        sel = ds.sel(sobol_output=out)
        ax.bar(
            pos - 0.2,
            sel["sobol_S1"],
            0.4,
            yerr=sel["sobol_S1_conf"],
            label="first order S1",
            capsize=2,
        )
        ax.bar(
            pos + 0.2, sel["sobol_ST"], 0.4, yerr=sel["sobol_ST_conf"], label="total ST", capsize=2
        )
        ax.set_xticks(pos, [p.split(".")[-1] for p in params], rotation=30, ha="right", fontsize=7)
        ax.set_xlabel("varied parameter")
        ax.set_ylabel("Sobol index (1)")
        ax.set_title(out, fontsize=9)
        ax.set_ylim(bottom=min(0.0, float(np.nanmin(sel["sobol_S1"] - sel["sobol_S1_conf"]))))
    axes[0][0].legend(fontsize=7)
    for k in range(len(outputs), nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)
    fig.suptitle(f"{ds.attrs.get('study', 'sweep')}: Sobol indices (95 % CI)")
    return fig
