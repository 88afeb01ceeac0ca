"""Matplotlib figures of runs and sweeps; every axis labelled with its units."""

from fields.plot.labels import label, save_figure, short_label
from fields.plot.run import (
    map_fields,
    plot_dtc_fate,
    plot_maps,
    plot_result,
    plot_time_courses,
    site_map_fields,
    species_of,
)
from fields.plot.sweep import (
    plot_heatmap,
    plot_outcome_vs_parameter,
    plot_series_by_run,
    plot_sobol,
)

__all__ = [
    "label",
    "map_fields",
    "plot_dtc_fate",
    "plot_heatmap",
    "plot_maps",
    "plot_outcome_vs_parameter",
    "plot_result",
    "plot_series_by_run",
    "plot_sobol",
    "plot_time_courses",
    "save_figure",
    "short_label",
    "site_map_fields",
    "species_of",
]
