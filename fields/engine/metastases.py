"""The lesions of one organ site for every run of a batch: cohorts of expected lesions growing
in log size (days, cells), in (runs, capacity) arrays.

Wraps :mod:`fields.model.lesions` with the site's state: each cohort's smallest and largest log
size and expected count, the lesions founded so far, and the detection and avascular sizes of
the site. Row r holds run r's cohorts in its first ``filled[r]`` columns, oldest first, so a run
evolves as it would alone; empty columns carry zero lesions and add nothing to any sum. Cohorts
wholly detectable and past the avascular limit settle: they are kept as keys on a growth clock,
which is exact for their growth law and costs nothing per step.
"""

from __future__ import annotations

import numpy as np

from fields.model import lesions
from fields.numerics import kernels, lesion_kernels
from fields.parameters import Parameters


class SiteLesions:
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
        # settled cohorts (wholly detectable and past the avascular limit), keyed on a clock
        self.level = _column(np.maximum(self.detect, self.switch), runs)
        self.law = 0 if self.p.growth_law == "exponential" else 1
        self.ln_k = _column(np.log(self.p.carrying_capacity_cells), runs)
        self.settled_lo = np.zeros((runs, self.keep + 1))
        self.settled_hi = np.zeros((runs, self.keep + 1))
        self.settled_count = np.zeros((runs, self.keep + 1))
        self.settled_filled = np.zeros(runs, dtype=int)
        self.settled_total = np.zeros(runs)
        # the key of the largest settled lesion: the smallest key (Gompertz) or the largest
        self.settled_best = np.full(runs, np.inf if self.law else -np.inf)
        self.clock = np.zeros(runs)
        self._ok: np.ndarray | None = None  # finite rows, from the last compiled series

    #: the per-run arrays a batch checkpoint keeps
    STATE = (
        "lo",
        "hi",
        "count",
        "filled",
        "founded",
        "settled_lo",
        "settled_hi",
        "settled_count",
        "settled_filled",
        "settled_total",
        "settled_best",
        "clock",
    )

    def take(self, keep: np.ndarray, p: Parameters, site_name: str) -> None:
        """Keep the runs ``keep`` (indices), with the parameters of the smaller batch."""
        # the cohort arrays are copied only as far as a row uses them (the rest is zeros)
        width = {
            "": int(self.filled.max(initial=0)),
            "settled_": int(self.settled_filled.max(initial=0)),
        }
        kept = {}
        for key in self.STATE:
            value = getattr(self, key)
            if value.ndim == 2 and value.shape[1] > 1:
                used = width["settled_" if key.startswith("settled_") else ""]
                kept[key] = np.zeros((keep.size, value.shape[1]))
                kept[key][:, :used] = value[keep, :used]
            else:
                kept[key] = value[keep]
        self.__init__(site_name, p, int(keep.size))
        for key, value in kept.items():
            setattr(self, key, value)

    def _active(self) -> tuple:
        return self.lo, self.hi, self.count, self.filled

    def _settled(self) -> tuple:
        return (
            self.settled_lo,
            self.settled_hi,
            self.settled_count,
            self.settled_filled,
            self.settled_total,
            self.settled_best,
            self.clock,
            self.ln_k,
            self.law,
        )

    def step(
        self,
        dt: np.ndarray,
        founded: np.ndarray,
        support: np.ndarray,
        growth=1.0,
        kill=0.0,
    ) -> None:
        """Clear micrometastases, grow every cohort over dt days ((runs, 1)) with ``support``
        beyond the avascular limit, and add the ``founded`` lesions of this step as a new cohort
        (its largest lesion founded at the start of the step, its smallest at the end).
        ``growth``: the factor on every growth rate (endocrine therapy: a growth law is
        autonomous, so growing at a fraction of the rate for dt is growing for that fraction
        of dt); ``kill``: the log-kill rate of the cells of lesions not yet settled
        (chemotherapy, 1/day)."""
        dt_growth = dt * np.asarray(growth, dtype=float)
        used = int(self.filled.max(initial=0))
        lo, hi, count = self.lo[:, :used], self.hi[:, :used], self.count[:, :used]
        if self.clears and used:
            count[...] = np.where(hi < self.switch, count * np.exp(-self.clearance * dt), count)
        start = np.zeros((lo.shape[0], 1))
        if kernels.backend() == "numba":
            args = self._per_run(dt_growth, support)
            lesion_kernels.grow_log_sizes(self.lo, self.filled, *args)
            lesion_kernels.grow_log_sizes(self.hi, self.filled, *args)
            lesion_kernels.grow_log_sizes(start, np.ones(start.shape[0], dtype=np.int64), *args)
            newest = start[:, 0]
        else:
            ends = lesions.grow(
                np.concatenate((lo, hi, start), axis=1), dt_growth, support, self.switch, self.p
            )
            lo[...], hi[...] = ends[:, :used], ends[:, used : 2 * used]
            newest = ends[:, -1]
        self.clock += np.broadcast_to(
            lesions.clock_increment(dt_growth, support, self.p), (lo.shape[0], 1)
        )[:, 0]
        rows = np.nonzero(founded[:, 0] > 0.0)[0]
        cols = self.filled[rows]
        self.lo[rows, cols] = 0.0
        self.hi[rows, cols] = newest[rows]
        self.count[rows, cols] = founded[rows, 0]
        self.filled[rows] += 1
        self.founded[rows, 0] += founded[rows, 0]
        if np.any(np.asarray(kill) > 0.0):
            self._kill(np.broadcast_to(np.asarray(kill, dtype=float) * dt, founded.shape))
        if kernels.backend() == "numba":
            lesion_kernels.settle_rows(self._active(), self._settled(), self.level)
        else:
            self._settle_numpy()
        if (self.filled > self.keep).any():
            lesion_kernels.merge_rows(
                self.lo, self.hi, self.count, self.filled, self.keep, lesions.merge_closest
            )

    def _kill(self, shift: np.ndarray) -> None:
        """Log-kill of the active cohorts by ``shift`` (ln cells, (runs, 1)): every lesion
        loses that much log size; lesions below one cell are gone (the share of a cohort's
        lesions below it, its lesions spread evenly in log size)."""
        used = int(self.filled.max(initial=0))
        if not used:
            return
        inside = np.arange(used)[None, :] < self.filled[:, None]
        lo, hi = self.lo[:, :used] - shift, self.hi[:, :used] - shift
        width = hi - lo
        with np.errstate(divide="ignore", invalid="ignore"):
            left = np.where(width > 0.0, np.clip(hi / width, 0.0, 1.0), (hi > 0.0) * 1.0)
        count = self.count[:, :used] * np.where(hi > 0.0, left, 0.0)
        lo, hi = np.maximum(lo, 0.0), np.maximum(hi, 0.0)
        self.lo[:, :used] = np.where(inside, lo, self.lo[:, :used])
        self.hi[:, :used] = np.where(inside, hi, self.hi[:, :used])
        self.count[:, :used] = np.where(inside, count, self.count[:, :used])

    def _settle_numpy(self) -> None:
        """Move the cohorts wholly at or beyond ``level`` to the settled store, row by row and in
        order, while it has room (the reference of the compiled kernel)."""
        room = self.keep + 1 - self.settled_filled
        law = self.p.growth_law
        for r in range(self.lo.shape[0]):
            n = self.filled[r]
            move = np.nonzero(self.lo[r, :n] >= self.level[r])[0][: room[r]]
            if move.size == 0:
                continue
            k, m = self.settled_filled[r], move.size
            keys_lo = lesions.settle_key(self.lo[r, move], self.clock[r], self.ln_k[r], law)
            keys_hi = lesions.settle_key(self.hi[r, move], self.clock[r], self.ln_k[r], law)
            self.settled_lo[r, k : k + m] = keys_lo
            self.settled_hi[r, k : k + m] = keys_hi
            self.settled_count[r, k : k + m] = self.count[r, move]
            for c in self.count[r, move]:
                self.settled_total[r] += c
            pick = np.min if self.law else np.max  # the largest lesion's key
            self.settled_best[r] = pick(np.append(keys_hi, self.settled_best[r]))
            self.settled_filled[r] = k + m
            stay = np.ones(n, dtype=bool)
            stay[move] = False
            for a in (self.lo, self.hi, self.count):
                kept = a[r, :n][stay]
                a[r, :] = 0.0
                a[r, : kept.size] = kept
            self.filled[r] = n - m

    def guarded(self, r: int) -> tuple[np.ndarray, np.ndarray]:
        """Run r's (sizes, counts) the lesion guard checks: the active cohorts, with the clock
        and the settled total (the settled keys and counts were checked when they settled)."""
        n = self.filled[r]
        return (
            np.append(self.hi[r, :n], self.clock[r]),
            np.append(self.count[r, :n], self.settled_total[r]),
        )

    def settled_sizes(self, r: int) -> tuple[np.ndarray, np.ndarray]:
        """Run r's settled (lo, hi) log sizes now (ln cells)."""
        n = self.settled_filled[r]
        law, clock, ln_k = self.p.growth_law, self.clock[r], self.ln_k[r]
        return (
            lesions.settled_size(self.settled_lo[r, :n], clock, ln_k, law),
            lesions.settled_size(self.settled_hi[r, :n], clock, ln_k, law),
        )

    def cohorts(self, r: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Run r's (lo, hi, count) of every cohort, active then settled."""
        n, m = self.filled[r], self.settled_filled[r]
        lo, hi = self.settled_sizes(r)
        return (
            np.concatenate((self.lo[r, :n], lo)),
            np.concatenate((self.hi[r, :n], hi)),
            np.concatenate((self.count[r, :n], self.settled_count[r, :m])),
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
        total = lesion_kernels.lesion_sums(
            self._active(), self._settled(), detect, rows, lesions._WIDTH, True
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
        expected = (np.sum(count * above, axis=1) + self.settled_total)[:, None]
        total = np.array([lesions.cells(*self.cohorts(r)) for r in range(lo.shape[0])])
        return {
            "expected_detectable_lesions": expected,
            "p_detectable_metastasis": -np.expm1(-expected),
            "metastasis_cells": total[:, None],
            "founded_lesions": self.founded.copy(),
        }

    def _series_compiled(self, cells: np.ndarray | None) -> dict[str, np.ndarray]:
        runs = self.lo.shape[0]
        want = np.ones(runs, dtype=bool) if cells is None else np.asarray(cells, dtype=bool)
        detect = np.ascontiguousarray(np.broadcast_to(self.detect, (runs, 1))[:, 0], dtype=float)
        expected, total, top, self._ok = lesion_kernels.lesion_sums(
            self._active(), self._settled(), detect, want, lesions._WIDTH
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
        return lesions.density(*self.cohorts(r), edges)

    def finite(self) -> np.ndarray:
        """Rows whose cohorts are finite with non-negative counts (after :meth:`series`)."""
        if kernels.backend() == "numba" and self._ok is not None:
            return self._ok
        lo, hi, count = self._view()
        return (
            np.isfinite(self.clock)
            & np.isfinite(lo).all(axis=1)
            & np.isfinite(hi).all(axis=1)
            & np.isfinite(count).all(axis=1)
            & (count >= 0.0).all(axis=1)
        )


def _column(value, runs: int) -> np.ndarray:
    """A scalar or (runs, 1) parameter as a contiguous (runs,) array."""
    return np.ascontiguousarray(np.broadcast_to(value, (runs, 1))[:, 0], dtype=float)
