"""Parameter groups of the model: primary tumour, dissemination, oxygen, stroma and DTCs.

Each leaf carries its unit, its source (bibliography keys in square brackets, see
:mod:`fields.parameters.references`) and a confidence. Rates keep the unit of their source;
conversion to the loop's units (day, um, pg/mL, mmHg, kPa) happens once, in the derived
properties. The diffusing factors and the organ sites are data files (:mod:`.species`,
:mod:`.sites`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from fields.parameters.spec import param

KLEIN = "[klein2009] Table 1"
CAL = "studies/concepts_calibration.toml, variant niche_threshold (posterior probability 0.44 of four concepts)"

#: Tumour volume doubling times (days) from Klein 2009, Table 1.
TVDT_PRESETS_DAYS: dict[str, float] = {
    "breast": 150.0,
    "breast_under_50": 80.0,
    "breast_50_to_70": 157.0,
    "breast_over_70": 188.0,
    "breast_metastasis": 82.0,
    "colon": 130.0,
    "colon_metastasis": 109.0,
    "prostate": 730.0,
}


@dataclass(frozen=True)
class PrimaryParameters:
    """Primary tumour growth and resection."""

    growth_law: str = param(
        "gompertz",
        "1",
        "[klein2009]: exponential vs Gompertzian growth",
        confidence="definition",
        kind=str,
        choices=("exponential", "gompertz"),
    )
    tvdt_days: float = param(
        150.0, "day", f"{KLEIN}: breast, all ages", confidence="checked", lo=0.0, lo_open=True
    )
    initial_cells: float = param(
        1e6, "cell", "assumed: a 1 mm^3 tumour at day 0 (before dissemination onset)", lo=1.0
    )
    carrying_capacity_cells: float = param(
        1e12,
        "cell",
        "[klein2009]: lethal burden ~1 kg ~ 1e12-1e13 cells",
        confidence="checked",
        lo=1.0,
        lo_open=True,
    )
    reference_cells: float = param(
        1e9,
        "cell",
        "definition: the Gompertz doubling time equals the TVDT at 1 cm^3",
        confidence="definition",
        lo=1.0,
    )
    cells_per_mm3: float = param(
        1e6,
        "cell/mm^3",
        "[klein2009]: 1 cm^3 ~ 1e9 cells",
        confidence="checked",
        lo=0.0,
        lo_open=True,
    )
    resection_day: float | None = param(
        None,
        "day",
        "scenario input (none: no resection by day)",
        confidence="definition",
        lo=0.0,
        nullable=True,
    )
    resection_diameter_mm: float | None = param(
        None,
        "mm",
        "[klein2009]: T1 < 20 mm, T3 > 50 mm (none: no resection by size)",
        confidence="definition",
        lo=0.0,
        lo_open=True,
        nullable=True,
    )
    residual_fraction: float = param(0.0, "1", "assumed: complete resection", lo=0.0, hi=1.0)

    @property
    def growth_rate_per_day(self) -> float:
        """rho = ln 2 / TVDT (1/day)."""
        return math.log(2.0) / self.tvdt_days


@dataclass(frozen=True)
class OxygenParameters:
    """Oxygen transport and consumption in tissue."""

    diffusivity_um2_per_s: float = param(
        1e5 / 60.0,
        "um^2/s",
        "[ghaffarizadeh2018]: PhysiCell default 1e5 um^2/min",
        confidence="checked",
        lo=0.0,
        lo_open=True,
    )
    km_mmhg: float = param(
        1.0, "mmHg", "assumed: respiration near zero-order above a few mmHg", lo=0.0, lo_open=True
    )
    vessel_exchange_per_s: float = param(
        100.0,
        "1/s",
        "assumed: fast wall exchange so capillary voxels sit near blood pO2",
        lo=0.0,
        lo_open=True,
    )
    hypoxia_threshold_mmhg: float = param(
        10.0,
        "mmHg",
        "assumed: between PhysiCell's hypoxic 15 and saturation 4 mmHg ([ghaffarizadeh2018])",
        lo=0.0,
        lo_open=True,
    )
    hypoxia_hill: float = param(4.0, "1", "assumed: switch-like HIF response", lo=1.0)
    necrosis_threshold_mmhg: float = param(
        2.5,
        "mmHg",
        "[ghaffarizadeh2018]: PhysiCell's necrosis threshold (2.5 mmHg, onset 5 mmHg)",
        confidence="checked",
        lo=0.0,
        lo_open=True,
    )


@dataclass(frozen=True)
class StromaParameters:
    """Hypoxia-induced LOX, ECM stiffening and niche formation (factor responses: species data)."""

    lox_lifetime_days: float = param(
        7.0, "day", "assumed: LOX protein turnover ~ a week", lo=0.0, lo_open=True
    )
    lox_induction_per_day: float = param(
        1.0 / 7.0,
        "1/day",
        "assumed: normalises LOX to 1 a.u. at full hypoxia ([sleeman2012] 3.2, [erler2009])",
        lo=0.0,
    )
    lox_stiffening_kpa_per_day: float = param(
        0.03,
        "kPa/day",
        "assumed: LOX crosslinking stiffens ECM ([sleeman2012]); per a.u. of LOX",
        lo=0.0,
    )
    max_stiffness_kpa: float = param(
        20.0,
        "kPa",
        "[booth2012]: fibrotic lung ~17 kPa (AFM)",
        confidence="recalled",
        lo=0.0,
        lo_open=True,
    )
    stiffness_relaxation_days: float = param(
        60.0, "day", "assumed: matrix turnover of months", lo=0.0, lo_open=True
    )
    niche_formation_per_day: float = param(
        0.2, "1/day", "assumed: BMDC clusters form within ~2 weeks ([sleeman2012])", lo=0.0
    )
    niche_lifetime_days: float = param(
        14.0,
        "day",
        "assumed: niches fade after removal of the primary ([sleeman2012])",
        lo=0.0,
        lo_open=True,
    )


@dataclass(frozen=True)
class DTCParameters:
    """Solitary disseminated tumour cells: dormancy, reactivation, death and lesion founding."""

    reactivation_max_per_day: float = param(
        2e-4,
        "1/day",
        "[karrison1999], [pan2017]: late relapses continue at a steady rate for 15-20 years, so a "
        "dormant DTC escapes over ~15 years (1/5500 per day) at full signal",
        confidence="assumed",
        lo=0.0,
    )
    reactivation_stiffness_half_kpa: float = param(
        3.0,
        "kPa",
        "assumed: FAK/TAZ activation on stiff matrix ([sleeman2012])",
        lo=0.0,
        lo_open=True,
    )
    dormancy_induction_max_per_day: float = param(
        0.01,
        "1/day",
        "assumed: hypoxia, TGF-beta, soft matrix induce dormancy within months ([sleeman2012])",
        lo=0.0,
    )
    dormant_death_per_day: float = param(
        2.7e-4,
        "1/day",
        "[karrison1999]: recurrences stop after 20-25 years; a loss of ~0.1 per year ends "
        "dormancy on that scale",
        confidence="assumed",
        lo=0.0,
    )
    proliferating_death_per_day: float = param(
        4e-3, "1/day", "assumed: metastatic inefficiency ([fidler2015])", lo=0.0
    )
    niche_protection: float = param(
        0.8, "1", "assumed: niches support DTC survival ([sleeman2012])", lo=0.0, hi=1.0
    )
    founding_per_day: float = param(
        1.845e-7,
        "1/day",
        "calibrated: posterior median (90 % interval 1.5e-8 - 7.7e-7) in studies/concepts_calibration.toml, variant niche_threshold (posterior probability 0.44 of four concepts): the rate at "
        "which an activated DTC in a full niche on stiff matrix founds a growing lesion",
        confidence="calibrated",
        lo=0.0,
    )
    founding_without_niche: float = param(
        0.0,
        "1",
        "[sleeman2012], [kaplan2005]: a lesion is founded only in a niche (the stromal "
        "progression model, favoured over parallel and linear progression and the cascade by "
        "the concept comparison, studies/concepts.md); the share of the founding rate outside "
        "a niche",
        confidence="calibrated",
        lo=0.0,
        hi=1.0,
    )
    colonisation_gain: float = param(
        22.3,
        "1",
        f"calibrated: population median (90 % interval 6.3 - 232) in {CAL}, fitted with the "
        "sites of metastasis at diagnosis ([wu2017]): founding is multiplied "
        "by 1 + gain x the soil's colonisation signal (species responses 'colonisation': the "
        "bone matrix's TGF-beta, [yin1999], [weilbaecher2011])",
        confidence="calibrated",
        lo=0.0,
    )
    motility_um2_per_day: float = param(
        100.0, "um^2/day", "assumed: slow interstitial migration", lo=0.0
    )
    perivascular_distance_um: float = param(
        20.0, "um", "assumed: DTCs lodge next to capillaries ([sleeman2012])", lo=0.0
    )


@dataclass(frozen=True)
class LesionParameters:
    """Size-structured metastatic lesions: growth, detection and the lethal burden."""

    growth_law: str = param(
        "gompertz",
        "1",
        "[klein2009]: exponential vs Gompertzian growth; [iwata2000] use Gompertz",
        confidence="definition",
        kind=str,
        choices=("exponential", "gompertz"),
    )
    tvdt_days: float = param(
        46.0,
        "day",
        "calibrated: posterior median (90 % interval 42 - 50 days) of the population median in "
        f"the lead_time calibration of fields 0.2 (Gompertz growth), under a prior from {KLEIN} "
        "(breast metastases, 82 days in 29 patients, a factor of two either way); the lead_time "
        "cohort now draws it as a ratio of the primary's (studies/lead_time.toml)",
        confidence="calibrated",
        lo=0.0,
        lo_open=True,
    )
    carrying_capacity_cells: float = param(
        1e12,
        "cell",
        "[klein2009]: ~1 kg ~ 1e12 cells; [coumans2013]: N_max = 1e12 cells",
        confidence="checked",
        lo=1.0,
        lo_open=True,
    )
    reference_cells: float = param(
        1e9,
        "cell",
        "definition: the Gompertz doubling time equals the TVDT at 1 cm^3",
        confidence="definition",
        lo=1.0,
    )
    detection_diameter_mm: float = param(
        10.0,
        "mm",
        "[eisenhauer2009]: RECIST 1.1 measurable lesion >= 10 mm on CT",
        confidence="checked",
        lo=0.0,
        lo_open=True,
    )
    micrometastasis_clearance_per_day: float = param(
        0.01,
        "1/day",
        "[luzzi1998]: most micrometastases regress; [fidler2015]: hostile soils rarely host "
        "metastases. Lesions below the avascular limit are cleared at this rate per unit of the "
        "site's hostility above a permissive soil (hostility 1: none; magnitude assumed)",
        confidence="assumed",
        lo=0.0,
    )
    lethal_burden_cells: float = param(
        1e12,
        "cell",
        "[klein2009], [coumans2013]: a total tumour burden of ~1 kg (1e12 cells) is lethal",
        confidence="checked",
        lo=1.0,
        lo_open=True,
    )
    size_bins: int = param(
        60,
        "1",
        "definition: bins of lesion_density over ln(cells) from 1 cell to the carrying capacity",
        confidence="definition",
        lo=4,
        hi=2000,
        kind=int,
    )
    max_cohorts: int = param(
        1000,
        "1",
        "definition: lesion cohorts kept per site; the two closest in size merge beyond this",
        confidence="definition",
        lo=16,
        hi=1_000_000,
        kind=int,
    )

    @property
    def growth_rate_per_day(self) -> float:
        """r = ln 2 / metastasis TVDT (1/day)."""
        return math.log(2.0) / self.tvdt_days
