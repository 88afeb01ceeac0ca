"""Organ-site presets: the "soil" each distant organ offers to disseminated tumour cells.

A site is a representative tissue patch (DESIGN 3.2). Its preset gives vascular geometry and
oxygenation, matrix stiffness, organ volume (to scale patch integrals to the organ), vessel
permeability (the blood-brain barrier), resident TGF-beta release, the share of disseminated cells
routed to it, and how hostile it is to DTCs. Sources: the seed texts in ``shared/seeds`` cited by
file name, papers by first author and year, or ``assumed`` with the reason.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from fields.spec import param

SITE_NAMES: tuple[str, ...] = (
    "lung",
    "liver",
    "bone_marrow",
    "brain",
    "lymph_node",
    "kidney",
    "spleen",
)


@dataclass(frozen=True)
class SiteParameters:
    """Parameters of one organ site. Units are in the field names and metadata."""

    capillary_spacing_um: float = param(
        50.0,
        "um",
        "assumed: typical tissue intercapillary distance 40-60 um",
        lo=1.0,
        lo_open=True,
        doc="mean intercapillary distance",
    )
    vessel_po2_mmhg: float = param(
        40.0,
        "mmHg",
        "assumed: physioxic capillary pO2 (PhysiCell 38 mmHg; Carreau et al. 2011 range)",
        lo=0.0,
        doc="capillary blood pO2",
    )
    baseline_stiffness_kpa: float = param(
        1.0,
        "kPa",
        "assumed: soft parenchyma ~1 kPa (Engler et al. 2006 range), recalled",
        lo=0.0,
        lo_open=True,
        doc="healthy ECM Young's modulus",
    )
    organ_volume_ml: float = param(
        1000.0,
        "mL",
        "assumed: adult organ of about a litre",
        lo=0.0,
        lo_open=True,
        doc="organ volume for scaling",
    )
    permeability_factor: float = param(
        1.0,
        "1",
        "assumed: continuous capillaries, the healthy reference (Stefanini et al. 2008)",
        lo=0.0,
        doc="vessel permeability to VEGF/TGF-beta vs healthy",
    )
    resident_tgfb_pg_per_ml_per_s: float = param(
        0.0,
        "pg/mL/s",
        "assumed: no resident release outside bone",
        lo=0.0,
        doc="TGF-beta released by resident matrix/cells",
    )
    dtc_routing_fraction: float = param(
        0.0,
        "1",
        "assumed: poor soils receive a small share",
        lo=0.0,
        hi=1.0,
        doc="share of disseminated cells arresting here",
    )
    dtc_hostility: float = param(
        1.0,
        "1",
        "assumed: 1 for a permissive soil (002_290404197ba78879.txt, seed and soil)",
        lo=0.0,
        doc="multiplier of DTC death rates (poor soil > 1)",
    )
    vessel_cooption: float = param(
        0.2,
        "1",
        "assumed: outgrowth mostly angiogenesis-dependent (002_290404197ba78879.txt)",
        lo=0.0,
        hi=1.0,
        doc="outgrowth independent of VEGF (co-option)",
    )


# Per-site sources override the field-level default source.
SITE_SOURCES: dict[str, dict[str, str]] = {
    "lung": {
        "capillary_spacing_um": "assumed: dense alveolar capillary bed (~30 um)",
        "vessel_po2_mmhg": "Carreau et al. 2011 (lung tissue ~43 mmHg), recalled",
        "baseline_stiffness_kpa": "Booth et al. 2012, AFM on decellularised lung (~2 kPa), recalled",
        "organ_volume_ml": "assumed: lung tissue without air, ~1 L",
        "dtc_routing_fraction": "assumed: breast-cancer metastatic frequency (004_2f1bece312f6775d.txt)",
        "vessel_cooption": "002_290404197ba78879.txt: vessel co-option in lung",
    },
    "liver": {
        "capillary_spacing_um": "assumed: sinusoids ~40 um apart",
        "vessel_po2_mmhg": "Carreau et al. 2011 (liver tissue ~41 mmHg), recalled",
        "baseline_stiffness_kpa": "assumed within 0.5-2 kPa (elastography/rheometry), recalled",
        "organ_volume_ml": "assumed: adult liver ~1.5 L",
        "permeability_factor": "assumed: fenestrated sinusoids leak more than continuous capillaries",
        "dtc_routing_fraction": "assumed: breast-cancer metastatic frequency (004_2f1bece312f6775d.txt)",
    },
    "bone_marrow": {
        "capillary_spacing_um": "assumed: sparse sinusoids, hypoxic marrow",
        "vessel_po2_mmhg": "Spencer et al. 2014, Nature (< 32 mmHg), recalled",
        "baseline_stiffness_kpa": "assumed ~0.3 kPa (soft marrow, AFM), recalled",
        "organ_volume_ml": "assumed: red marrow ~1 L",
        "permeability_factor": "assumed: sinusoidal endothelium",
        "resident_tgfb_pg_per_ml_per_s": "000_2a2265c6c67cfdc9.txt / DESIGN 3.2: TGF-beta released from bone matrix; magnitude assumed",
        "dtc_routing_fraction": "assumed: bone is the commonest breast metastatic site; DTCs in marrow (004_2f1bece312f6775d.txt)",
    },
    "brain": {
        "capillary_spacing_um": "assumed: cortical intercapillary distance ~40-60 um, recalled",
        "vessel_po2_mmhg": "Carreau et al. 2011 (brain tissue ~34 mmHg), recalled",
        "baseline_stiffness_kpa": "Engler et al. 2006 (brain 0.1-1 kPa), recalled",
        "organ_volume_ml": "assumed: adult brain ~1.3 L",
        "permeability_factor": "002_290404197ba78879.txt: blood-brain barrier intact (factor assumed)",
        "dtc_routing_fraction": "assumed: brain metastases are rarer in breast cancer",
        "vessel_cooption": "002_290404197ba78879.txt: vessel co-option in brain",
    },
    "lymph_node": {
        "organ_volume_ml": "assumed: regional nodal basin ~10 mL",
        "dtc_routing_fraction": "assumed: regional nodes receive lymphatic spread",
    },
    "kidney": {
        "baseline_stiffness_kpa": "assumed: kidney cortex a few kPa",
        "organ_volume_ml": "assumed: two kidneys ~300 mL",
        "dtc_hostility": "assumed poor soil (002_290404197ba78879.txt, Paget)",
    },
    "spleen": {
        "organ_volume_ml": "assumed: adult spleen ~150 mL",
        "permeability_factor": "assumed: sinusoidal endothelium",
        "dtc_hostility": "assumed poor soil (002_290404197ba78879.txt, Paget)",
    },
}

_PRESET_VALUES: dict[str, dict[str, float]] = {
    "lung": dict(
        capillary_spacing_um=30.0,
        vessel_po2_mmhg=45.0,
        baseline_stiffness_kpa=2.0,
        organ_volume_ml=1000.0,
        permeability_factor=1.0,
        dtc_routing_fraction=0.25,
        vessel_cooption=0.8,
    ),
    "liver": dict(
        capillary_spacing_um=40.0,
        vessel_po2_mmhg=45.0,
        baseline_stiffness_kpa=1.0,
        organ_volume_ml=1500.0,
        permeability_factor=3.0,
        dtc_routing_fraction=0.15,
    ),
    "bone_marrow": dict(
        capillary_spacing_um=100.0,
        vessel_po2_mmhg=20.0,
        baseline_stiffness_kpa=0.3,
        organ_volume_ml=1000.0,
        permeability_factor=3.0,
        resident_tgfb_pg_per_ml_per_s=0.02,
        dtc_routing_fraction=0.35,
    ),
    "brain": dict(
        capillary_spacing_um=50.0,
        vessel_po2_mmhg=40.0,
        baseline_stiffness_kpa=0.5,
        organ_volume_ml=1300.0,
        permeability_factor=0.1,
        dtc_routing_fraction=0.05,
        vessel_cooption=0.8,
    ),
    "lymph_node": dict(
        capillary_spacing_um=60.0,
        vessel_po2_mmhg=40.0,
        baseline_stiffness_kpa=1.0,
        organ_volume_ml=10.0,
        dtc_routing_fraction=0.15,
    ),
    "kidney": dict(
        capillary_spacing_um=40.0,
        vessel_po2_mmhg=45.0,
        baseline_stiffness_kpa=4.0,
        organ_volume_ml=300.0,
        dtc_routing_fraction=0.025,
        dtc_hostility=5.0,
    ),
    "spleen": dict(
        capillary_spacing_um=60.0,
        vessel_po2_mmhg=40.0,
        baseline_stiffness_kpa=1.0,
        organ_volume_ml=150.0,
        permeability_factor=3.0,
        dtc_routing_fraction=0.025,
        dtc_hostility=5.0,
    ),
}


def site_preset(name: str) -> SiteParameters:
    """The default parameters of one named organ site."""
    return SiteParameters(**_PRESET_VALUES[name])


def site_source(site: str, field: str) -> str:
    """Source of one site value: the per-site note if any, else the field's default source."""
    note = SITE_SOURCES.get(site, {}).get(field)
    if note:
        return note
    meta = {f.name: f.metadata for f in dataclasses.fields(SiteParameters)}[field]
    return str(meta["source"])


def default_sites() -> dict[str, SiteParameters]:
    """All seven presets, keyed by site name."""
    return {name: site_preset(name) for name in SITE_NAMES}


__all__ = ["SITE_NAMES", "SiteParameters", "default_sites", "site_preset", "site_source"]
