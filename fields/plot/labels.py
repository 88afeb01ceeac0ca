"""Axis labels from CF attributes, and saving figures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt
import xarray as xr


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


def save_figure(fig: plt.Figure, path: str, dpi: int = 110) -> None:
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
