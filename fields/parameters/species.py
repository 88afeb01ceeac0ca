"""The schema of a diffusing tumour-derived factor (a "species"): transport, plasma, secretion,
therapy and what responds to it.

Species are data: each one is a TOML file under ``fields/parameters/data/species/`` (or a
``[species.NAME]`` table in a parameter file) giving every value with its source. The solver,
the output contract, the guards and the plots loop over the declared species, so a new factor
needs no code. Concentrations are in pg/mL throughout.

Responses (a response is off when its half-saturation is ``none``):

- ``niche``: recruitment of niche cells. Factors that mobilise bone-marrow cells act through
  their plasma level, factors that retain them in a site through their tissue level; each group
  combines as 1 - prod(1 - hill(C, K, n)) and the stimulus is their product (both are needed);
- ``stiffening``: matrix stiffening, rate_i hill(C, K, n) (kPa/day), added to LOX crosslinking;
- ``reactivation`` / ``dormancy``: signals averaged into the DTC reactivation / dormancy rates;
- ``angiogenesis``: support of metastatic outgrowth, A = 1 - prod(1 - hill(C, K, n));
- ``colonisation``: growth signals of a soil that speed the founding of lesions by activated
  DTCs, 1 + g (1 - prod(1 - hill(C, K, n))) with g ``dtc.colonisation_gain`` (the bone
  matrix's TGF-beta in the vicious cycle of osteolytic metastasis, [yin1999], [weilbaecher2011]).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from fields.parameters.spec import REQUIRED, param
from fields.parameters.therapies import NEUTRALISING_THERAPIES

_OFF = "definition: used only when the response is declared"


def _half(response: str) -> object:
    return param(
        None,
        "pg/mL",
        f"definition: none means the factor does not drive {response}",
        confidence="definition",
        lo=0.0,
        lo_open=True,
        nullable=True,
    )


def _hill(default: float) -> object:
    return param(default, "1", _OFF, confidence="definition", lo=1.0)


@dataclass(frozen=True)
class SpeciesParameters:
    """One diffusing factor in plasma and tissue. Values come from its data file."""

    long_name: str = param(REQUIRED, "1", "", confidence="definition", kind=str)
    diffusivity_um2_per_s: float = param(REQUIRED, "um^2/s", "", lo=0.0, lo_open=True)
    tissue_decay_per_s: float = param(REQUIRED, "1/s", "", lo=0.0)
    permeability_um_per_s: float = param(REQUIRED, "um/s", "", lo=0.0)
    plasma_baseline_pg_per_ml: float = param(REQUIRED, "pg/mL", "", lo=0.0)
    plasma_half_life_min: float = param(REQUIRED, "min", "", lo=0.0, lo_open=True)
    hypoxic_secretion_pg_per_ml_per_s: float = param(REQUIRED, "pg/mL/s", "", lo=0.0)
    niche_secretion_pg_per_ml_per_s: float = param(REQUIRED, "pg/mL/s", "", lo=0.0)
    units: str = param(
        "pg/mL",
        "1",
        "definition: every rate law is written in pg/mL",
        confidence="definition",
        kind=str,
        choices=("pg/mL",),
    )
    plasma_source_law: str = param(
        "linear",
        "1",
        "definition: 'linear': plasma rises in proportion to tumour cells; 'saturating': it "
        "approaches a maximal increase (soluble-receptor trapping, [stefanini2008]); 'none'",
        confidence="definition",
        kind=str,
        choices=("linear", "saturating", "none"),
    )
    doubling_burden_cells: float | None = param(
        None,
        "cell",
        "definition: linear law: the tumour burden that doubles the plasma level",
        confidence="definition",
        lo=0.0,
        lo_open=True,
        nullable=True,
    )
    plasma_max_increase_pg_per_ml: float | None = param(
        None,
        "pg/mL",
        "definition: saturating law: the largest increase of the plasma level",
        confidence="definition",
        lo=0.0,
        nullable=True,
    )
    half_saturation_cells: float | None = param(
        None,
        "cell",
        "definition: saturating law: the burden giving half the largest increase",
        confidence="definition",
        lo=0.0,
        lo_open=True,
        nullable=True,
    )
    basal_secretion_pg_per_ml_per_s: float = param(
        0.0,
        "pg/mL/s",
        "definition: secretion by healthy tissue everywhere (none unless declared)",
        confidence="definition",
        lo=0.0,
    )
    blocked_by: str = param(
        "none",
        "1",
        "definition: the therapy that neutralises this factor",
        confidence="definition",
        kind=str,
        choices=(*NEUTRALISING_THERAPIES, "none"),
    )
    niche_half_pg_per_ml: float | None = _half("niche formation")
    niche_hill: float = _hill(4.0)
    niche_role: str = param(
        "retention",
        "1",
        "definition: 'mobilisation': the plasma level mobilises bone-marrow cells ([kaplan2005]);"
        " 'retention': the tissue level makes the site hold them ([erler2009])",
        confidence="definition",
        kind=str,
        choices=("mobilisation", "retention"),
    )
    stiffening_kpa_per_day: float = param(0.0, "kPa/day", _OFF, confidence="definition", lo=0.0)
    stiffening_half_pg_per_ml: float | None = _half("matrix stiffening")
    stiffening_hill: float = _hill(1.0)
    reactivation_half_pg_per_ml: float | None = _half("DTC reactivation")
    reactivation_hill: float = _hill(2.0)
    dormancy_half_pg_per_ml: float | None = _half("DTC dormancy")
    dormancy_hill: float = _hill(2.0)
    angiogenesis_half_pg_per_ml: float | None = _half("angiogenic support of outgrowth")
    angiogenesis_hill: float = _hill(1.0)
    colonisation_half_pg_per_ml: float | None = _half("colonisation of the soil")
    colonisation_hill: float = _hill(2.0)

    @property
    def plasma_clearance_per_day(self) -> float:
        """k_X = ln 2 / half-life, converted from 1/min to 1/day."""
        return math.log(2.0) / self.plasma_half_life_min * 1440.0

    @property
    def plasma_secretion_per_cell_per_day(self) -> float:
        """Linear law: s_X (pg/mL/day/cell) such that doubling_burden_cells doubles plasma."""
        if self.plasma_source_law != "linear":
            return 0.0
        return (
            self.plasma_clearance_per_day
            * self.plasma_baseline_pg_per_ml
            / self.doubling_burden_cells
        )

    def plasma_source_per_day(self, cells: float) -> float:
        """Tumour secretion into plasma (pg/mL/day) at a burden of ``cells``, before therapy."""
        if self.plasma_source_law == "linear":
            return self.plasma_secretion_per_cell_per_day * cells
        if self.plasma_source_law == "saturating":
            share = cells / (cells + self.half_saturation_cells)
            return self.plasma_clearance_per_day * self.plasma_max_increase_pg_per_ml * share
        return 0.0

    def response(self, name: str) -> tuple[float, float] | None:
        """(half-saturation pg/mL, Hill exponent) of a declared response, None if off."""
        half = getattr(self, f"{name}_half_pg_per_ml")
        if half is None:
            return None
        return half, getattr(self, f"{name}_hill")
