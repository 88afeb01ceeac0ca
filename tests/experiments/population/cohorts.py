"""Small cohort-file documents shared by the cohort and calibration tests."""

from __future__ import annotations

DIAMETER = {"distribution": "uniform", "low": 10.0, "high": 30.0, "source": "x"}


def ratio_cohort(median: float, sigma: float, **meta) -> dict:
    """A one-site cohort whose metastasis TVDT is a log-normal ratio of the primary's."""
    return {
        "cohort": {"name": "x", "sites": ["lung"], **meta},
        "sample": {
            "primary.resection_diameter_mm": dict(DIAMETER),
            "primary.tvdt_days": {
                "distribution": "lognormal",
                "median": 150.0,
                "sigma": 1.0,
                "source": "x",
            },
            "lesions.tvdt_days": {
                "distribution": "lognormal",
                "median": median,
                "sigma": sigma,
                "source": "x",
                "times": "primary.tvdt_days",
            },
        },
    }
