"""The names the engine records: per-voxel fields, per-site series and systemic series.

The diffusing factors are data, so the names depend on the declared species: a factor X adds a
field ``X`` (interstitial concentration) and a systemic series ``plasma_X``.
"""

from __future__ import annotations

from collections.abc import Iterable

#: Per-site time series (organ-scaled or patch means).
SITE_SERIES = (
    "hypoxic_fraction",
    "mean_stiffness",
    "niche_fraction",
    "dtc_dormant_total",
    "dtc_proliferating_total",
    "expected_detectable_lesions",
    "p_detectable_metastasis",
    "metastasis_cells",
    "founded_lesions",
)
#: Systemic series that sum over the sites (patient-level outcomes).
PATIENT_SERIES = ("p_metastatic", "expected_detectable_lesions", "metastatic_burden_cells")
#: Per-voxel state that is not a species, after oxygen and the species.
LOCAL_FIELDS = ("hypoxia", "lox", "stiffness", "niche", "dtc_dormant", "dtc_proliferating")


def field_names(species: Iterable[str]) -> tuple[str, ...]:
    """Per-voxel fields in output order: oxygen, the species, then the local state."""
    return ("oxygen", *species, *LOCAL_FIELDS)


def systemic_names(species: Iterable[str]) -> tuple[str, ...]:
    """Systemic series in output order."""
    return (
        "tumour_cells",
        "tumour_diameter_mm",
        *(f"plasma_{name}" for name in species),
        "dissemination_rate",
        *PATIENT_SERIES,
    )
