"""Matplotlib figures of a result. Labels come from each variable's long_name and units."""

from __future__ import annotations

import json
import math

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

MAP_FIELDS = ("oxygen", "vegf", "tgfb", "stiffness", "niche", "dtc_proliferating")
#: plot_maps draws both DTC states
SITE_MAP_FIELDS = (*MAP_FIELDS[:-1], "dtc_dormant", "dtc_proliferating")


def label(da: xr.DataArray) -> str:
    """'long name (units)' from CF attributes; coordinates keep their short name."""
    units = da.attrs.get("units", "")
    name = (
        da.name if da.name in ("x", "y", "z", "r", "time") else da.attrs.get("long_name", da.name)
    )
    return f"{name} ({units})" if units else str(name)


def short_label(da: xr.DataArray) -> str:
    """'name (units)': for colour bars and crowded axes."""
    return f"{da.name} ({da.attrs.get('units', '')})"


def _site_names(tree: xr.DataTree) -> list[str]:
    return [name for name in tree.children]


def _nearest_times(ds: xr.Dataset, times: list[float] | None) -> list[int]:
    if times is None:
        return [ds.sizes["time"] - 1]
    values = ds["time"].values
    return [int(np.argmin(np.abs(values - t))) for t in times]


def _field_panel(ax: plt.Axes, ds: xr.Dataset, name: str, fig: plt.Figure, index: int = -1) -> None:
    """One field at one output time: a map with capillaries (2d, 3d mid-plane) or a radial
    profile (Krogh)."""
    da = ds[name].isel(time=index)
    where = ""
    if "z" in da.dims:
        k = da.sizes["z"] // 2
        da = da.isel(z=k)
        where = f", z = {float(ds['z'][k]):g} um"
    if da.ndim == 2:
        im = ax.pcolormesh(ds["x"], ds["y"], da, shading="auto", cmap="viridis")
        vessel = ds["vessel"]
        if "z" in vessel.dims:
            vessel = vessel.isel(z=vessel.sizes["z"] // 2)
        ys, xs = np.nonzero(vessel.values)
        ax.scatter(ds["x"].values[xs], ds["y"].values[ys], s=1, c="white", marker=".", lw=0)
        ax.set_aspect("equal")
        ax.set_xlabel(label(ds["x"]))
        ax.set_ylabel(label(ds["y"]))
        cbar = fig.colorbar(im, ax=ax, shrink=0.8)
        cbar.set_label(short_label(ds[name]))
    else:
        ax.plot(ds["r"], da)
        ax.set_xlabel(label(ds["r"]))
        ax.set_ylabel(short_label(ds[name]))
    day = float(ds["time"][index])
    ax.set_title(f"{ds.attrs.get('site', '')}: {name}, day {day:g}{where}", fontsize=9)


def plot_maps(
    tree: xr.DataTree,
    site: str,
    times: list[float] | None = None,
    fields_to_map: tuple[str, ...] = SITE_MAP_FIELDS,
) -> plt.Figure:
    """Fields of one site at chosen output days (nearest stored output; default: the last), a
    row per time, capillaries overlaid in white, units on the colour bars."""
    ds = tree[site].dataset
    if "oxygen" not in ds:
        raise ValueError(f"site {site!r} has no stored fields (run with store_fields=True)")
    rows = _nearest_times(ds, times)
    ncols = len(fields_to_map)
    fig, axes = plt.subplots(
        len(rows),
        ncols,
        figsize=(3.3 * ncols, 2.9 * len(rows)),
        layout="constrained",
        squeeze=False,
    )
    for r, index in enumerate(rows):
        for c, name in enumerate(fields_to_map):
            _field_panel(axes[r][c], ds, name, fig, index)
    fig.suptitle(f"{site}: fields at chosen days ({tree.attrs.get('geometry', '')} geometry)")
    return fig


def plot_time_courses(tree: xr.DataTree) -> plt.Figure:
    """Systemic time courses (primary, plasma factors) and per-site niche fraction and DTCs,
    with events (resection, therapies, dissemination onset) marked."""
    fig = plt.figure(figsize=(13.0, 3.2), layout="constrained")
    _time_courses(tree, _site_names(tree), fig, fig.add_gridspec(1, 1)[0, 0])
    fig.suptitle("systemic and per-site time courses")
    return fig


def plot_dtc_fate(tree: xr.DataTree) -> plt.Figure:
    """Per site: dormant and proliferating DTCs in the organ over time, the detection size and
    the time to outgrowth."""
    sites = _site_names(tree)
    ncols = min(4, len(sites))
    nrows = math.ceil(len(sites) / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(3.6 * ncols, 2.9 * nrows), layout="constrained", squeeze=False
    )
    detect = json.loads(tree.attrs["parameters"])["dtc"]["detection_cells"]
    for k, site in enumerate(sites):
        ax = axes[k // ncols][k % ncols]
        ds = tree[site].dataset
        ax.semilogy(ds["time"], np.maximum(ds["dtc_dormant_total"], 1e-1), label="dormant")
        ax.semilogy(
            ds["time"], np.maximum(ds["dtc_proliferating_total"], 1e-1), label="proliferating"
        )
        ax.axhline(detect, color="r", lw=0.8, label="detection size")
        t_out = float(ds["time_to_outgrowth_days"])
        if math.isfinite(t_out):
            ax.axvline(t_out, color="r", ls=":", lw=0.8)
        when = f"outgrowth day {t_out:.0f}" if math.isfinite(t_out) else "no outgrowth"
        ax.set_title(f"{site}: {when}", fontsize=9)
        ax.set_xlabel(label(ds["time"]))
        ax.set_ylabel("DTCs in the organ (cells)")
        _mark_events(ax, tree)
    axes[0][0].legend(fontsize=7)
    for k in range(len(sites), nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)
    fig.suptitle("DTC fate per site")
    return fig


def plot_result(
    tree: xr.DataTree,
    fields_to_map: tuple[str, ...] = MAP_FIELDS,
    sites: list[str] | None = None,
) -> plt.Figure:
    """Multi-panel figure: last-time fields per site (rows), then systemic and site time courses."""
    sites = sites or _site_names(tree)
    with_fields = all("oxygen" in tree[s].dataset for s in sites)
    ncols = len(fields_to_map)
    nrows = (len(sites) if with_fields else 0) + 1
    fig = plt.figure(figsize=(3.2 * ncols, 2.8 * nrows), layout="constrained")
    grid = fig.add_gridspec(nrows, ncols)
    if with_fields:
        for row, site in enumerate(sites):
            ds = tree[site].dataset
            for col, name in enumerate(fields_to_map):
                _field_panel(fig.add_subplot(grid[row, col]), ds, name, fig)
    _time_courses(tree, sites, fig, grid[nrows - 1, :])
    fig.suptitle(
        f"fields {tree.attrs.get('fields_version', '')}: {tree.attrs.get('geometry', '')} "
        f"geometry, seed {tree.attrs.get('seed', '')}"
    )
    return fig


def _mark_events(ax: plt.Axes, tree: xr.DataTree) -> None:
    for t, text in json.loads(tree.attrs.get("events", "[]")):
        ax.axvline(t, color="grey", lw=0.8, ls="--")
        ax.text(
            t,
            1.0,
            f" {text}",
            rotation=90,
            va="top",
            ha="left",
            fontsize=6,
            transform=ax.get_xaxis_transform(),
            color="grey",
        )


def _time_courses(tree: xr.DataTree, sites: list[str], fig: plt.Figure, slot) -> None:
    sub = slot.subgridspec(1, 4)
    root = tree.dataset
    axes = [fig.add_subplot(sub[0, i]) for i in range(4)]
    ax = axes[0]
    ax.semilogy(root["time"], root["tumour_cells"], color="k")
    ax.set_ylabel(short_label(root["tumour_cells"]))
    ax.set_title("primary tumour", fontsize=9)
    ax = axes[1]
    ax.plot(root["time"], root["plasma_vegf"], label="VEGF-A")
    ax.plot(root["time"], root["plasma_tgfb"], label="TGF-beta")
    ax.set_ylabel("plasma concentration (pg/mL)")
    ax.set_title("plasma factors", fontsize=9)
    ax.legend(fontsize=7)
    for site in sites:
        ds = tree[site].dataset
        axes[2].plot(ds["time"], ds["niche_fraction"], label=site)
        total = ds["dtc_proliferating_total"] + ds["dtc_dormant_total"]
        line = axes[3].semilogy(
            ds["time"], np.maximum(ds["dtc_proliferating_total"], 1e-1), label=f"{site} P"
        )
        axes[3].semilogy(
            ds["time"],
            np.maximum(total - ds["dtc_proliferating_total"], 1e-1),
            ls=":",
            color=line[0].get_color(),
        )
    axes[2].set_ylabel(short_label(tree[sites[0]].dataset["niche_fraction"]))
    axes[2].set_title("niche fraction per site", fontsize=9)
    axes[2].legend(fontsize=6)
    axes[3].set_ylabel("DTCs in organ (cells)")
    axes[3].set_title("DTCs: proliferating (solid), dormant (dotted)", fontsize=9)
    axes[3].axhline(
        json.loads(tree.attrs["parameters"])["dtc"]["detection_cells"], color="r", lw=0.8
    )
    axes[3].legend(fontsize=6)
    for ax in axes:
        ax.set_xlabel(label(root["time"]))
        _mark_events(ax, tree)


# ---------------------------------------------------------------------------------- sweeps
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
        f"{ds[output].attrs.get('long_name', '')}",
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


def save_figure(fig: plt.Figure, path: str, dpi: int = 110) -> None:
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
