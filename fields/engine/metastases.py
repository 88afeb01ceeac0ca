"""The lesions of one organ site: cohorts of expected lesions growing in log size (days, cells).

Wraps :mod:`fields.model.lesions` with the site's state: the cohorts' log sizes and expected
counts, the lesions founded so far, and the detection and avascular sizes of the site.
"""

from __future__ import annotations

import math

import numpy as np

from fields.model import lesions
from fields.parameters import Parameters, SiteParameters


class SiteLesions:
    """Expected lesions of one site, as cohorts (log size, expected number)."""

    def __init__(self, site: SiteParameters, p: Parameters) -> None:
        self.p = p.lesions
        excess = max(site.dtc_hostility - 1.0, 0.0)  # a permissive soil clears none
        self.clearance = p.lesions.micrometastasis_clearance_per_day * excess
        per_mm3 = p.primary.cells_per_mm3
        self.detect = lesions.log_cells_at_diameter(self.p.detection_diameter_mm, per_mm3)
        self.switch = lesions.log_cells_at_diameter(site.avascular_limit_mm, per_mm3)
        self.edges = lesions.size_edges(self.p)
        self.lo = np.zeros(0)  # ln(cells) of the smallest lesions of each cohort
        self.hi = np.zeros(0)  # ln(cells) of the largest lesions of each cohort
        self.count = np.zeros(0)  # expected lesions in each cohort
        self.founded = 0.0  # expected lesions founded so far
        # settled cohorts (wholly detectable and past the avascular limit), as clock keys
        self.level = max(self.detect, self.switch)
        self.ln_k = math.log(self.p.carrying_capacity_cells)
        self.settled_lo = np.zeros(0)
        self.settled_hi = np.zeros(0)
        self.settled_count = np.zeros(0)
        self.settled_total = 0.0  # their expected lesions, all detectable
        self.clock = 0.0

    #: the state a checkpoint keeps: arrays, then floats
    STATE = ("lo", "hi", "count", "settled_lo", "settled_hi", "settled_count")
    SCALARS = ("founded", "settled_total", "clock")

    def step(self, dt: float, founded: float, support: float) -> None:
        """Clear micrometastases, grow every cohort over dt days with ``support`` beyond the
        avascular limit, and add the ``founded`` lesions of this step as a new cohort."""
        if self.clearance > 0.0 and self.count.size:  # micrometastases regress
            small = self.hi < self.switch
            self.count[small] *= np.exp(-self.clearance * dt)
        n = self.count.size
        # one exact growth map for both ends of every cohort, and for a lesion founded at the
        # start of the step (the largest of the new cohort; the smallest, founded at the end,
        # has one cell)
        ends = lesions.grow(
            np.concatenate((self.lo, self.hi, [0.0])), dt, support, self.switch, self.p
        )
        self.lo, self.hi = ends[:n], ends[n : 2 * n]
        self.clock += lesions.clock_increment(dt, support, self.p)
        if founded > 0.0:
            self.lo = np.append(self.lo, 0.0)
            self.hi = np.append(self.hi, ends[-1])
            self.count = np.append(self.count, founded)
            self.founded += founded
        self._settle()
        if self.count.size > self.p.max_cohorts:
            self.lo, self.hi, self.count = lesions.merge_closest(
                self.lo, self.hi, self.count, self.p.max_cohorts
            )

    def _settle(self) -> None:
        """Move the cohorts now wholly at or beyond ``level`` to the settled store, in order,
        while it has room (a cohort left active is exact too, only not free)."""
        room = self.p.max_cohorts + 1 - self.settled_count.size
        move = np.nonzero(self.lo >= self.level)[0][:room]
        if move.size == 0:
            return
        self.settled_lo = np.append(
            self.settled_lo,
            lesions.settle_key(self.lo[move], self.clock, self.ln_k, self.p.growth_law),
        )
        self.settled_hi = np.append(
            self.settled_hi,
            lesions.settle_key(self.hi[move], self.clock, self.ln_k, self.p.growth_law),
        )
        self.settled_count = np.append(self.settled_count, self.count[move])
        for c in self.count[move]:  # in order, as the batch does
            self.settled_total += c
        stay = np.ones(self.count.size, dtype=bool)
        stay[move] = False
        self.lo, self.hi, self.count = self.lo[stay], self.hi[stay], self.count[stay]

    def guarded(self) -> tuple[np.ndarray, np.ndarray]:
        """(sizes, counts) the lesion guard checks: the active cohorts, with the clock and the
        settled total (the settled keys and counts were checked when they settled)."""
        return np.append(self.hi, self.clock), np.append(self.count, self.settled_total)

    def settled_sizes(self) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi) log sizes of the settled cohorts now (ln cells)."""
        return (
            lesions.settled_size(self.settled_lo, self.clock, self.ln_k, self.p.growth_law),
            lesions.settled_size(self.settled_hi, self.clock, self.ln_k, self.p.growth_law),
        )

    def cohorts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(lo, hi, count) of every cohort, active then settled."""
        lo, hi = self.settled_sizes()
        return (
            np.concatenate((self.lo, lo)),
            np.concatenate((self.hi, hi)),
            np.concatenate((self.count, self.settled_count)),
        )

    def expected_detectable(self) -> float:
        """Expected lesions at or above the detection size."""
        return self.settled_total + lesions.expected_above(
            self.lo, self.hi, self.count, self.detect
        )

    def series(self) -> dict[str, float]:
        """The site's lesion series now."""
        expected = self.expected_detectable()
        return {
            "expected_detectable_lesions": expected,
            "p_detectable_metastasis": -math.expm1(-expected),
            "metastasis_cells": lesions.cells(*self.cohorts()),
            "founded_lesions": self.founded,
        }

    def density(self) -> np.ndarray:
        """Lesions per unit ln(cells) on the output size grid."""
        return lesions.density(*self.cohorts(), self.edges)

    def centres(self) -> np.ndarray:
        """Geometric bin centres of the output size grid (cells)."""
        return np.exp(0.5 * (self.edges[:-1] + self.edges[1:]))
