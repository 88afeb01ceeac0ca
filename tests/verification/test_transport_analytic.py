"""Transport verification against exact solutions, with measured convergence orders.

Each case solves through the project's own operator (``fields.transport``), on a refinement
series, and fits the order of the max-norm error; the finite-volume scheme is second order.
"""

from __future__ import annotations

import math

import fipy as fp
import numpy as np
import pytest
from scipy.special import k0

import fields
from fields.numerics.geometry import make_krogh
from fields.numerics.operator import DiffusionReactionOperator
from fields.numerics.oxygen import solve_oxygen

MIN_ORDER = 1.8


def fitted_order(h: list[float], err: list[float]) -> float:
    """Least-squares slope of log(error) against log(h)."""
    return float(np.polyfit(np.log(h), np.log(err), 1)[0])


class ConvergenceCase:
    """One exact solution; subclasses give the error at a resolution level."""

    name = ""
    levels: tuple[int, ...] = ()

    def error(self, n: int) -> tuple[float, float]:  # (h, max error)
        raise NotImplementedError

    def test_converges_at_second_order(self, convergence_report):
        results = [self.error(n) for n in self.levels]
        h = [r[0] for r in results]
        err = [r[1] for r in results]
        order = fitted_order(h, err)
        line = f"{self.name}: h = {h}, max error = {[f'{e:.3e}' for e in err]}, order = {order:.3f}"
        convergence_report.append(line)
        assert order >= MIN_ORDER
        assert err[-1] < err[0]


class TestDiffusionDecay1D(ConvergenceCase):
    """D u'' - k u = 0 on [0, L], u(0) = c0, u'(L) = 0: u = c0 cosh((L - x)/lam)/cosh(L/lam)."""

    name = "1D diffusion-decay"
    levels = (25, 50, 100, 200)
    D, k, L, c0 = 100.0, 1e-2, 1000.0, 3.0

    def error(self, n):
        mesh = fp.Grid1D(nx=n, dx=self.L / n)
        op = DiffusionReactionOperator(mesh, self.D, wall_faces=mesh.facesLeft)
        u = op.solve(self.k, 0.0, wall_value=self.c0)
        x = np.asarray(mesh.cellCenters[0])
        lam = math.sqrt(self.D / self.k)
        exact = self.c0 * np.cosh((self.L - x) / lam) / np.cosh(self.L / lam)
        return self.L / n, float(np.max(np.abs(u - exact)))


class TestLineSourceK0(ConvergenceCase):
    """D lap u - k u + Q delta = 0 in the plane: u = Q/(2 pi D) K0(r/lam), compared for lam < r < 3 lam.

    The source sits at a corner of a quarter domain (symmetry planes are no-flux faces), 8 lam wide
    so the far boundary's image contributes < 1e-6 relative.
    """

    name = "2D line source (K0)"
    levels = (40, 80, 160, 320)
    D, k, Q = 100.0, 1e-2, 1.0

    def error(self, n):
        lam = math.sqrt(self.D / self.k)
        side = 8.0 * lam
        h = side / n
        mesh = fp.Grid2D(nx=n, ny=n, dx=h, dy=h)
        source = np.zeros(n * n)
        source[0] = (
            self.Q / 4.0 / (h * h)
        )  # a quarter of the source, as a density in the corner cell
        u = DiffusionReactionOperator(mesh, self.D).solve(self.k, source)
        x, y = (np.asarray(c) for c in mesh.cellCenters)
        r = np.hypot(x, y)
        ring = (r > lam) & (r < 3.0 * lam)
        exact = self.Q / (2.0 * math.pi * self.D) * k0(r[ring] / lam)
        return h, float(np.max(np.abs(u[ring] - exact)) / np.max(exact))


class TestKroghZeroOrder(ConvergenceCase):
    """Krogh cylinder, zero-order uptake M0, O(r_c) = P0, O'(R) = 0:
    O = P0 + M0/(4D) (r^2 - r_c^2) - M0 R^2/(2D) ln(r/r_c). Solved with ``solve_oxygen`` (Km -> 0)."""

    name = "Krogh cylinder, zero-order uptake"
    levels = (10, 20, 40, 80)

    def error(self, n):
        p = fields.Parameters().with_updates(
            {
                "geometry.krogh_cells": n,
                "oxygen.km_mmhg": 1e-9,
                "sites.brain.capillary_spacing_um": 120.0,
                "sites.brain.o2_uptake_mmhg_per_s": 2.5,
            }
        )
        site = p.sites["brain"]
        patch = make_krogh(site, p.geometry)
        op = DiffusionReactionOperator(patch.mesh, p.oxygen.diffusivity_um2_per_s, patch.wall_faces)
        sol = solve_oxygen(op, patch, p.oxygen, site.vessel_po2_mmhg, site.o2_uptake_mmhg_per_s)
        r = patch.coords["r"]
        d, m0, p0 = (
            p.oxygen.diffusivity_um2_per_s,
            site.o2_uptake_mmhg_per_s,
            site.vessel_po2_mmhg,
        )
        rc, big_r = p.geometry.capillary_radius_um, site.capillary_spacing_um / 2.0
        exact = p0 + m0 / (4 * d) * (r**2 - rc**2) - m0 * big_r**2 / (2 * d) * np.log(r / rc)
        assert exact.min() > 1.0  # uptake stays zero-order (O >> Km) everywhere
        return (big_r - rc) / n, float(np.max(np.abs(sol.oxygen - exact)))


@pytest.mark.parametrize("mode", ["steady", "transient"])
def test_fast_path_agrees_with_plain_fipy(mode):
    """The reusable-factorisation path and FiPy's own eq.solve agree to 1e-8 relative."""
    p = fields.Parameters().with_updates({"geometry.domain_um": 400.0})
    from fields.numerics.geometry import make_patch

    patch = make_patch("2d", p.sites["bone_marrow"], p.geometry, seed=4)
    rng = np.random.default_rng(0)
    sink = rng.uniform(1e-4, 1e-3, patch.n_cells)
    source = rng.uniform(0.0, 1.0, patch.n_cells)
    previous = rng.uniform(0.0, 50.0, patch.n_cells)
    kwargs = {"dt": 3600.0, "previous": previous} if mode == "transient" else {}
    fast = DiffusionReactionOperator(patch.mesh, 104.0, solver="fast").solve(sink, source, **kwargs)
    ref = DiffusionReactionOperator(patch.mesh, 104.0, solver="fipy").solve(sink, source, **kwargs)
    assert np.max(np.abs(fast - ref)) / np.max(np.abs(ref)) < 1e-8
