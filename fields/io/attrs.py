"""CF attributes (units, long_name) of every output variable; species attributes come from data."""

from __future__ import annotations

from fields.parameters import Parameters

#: name -> (units, long_name). Units follow CF/udunits spelling.
ATTRS: dict[str, tuple[str, str]] = {
    "time": ("day", "time since the start of the simulation"),
    "x": ("um", "x position in the tissue patch"),
    "y": ("um", "y position in the tissue patch"),
    "z": ("um", "z position in the tissue patch"),
    "r": ("um", "radial distance from the capillary axis"),
    "tumour_cells": ("1", "primary tumour cells"),
    "tumour_diameter_mm": ("mm", "primary tumour diameter (sphere of equal volume)"),
    "dissemination_rate": ("day-1", "tumour cells shed into the blood per day"),
    "oxygen": ("mmHg", "tissue oxygen partial pressure"),
    "hypoxia": ("1", "hypoxia response H(O) in [0, 1]"),
    "lox": ("1", "lysyl oxidase activity (a.u., 1 at full hypoxia)"),
    "stiffness": ("kPa", "ECM Young's modulus"),
    "niche": ("1", "pre-metastatic niche level in [0, 1]"),
    "dtc_dormant": ("mm-3", "dormant DTC density (cells per mm^3)"),
    "dtc_proliferating": ("mm-3", "activated solitary DTC density (cells per mm^3)"),
    "vessel": ("1", "capillary mask (1: cell holds or touches a capillary)"),
    "hypoxic_fraction": ("1", "tissue volume fraction below the hypoxia threshold"),
    "mean_stiffness": ("kPa", "patch-mean ECM stiffness"),
    "niche_fraction": ("1", "tissue volume fraction with niche level >= 0.5"),
    "dtc_dormant_total": ("1", "dormant solitary DTCs in the whole organ (cells)"),
    "dtc_proliferating_total": ("1", "activated solitary DTCs in the whole organ (cells)"),
    "time_to_outgrowth_days": (
        "day",
        "first time P(detectable metastasis in the organ) reaches 0.5 (NaN: never)",
    ),
    "expected_detectable_lesions": (
        "1",
        "expected number of lesions at or above the detection size",
    ),
    "p_detectable_metastasis": (
        "1",
        "probability of at least one detectable metastasis in the organ (Poisson)",
    ),
    "metastasis_cells": ("1", "expected tumour cells in the organ's metastases"),
    "founded_lesions": ("1", "expected lesions founded in the organ so far"),
    "lesion_density": ("1", "expected lesions per unit ln(cells) (lesion size density)"),
    "lesion_size": ("1", "lesion size in cells (geometric centre of a log-size bin)"),
    "p_metastatic": ("1", "probability of at least one detectable metastasis anywhere"),
    "metastatic_burden_cells": ("1", "expected tumour cells in all metastases"),
    "diagnosis_day": ("day", "day of diagnosis of the primary, taken as its resection (NaN: none)"),
    "resection_day": ("day", "day of resection of the primary (NaN: not resected)"),
    "death_day": (
        "day",
        "first day the total tumour burden reaches the lethal burden (NaN: not within the run)",
    ),
}


def species_attrs(p: Parameters) -> dict[str, tuple[str, str]]:
    """Attributes of each declared factor's tissue field and plasma series."""
    out: dict[str, tuple[str, str]] = {}
    for name, s in p.species.items():
        out[name] = (s.units, f"interstitial {s.long_name} concentration")
        out[f"plasma_{name}"] = (s.units, f"plasma {s.long_name} concentration")
    return out


def attrs_for(p: Parameters) -> dict[str, tuple[str, str]]:
    """Every output variable's (units, long_name) for a run with parameters ``p``."""
    return {**ATTRS, **species_attrs(p)}
