"""Figures (issue 6): every axes has a title and labels with units; colour bars carry units."""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest

import fields
from fields import plot
from fields.experiments import study_from_dict, sweep

UNITS = re.compile(r"\(([^()]+)\)\s*$")  # "... (unit)" at the end of a label
CATEGORICAL = {"varied parameter"}


def assert_labelled(fig: plt.Figure) -> None:
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert visible
    for ax in visible:
        if hasattr(ax, "_colorbar"):
            assert UNITS.search(ax.get_ylabel() or ax.get_xlabel()), "colour bar without units"
            continue
        assert ax.get_title(), "axes without a title"
        for text in (ax.get_xlabel(), ax.get_ylabel()):
            assert text, f"unlabelled axis in {ax.get_title()!r}"
            assert text in CATEGORICAL or UNITS.search(text), f"no units in {text!r}"
    plt.close(fig)


@pytest.fixture(scope="module")
def runs():
    p = fields.Parameters().with_updates(
        {"geometry.domain_um": 200.0, "geometry.domain_3d_um": 60.0, "primary.resection_day": 200}
    )
    kw = {"sites": ["lung", "liver"], "days": 400, "output_every_days": 100}
    return {g: fields.simulate(p, geometry=g, **kw) for g in ("2d", "krogh", "3d")}


@pytest.mark.parametrize("geometry", ["2d", "krogh", "3d"])
def test_run_figures_are_labelled(runs, geometry):
    tree = runs[geometry]
    assert_labelled(plot.plot_result(tree))
    assert_labelled(plot.plot_maps(tree, "lung", times=[0, 200, 400]))
    assert_labelled(plot.plot_time_courses(tree))
    assert_labelled(plot.plot_dtc_fate(tree))


def test_maps_need_stored_fields():
    tree = fields.simulate(sites=["lung"], geometry="krogh", days=30, store_fields=False)
    with pytest.raises(ValueError, match="no stored fields"):
        plot.plot_maps(tree, "lung")


def test_sweep_figures_are_labelled():
    grid = study_from_dict(
        {
            "study": {
                "name": "g",
                "sites": ["lung"],
                "geometry": "krogh",
                "days": 365.0,
                "output_every_days": 73.0,
                "outputs": ["dtc_proliferating_total", "time_to_outgrowth_days"],
            },
            "parameters": {"primary": {"initial_cells": 1e10}},
            "vary": {
                "primary.tvdt_days": {"values": [80.0, 160.0]},
                "dtc.proliferating_death_per_day": {"values": [0.002, 0.004]},
            },
        }
    )
    ds = sweep(grid, workers=0, progress=False)
    assert_labelled(
        plot.plot_outcome_vs_parameter(ds, "dtc_proliferating_total", "primary.tvdt_days")
    )
    assert_labelled(
        plot.plot_outcome_vs_parameter(ds, "time_to_outgrowth_days", "primary.tvdt_days")
    )
    assert_labelled(
        plot.plot_heatmap(
            ds, "dtc_proliferating_total", "primary.tvdt_days", "dtc.proliferating_death_per_day"
        )
    )
    assert_labelled(plot.plot_series_by_run(ds, "dtc_proliferating_total", "primary.tvdt_days"))
    sob = sweep(
        study_from_dict(
            {
                "study": {
                    "name": "s",
                    "sites": ["lung"],
                    "geometry": "krogh",
                    "days": 200.0,
                    "sampling": "sobol",
                    "samples": 4,
                    "outputs": ["dtc_proliferating_total"],
                },
                "vary": {
                    "primary.tvdt_days": {"distribution": "uniform", "low": 80, "high": 160},
                    "dtc.proliferating_death_per_day": {
                        "distribution": "uniform",
                        "low": 0.002,
                        "high": 0.004,
                    },
                },
                "sensitivity": {"outputs": ["dtc_proliferating_total"]},
            }
        ),
        workers=0,
        progress=False,
    )
    assert_labelled(plot.plot_sobol(sob))
