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
        if founded > 0.0:
            self.lo = np.append(self.lo, 0.0)
            self.hi = np.append(self.hi, ends[-1])
            self.count = np.append(self.count, founded)
            self.founded += founded
        if self.count.size > self.p.max_cohorts:
            self.lo, self.hi, self.count = lesions.merge_closest(
                self.lo, self.hi, self.count, self.p.max_cohorts
            )

    def expected_detectable(self) -> float:
        """Expected lesions at or above the detection size."""
        return lesions.expected_above(self.lo, self.hi, self.count, self.detect)

    def series(self) -> dict[str, float]:
        """The site's lesion series now."""
        expected = self.expected_detectable()
        return {
            "expected_detectable_lesions": expected,
            "p_detectable_metastasis": -math.expm1(-expected),
            "metastasis_cells": lesions.cells(self.lo, self.hi, self.count),
            "founded_lesions": self.founded,
        }

    def density(self) -> np.ndarray:
        """Lesions per unit ln(cells) on the output size grid."""
        return lesions.density(self.lo, self.hi, self.count, self.edges)

    def centres(self) -> np.ndarray:
        """Geometric bin centres of the output size grid (cells)."""
        return np.exp(0.5 * (self.edges[:-1] + self.edges[1:]))
