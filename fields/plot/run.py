"""Figures of one run: field maps, time courses, DTC fate. Labels come from each variable's
long_name and units; the diffusing factors drawn are those the run declared."""

from __future__ import annotations

import json
import math

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from fields.plot.labels import label, short_label


def species_of(tree: xr.DataTree) -> tuple[str, ...]:
    """The diffusing factors of a run: its ``species`` attribute, else its plasma series."""
    if "species" in tree.attrs:
        return tuple(name for name in tree.attrs["species"].split(",") if name)
    return tuple(
        str(v)[len("plasma_") :] for v in tree.dataset.data_vars if str(v).startswith("plasma_")
    )


def map_fields(tree: xr.DataTree) -> tuple[str, ...]:
    """The fields :func:`plot_result` draws: oxygen, the factors, stiffness, niche, DTCs."""
    return ("oxygen", *species_of(tree), "stiffness", "niche", "dtc_proliferating")


def site_map_fields(tree: xr.DataTree) -> tuple[str, ...]:
    """The fields :func:`plot_maps` draws: as :func:`map_fields`, with both DTC states."""
    return (*map_fields(tree)[:-1], "dtc_dormant", "dtc_proliferating")


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
    fields_to_map: tuple[str, ...] | None = None,
) -> plt.Figure:
    """Fields of one site at chosen output days (nearest stored output; default: the last), a
    row per time, capillaries overlaid in white, units on the colour bars."""
    fields_to_map = fields_to_map or site_map_fields(tree)
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
    """Per site: solitary DTCs (dormant, activated), expected lesions founded and detectable over
    time, and the day P(detectable metastasis) reaches 0.5."""
    sites = _site_names(tree)
    ncols = min(4, len(sites))
    nrows = math.ceil(len(sites) / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(3.6 * ncols, 2.9 * nrows), layout="constrained", squeeze=False
    )
    floor = 1e-4
    for k, site in enumerate(sites):
        ax = axes[k // ncols][k % ncols]
        ds = tree[site].dataset
        for name, text in (
            ("dtc_dormant_total", "dormant DTCs"),
            ("dtc_proliferating_total", "activated DTCs"),
            ("founded_lesions", "lesions founded"),
            ("expected_detectable_lesions", "detectable lesions"),
        ):
            ax.semilogy(ds["time"], np.maximum(ds[name], floor), label=text)
        t_out = float(ds["time_to_outgrowth_days"])
        if math.isfinite(t_out):
            ax.axvline(t_out, color="r", ls=":", lw=0.8)
        when = f"P >= 0.5 at day {t_out:.0f}" if math.isfinite(t_out) else "P < 0.5 throughout"
        ax.set_title(f"{site}: {when}", fontsize=9)
        ax.set_xlabel(label(ds["time"]))
        ax.set_ylabel("expected number in the organ (1)")
        _mark_events(ax, tree)
    axes[0][0].legend(fontsize=6)
    for k in range(len(sites), nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)
    fig.suptitle("DTC fate and metastases per site")
    return fig


def plot_result(
    tree: xr.DataTree,
    fields_to_map: tuple[str, ...] | None = None,
    sites: list[str] | None = None,
) -> plt.Figure:
    """Multi-panel figure: last-time fields per site (rows), then systemic and site time courses."""
    fields_to_map = fields_to_map or map_fields(tree)
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
    for name in species_of(tree):
        plasma = root[f"plasma_{name}"]
        ax.plot(root["time"], plasma, label=plasma.attrs["long_name"].replace(" concentration", ""))
    ax.set_ylabel(f"plasma concentration ({root[f'plasma_{species_of(tree)[0]}'].attrs['units']})")
    ax.set_title("plasma factors", fontsize=9)
    ax.legend(fontsize=7)
    for site in sites:
        ds = tree[site].dataset
        axes[2].plot(ds["time"], ds["niche_fraction"], label=site)
        axes[3].plot(ds["time"], ds["p_detectable_metastasis"], label=site)
    axes[3].plot(root["time"], root["p_metastatic"], color="k", lw=1.5, label="anywhere")
    axes[2].set_ylabel(short_label(tree[sites[0]].dataset["niche_fraction"]))
    axes[2].set_title("niche fraction per site", fontsize=9)
    axes[2].legend(fontsize=6)
    axes[3].set_ylabel("P(detectable metastasis) (1)")
    axes[3].set_title("detectable metastasis", fontsize=9)
    axes[3].legend(fontsize=6)
    for ax in axes:
        ax.set_xlabel(label(root["time"]))
        _mark_events(ax, tree)
