"""Shared fixtures: small simulations run once and shared by every test that needs them."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest

import fields

ALL_SITES = list(fields.SITE_NAMES)


@pytest.fixture(scope="session")
def krogh_all_sites():
    """Acceptance run: all seven sites, krogh, ten years."""
    return fields.simulate(
        fields.Parameters(), sites=ALL_SITES, days=3650, geometry="krogh", output_every_days=90
    )


@pytest.fixture(scope="session")
def run_2d():
    """Acceptance run: lung and bone marrow, 2d, one year."""
    return fields.simulate(
        fields.Parameters(),
        sites=["lung", "bone_marrow"],
        days=365,
        geometry="2d",
        output_every_days=73,
    )


@pytest.fixture(scope="session")
def small_2d_params():
    """A 300 x 300 um patch for quick 2d tests."""
    return fields.Parameters().with_updates({"geometry.domain_um": 300.0})


CONVERGENCE_KEY = pytest.StashKey[list]()


@pytest.fixture(scope="session")
def convergence_report(request):
    """Lines printed in the terminal summary of every run."""
    return request.config.stash.setdefault(CONVERGENCE_KEY, [])


def pytest_terminal_summary(terminalreporter, config):
    """Print the measured convergence orders after every run, not only under -s."""
    lines = config.stash.get(CONVERGENCE_KEY, [])
    if lines:
        terminalreporter.section("measured convergence orders")
        for line in lines:
            terminalreporter.write_line(line)
