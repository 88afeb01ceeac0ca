"""Dissemination and the assays that count its cells: shedding into the blood, the first
capillary bed, intravascular and arrest survival, and the CellSearch and bone-marrow assays.

The routing itself (blood-flow fractions, survival of an arrested cell) is organ-site data
(:mod:`.sites`); the rate law is :func:`fields.model.dissemination.arrest_shares`.
"""

from __future__ import annotations

from dataclasses import dataclass

from fields.parameters.spec import param

KLEIN = "[klein2009] Table 1"


@dataclass(frozen=True)
class DisseminationParameters:
    """Shedding of tumour cells into the blood and where they arrest."""

    onset_diameter_mm: float = param(
        1.0,
        "mm",
        "[klein2009] Fig. 2: parallel progression starts at 1-4 mm (the earliest)",
        confidence="checked",
        lo=0.0,
    )
    shed_cells_per_g_per_day: float = param(
        1590.0,
        "cell/g/day",
        "calibrated: population median (90 % interval 622 - 3,210) in studies/"
        "concepts_calibration.toml (niche_threshold), fitted with the CTC prevalence at surgery "
        "([lucci2012]) and the other targets; [fidler2015] quote > 1e6 "
        "cells per gram per day in animal models, an upper bound that counts every cell "
        "entering the blood. Cells entering the venous blood per gram of tumour per day at 1 g "
        "(EpCAM-positive intact cells, as CellSearch counts them)",
        confidence="calibrated",
        lo=0.0,
    )
    size_exponent: float = param(
        0.25,
        "1",
        "[verschraegen2005], [michaelson2002]: the risk of distant spread rises far more slowly "
        "than tumour volume (mortality 10 % to 25 % from 3 to 50 mm, N0); shedding = rate per "
        "gram x 1 g x (mass / 1 g)**exponent; 0.25 of the exponents 0, 0.25, 0.5 and 1 compared "
        "on the lead_time targets",
        confidence="assumed",
        lo=0.0,
        hi=1.0,
    )
    growth_coupling: float = param(
        1.0,
        "1",
        "assumed: cells are shed per cell doubling (1), so the cells shed by a given size do "
        "not depend on the doubling time (a reviewed abstract, 'Growth rate and natural history "
        "of breast cancer', whose authors were not re-checked, finds that the primary's growth "
        "rate has little influence on dissemination per tumour cell); 0 sheds per day whatever "
        "the growth rate. Shedding is multiplied by (reference_tvdt_days / tvdt_days)**coupling",
        confidence="assumed",
        lo=0.0,
        hi=1.0,
    )
    reference_tvdt_days: float = param(
        150.0,
        "day",
        f"definition: the primary doubling time at which shed_cells_per_g_per_day holds whatever "
        f"growth_coupling ({KLEIN} median)",
        confidence="definition",
        lo=0.0,
        lo_open=True,
    )
    transpulmonary_passage: float = param(
        0.235,
        "1",
        "calibrated: posterior median (90 % interval 0.098 - 0.43) in studies/"
        "concepts_calibration.toml (niche_threshold), fitted with the sites of metastasis at "
        "diagnosis ([wu2017]) and the marrow DTC prevalence ([braun2005]); [zeidman1952]: tumour "
        "cells pass the pulmonary capillaries at once, in a fraction that depends on the tumour; "
        "[chambers2002]: most circulating cancer cells arrest in the first capillary bed they "
        "meet. Share of the cells shed into the venous blood that pass the lung's capillaries "
        "and reach the systemic arteries",
        confidence="calibrated",
        lo=0.0,
        hi=1.0,
    )
    metastatic_shedding: float = param(
        0.0,
        "1",
        "definition: cells shed by metastases per gram, as a fraction of the primary's rate (0: "
        "metastases do not seed metastases; 1: the cascade of linear progression, [klein2009]); "
        "the metastatic burden sheds as one tumour of its total mass",
        confidence="definition",
        lo=0.0,
        hi=1.0,
    )
    ctc_half_life_h: float = param(
        1.7,
        "h",
        "[meng2004]: CTCs in patients whose primary had just been removed had a half-life of 1 "
        "to 2.4 hours (the middle taken); the mean time a shed cell circulates",
        confidence="checked",
        lo=0.0,
        lo_open=True,
    )
    dormant_fraction_on_arrival: float = param(
        0.8,
        "1",
        "assumed: most DTCs are solitary non-dividing cells ([klein2009], [sleeman2012])",
        lo=0.0,
        hi=1.0,
    )


@dataclass(frozen=True)
class AssayParameters:
    """How the clinic counts disseminated cells: CellSearch in blood, immunocytochemistry of a
    bone-marrow aspirate (the counts are Poisson samples of the model's cells)."""

    ctc_sample_ml: float = param(
        7.5,
        "mL",
        "[lucci2012], [janni2016]: CellSearch analyses 7.5 mL of blood",
        confidence="definition",
        lo=0.0,
        lo_open=True,
    )
    ctc_capture_efficiency: float = param(
        0.81,
        "1",
        "[riethdorf2007]: recovery of spiked tumour cells averaged 80 % to 82 %",
        confidence="checked",
        lo=0.0,
        hi=1.0,
    )
    blood_volume_ml: float = param(
        3900.0,
        "mL",
        "[icrp2002]: reference adult female blood volume 3.9 L",
        confidence="recalled",
        lo=0.0,
        lo_open=True,
    )
    marrow_cells_assayed: float = param(
        2.0e6,
        "cell",
        "[braun2005], [fehm2006]: immunocytochemistry of 2e6 mononuclear cells of the aspirate",
        confidence="checked",
        lo=0.0,
        lo_open=True,
    )
    marrow_nucleated_cells_per_kg: float = param(
        10.4e9,
        "cell/kg",
        "[harrison1962]: total marrow cellularity 10.4e9 nucleated cells per kg body weight "
        "(59Fe method, 10 haematologically normal patients)",
        confidence="checked",
        lo=0.0,
        lo_open=True,
    )
    marrow_mononuclear_share: float = param(
        0.23,
        "1",
        "[voxsang1988]: the mononuclear fraction of a bone-marrow aspirate holds 23 % of its "
        "nucleated cells (light-density fractions 21-22 % elsewhere); assumed: DTCs, which are "
        "light, are all in it, so 2e6 mononuclear cells sample 2e6 / 0.23 marrow cells",
        confidence="checked",
        lo=0.0,
        lo_open=True,
        hi=1.0,
    )
    body_mass_kg: float = param(
        60.0,
        "kg",
        "[icrp2002]: reference adult female body mass",
        confidence="checked",
        lo=0.0,
        lo_open=True,
    )
    dtc_detection_efficiency: float = param(
        1.0,
        "1",
        "assumed: no measured sensitivity of cytokeratin immunocytochemistry per DTC; "
        "cytokeratin-negative DTCs would lower it",
        lo=0.0,
        hi=1.0,
    )

    @property
    def marrow_sampled_fraction(self) -> float:
        """The share of all marrow cells one aspirate assays."""
        marrow = self.marrow_nucleated_cells_per_kg * self.body_mass_kg
        return self.marrow_cells_assayed / (self.marrow_mononuclear_share * marrow)
