"""The lesions of one organ site for every run of a batch: cohorts in (runs, capacity) arrays.

Row r holds run r's cohorts in its first ``filled[r]`` columns, in the order
:class:`~fields.engine.metastases.SiteLesions` keeps them, so each run evolves exactly as alone;
empty columns carry zero lesions and add nothing to any sum.
"""

from __future__ import annotations

import numpy as np

from fields.model import lesions
from fields.numerics import kernels
from fields.parameters import Parameters


class BatchLesions:
    """Expected lesions of one site, per run (cohorts of log size and expected number)."""

    def __init__(self, site_name: str, p: Parameters, runs: int) -> None:
        self.p = p.lesions
        site = p.sites[site_name]
        excess = np.maximum(site.dtc_hostility - 1.0, 0.0)
        self.clearance = p.lesions.micrometastasis_clearance_per_day * excess
        self.clears = bool(np.any(self.clearance > 0.0))
        per_mm3 = p.primary.cells_per_mm3
        self.detect = lesions.log_cells_at_diameter(self.p.detection_diameter_mm, per_mm3)
        self.switch = lesions.log_cells_at_diameter(site.avascular_limit_mm, per_mm3)
        self.keep = int(self.p.max_cohorts)
        self.lo = np.zeros((runs, self.keep + 1))
        self.hi = np.zeros((runs, self.keep + 1))
        self.count = np.zeros((runs, self.keep + 1))
        self.filled = np.zeros(runs, dtype=int)
        self.founded = np.zeros((runs, 1))
        self._ok: np.ndarray | None = None  # finite rows, from the last compiled series

    def take(self, keep: np.ndarray, p: Parameters, site_name: str) -> None:
        """Keep the runs ``keep`` (indices), with the parameters of the smaller batch."""
        lo, hi, count, filled, founded = (
            self.lo[keep],
            self.hi[keep],
            self.count[keep],
            self.filled[keep],
            self.founded[keep],
        )
        self.__init__(site_name, p, int(keep.size))
        self.lo, self.hi, self.count, self.filled, self.founded = lo, hi, count, filled, founded

    def step(self, dt: np.ndarray, founded: np.ndarray, support: np.ndarray) -> None:
        """Clear, grow and found, as :meth:`SiteLesions.step` does for one run."""
        used = int(self.filled.max(initial=0))
        lo, hi, count = self.lo[:, :used], self.hi[:, :used], self.count[:, :used]
        if self.clears and used:
            count[...] = np.where(hi < self.switch, count * np.exp(-self.clearance * dt), count)
        start = np.zeros((lo.shape[0], 1))
        if kernels.backend() == "numba":
            args = self._per_run(dt, support)
            kernels.grow_log_sizes(self.lo, self.filled, *args)
            kernels.grow_log_sizes(self.hi, self.filled, *args)
            kernels.grow_log_sizes(start, np.ones(start.shape[0], dtype=np.int64), *args)
            newest = start[:, 0]
        else:
            ends = lesions.grow(
                np.concatenate((lo, hi, start), axis=1), dt, support, self.switch, self.p
            )
            lo[...], hi[...] = ends[:, :used], ends[:, used : 2 * used]
            newest = ends[:, -1]
        rows = np.nonzero(founded[:, 0] > 0.0)[0]
        cols = self.filled[rows]
        self.lo[rows, cols] = 0.0
        self.hi[rows, cols] = newest[rows]
        self.count[rows, cols] = founded[rows, 0]
        self.filled[rows] += 1
        self.founded[rows, 0] += founded[rows, 0]
        if (self.filled > self.keep).any():
            kernels.merge_rows(
                self.lo, self.hi, self.count, self.filled, self.keep, lesions.merge_closest
            )

    def _per_run(self, dt: np.ndarray, support: np.ndarray) -> tuple:
        runs = dt.shape[0]

        def row(x) -> np.ndarray:
            return np.ascontiguousarray(np.broadcast_to(x, (runs, 1))[:, 0], dtype=float)

        law = 0 if self.p.growth_law == "exponential" else 1
        ln_k = np.log(self.p.carrying_capacity_cells)
        return row(dt), row(support), row(self.switch), row(lesions._rate(self.p)), row(ln_k), law

    def _view(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        used = int(self.filled.max(initial=0))
        return self.lo[:, :used], self.hi[:, :used], self.count[:, :used]

    def cells(self, rows: np.ndarray) -> np.ndarray:
        """The lesion cells of the runs ``rows`` (bool), summed exactly; 0 elsewhere."""
        if kernels.backend() != "numba":
            return np.where(rows[:, None], self.series()["metastasis_cells"], 0.0)
        runs = self.lo.shape[0]
        detect = np.ascontiguousarray(np.broadcast_to(self.detect, (runs, 1))[:, 0], dtype=float)
        total = kernels.lesion_sums(
            self.lo, self.hi, self.count, self.filled, detect, rows, lesions._WIDTH, True
        )[1]
        return total[:, None]

    def series(self, cells: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Each run's lesion series now, as (runs, 1) arrays. With the compiled kernels, the
        lesion cells are summed only for the rows where ``cells`` is true (elsewhere they are
        an upper bound: the lesions founded times the largest size)."""
        if kernels.backend() == "numba":
            return self._series_compiled(cells)
        lo, hi, count = self._view()
        above = 1.0 - lesions.fraction_below(self.detect, lo, hi)
        expected = np.sum(count * above, axis=1, keepdims=True)
        width = hi - lo
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            mean = np.where(
                width > lesions._WIDTH, np.exp(lo) * np.expm1(width) / width, np.exp(lo)
            )
        return {
            "expected_detectable_lesions": expected,
            "p_detectable_metastasis": -np.expm1(-expected),
            "metastasis_cells": np.sum(count * mean, axis=1, keepdims=True),
            "founded_lesions": self.founded.copy(),
        }

    def _series_compiled(self, cells: np.ndarray | None) -> dict[str, np.ndarray]:
        runs = self.lo.shape[0]
        want = np.ones(runs, dtype=bool) if cells is None else np.asarray(cells, dtype=bool)
        detect = np.ascontiguousarray(np.broadcast_to(self.detect, (runs, 1))[:, 0], dtype=float)
        expected, total, top, self._ok = kernels.lesion_sums(
            self.lo, self.hi, self.count, self.filled, detect, want, lesions._WIDTH
        )
        with np.errstate(over="ignore"):
            bound = self.founded[:, 0] * np.exp(top)
        total = np.where(want, total, np.where(self.filled > 0, bound, 0.0))
        expected = expected[:, None]
        return {
            "expected_detectable_lesions": expected,
            "p_detectable_metastasis": -np.expm1(-expected),
            "metastasis_cells": total[:, None],
            "founded_lesions": self.founded.copy(),
        }

    def density(self, r: int, edges: np.ndarray) -> np.ndarray:
        """Run r's lesions per unit ln(cells) on the output size grid."""
        n = self.filled[r]
        return lesions.density(self.lo[r, :n], self.hi[r, :n], self.count[r, :n], edges)

    def finite(self) -> np.ndarray:
        """Rows whose cohorts are finite with non-negative counts (after :meth:`series`)."""
        if kernels.backend() == "numba" and self._ok is not None:
            return self._ok
        lo, hi, count = self._view()
        return (
            np.isfinite(lo).all(axis=1)
            & np.isfinite(hi).all(axis=1)
            & np.isfinite(count).all(axis=1)
            & (count >= 0.0).all(axis=1)
        )
