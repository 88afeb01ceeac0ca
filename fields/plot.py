"""Matplotlib figures of a result. Labels come from each variable's long_name and units."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

MAP_FIELDS = ("oxygen", "vegf", "tgfb", "stiffness", "niche", "dtc_proliferating")


def label(da: xr.DataArray) -> str:
    """'long name (units)' from CF attributes."""
    units = da.attrs.get("units", "")
    name = (
        da.name if da.name in ("x", "y", "z", "r", "time") else da.attrs.get("long_name", da.name)
    )
    return f"{name} ({units})" if units and units != "1" else str(name)


def _site_names(tree: xr.DataTree) -> list[str]:
    return [name for name in tree.children]


def _field_panel(ax: plt.Axes, ds: xr.Dataset, name: str, fig: plt.Figure) -> None:
    da = ds[name].isel(time=-1)
    if "z" in da.dims:
        da = da.isel(z=da.sizes["z"] // 2)
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
        cbar.set_label(f"{name} ({da.attrs.get('units', '')})")
    else:
        ax.plot(ds["r"], da)
        ax.set_xlabel(label(ds["r"]))
        ax.set_ylabel(label(da))
    ax.set_title(f"{ds.attrs.get('site', '')}: {name}, day {float(ds['time'][-1]):g}", fontsize=9)


def plot_result(tree: xr.DataTree, fields_to_map: tuple[str, ...] = MAP_FIELDS) -> plt.Figure:
    """Multi-panel figure: last-time fields per site (rows), then systemic and site time courses."""
    sites = _site_names(tree)
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
    ax.set_ylabel(label(root["tumour_cells"]))
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
    axes[2].set_ylabel(label(tree[sites[0]].dataset["niche_fraction"]))
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


def save_figure(fig: plt.Figure, path: str) -> None:
    fig.savefig(path, dpi=110)
    plt.close(fig)
