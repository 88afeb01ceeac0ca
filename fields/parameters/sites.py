"""The schema of an organ site: the "soil" a distant organ offers to disseminated tumour cells.

A site is a representative tissue patch. Its data file (``fields/parameters/data/sites/``) gives
vascular geometry and oxygenation, matrix stiffness, organ volume (to scale patch integrals to
the organ), vessel permeability (the blood-brain barrier), resident factor release, the blood
that brings circulating tumour cells to it and how many of the cells arrested there survive
(:func:`fields.model.dissemination.arrest_shares`), how hostile it is to DTCs and how far
outgrowth can co-opt vessels, each value with its source.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fields.parameters.spec import REQUIRED, param


@dataclass(frozen=True)
class SiteParameters:
    """Parameters of one organ site. Values come from its data file."""

    capillary_spacing_um: float = param(
        REQUIRED, "um", "", lo=1.0, lo_open=True, doc="mean intercapillary distance"
    )
    vessel_po2_mmhg: float = param(REQUIRED, "mmHg", "", lo=0.0, doc="capillary blood pO2")
    o2_uptake_mmhg_per_s: float = param(
        REQUIRED, "mmHg/s", "", lo=0.0, doc="maximal tissue O2 consumption (Michaelis-Menten)"
    )
    baseline_stiffness_kpa: float = param(
        REQUIRED, "kPa", "", lo=0.0, lo_open=True, doc="healthy ECM Young's modulus"
    )
    organ_volume_ml: float = param(
        REQUIRED, "mL", "", lo=0.0, lo_open=True, doc="organ volume for scaling"
    )
    permeability_factor: float = param(
        REQUIRED, "1", "", lo=0.0, doc="vessel permeability to the factors vs healthy"
    )
    blood_flow_fraction: float = param(
        REQUIRED,
        "1",
        "",
        lo=0.0,
        hi=1.0,
        doc="share of the blood reaching the organ's capillaries (systemic: of cardiac output)",
    )
    arrest_survival: float = param(
        REQUIRED,
        "1",
        "",
        lo=0.0,
        hi=1.0,
        doc="share of the cells arrested in its capillaries that survive as DTCs",
    )
    dtc_hostility: float = param(
        REQUIRED, "1", "", lo=0.0, doc="multiplier of DTC death rates (poor soil > 1)"
    )
    vessel_cooption: float = param(
        REQUIRED, "1", "", lo=0.0, hi=1.0, doc="outgrowth independent of VEGF (co-option)"
    )
    avascular_limit_mm: float = param(
        REQUIRED,
        "mm",
        "",
        lo=0.0,
        lo_open=True,
        doc="lesion diameter beyond which growth needs angiogenesis or co-opted vessels",
    )
    capillary_bed: str = param(
        "systemic",
        "1",
        "definition: 'pulmonary' (the first bed of venous blood) or 'systemic'",
        confidence="definition",
        kind=str,
        choices=("pulmonary", "systemic"),
        doc="which circulation feeds the organ's capillaries",
    )
    resident_secretion_pg_per_ml_per_s: Mapping[str, float] = param(
        {},
        "pg/mL/s",
        "definition: no resident release unless the site's data declares one",
        confidence="definition",
        lo=0.0,
        kind=dict,
        doc="factor released by resident matrix or cells, by species",
    )
