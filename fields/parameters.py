"""The typed, validated parameter tree: every default with its unit and its source.

Keys are dotted paths (``primary.tvdt_days``, ``sites.lung.capillary_spacing_um``) and are the
same in Python (:meth:`Parameters.with_updates`), TOML files (:func:`load_parameters`) and at the
CLI (``--set key=value``). Rates keep the unit of their source; conversion to the loop's units
(day, um, pg/mL, mmHg, kPa) happens once, in the derived properties at the bottom of each group.

Seeds are cited by file name: ``000_2a2265c6c67cfdc9.txt`` (stromal progression review),
``002_290404197ba78879.txt`` (soil/microenvironment review), ``004_2f1bece312f6775d.txt``
(Klein 2009, parallel progression).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fields.errors import FieldsInputError, ParameterError
from fields.sites import SITE_NAMES, SiteParameters, default_sites, site_source
from fields.spec import param, validate_dataclass

KLEIN = "Klein 2009 Table 1 (004_2f1bece312f6775d.txt)"

#: Mesh-size limits (cells): beyond these a run would need many GiB (3d 50^3 peaks at 1 GiB).
MAX_CELLS_2D = 4.0e6
MAX_CELLS_3D = 8.0e6
MAX_CELLS_KROGH = 1.0e5
SOIL = "002_290404197ba78879.txt"
STROMA = "000_2a2265c6c67cfdc9.txt"

#: Tumour volume doubling times (days) from Klein 2009 Table 1 (004_2f1bece312f6775d.txt).
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
    """Primary tumour growth and resection (DESIGN 3.1)."""

    growth_law: str = param(
        "gompertz",
        "1",
        f"{KLEIN}: exponential vs Gompertzian growth",
        kind=str,
        choices=("exponential", "gompertz"),
    )
    tvdt_days: float = param(150.0, "day", f"{KLEIN}: breast, all ages", lo=0.0, lo_open=True)
    initial_cells: float = param(
        1e6, "cell", "assumed: a 1 mm^3 tumour at day 0 (before dissemination onset)", lo=1.0
    )
    carrying_capacity_cells: float = param(
        1e12, "cell", f"{KLEIN}: lethal burden ~1 kg ~ 1e12-1e13 cells", lo=1.0, lo_open=True
    )
    reference_cells: float = param(
        1e9, "cell", "DESIGN 3.1: Gompertz doubling time equals TVDT at 1 cm^3", lo=1.0
    )
    cells_per_mm3: float = param(
        1e6, "cell/mm^3", f"{KLEIN}: 1 cm^3 ~ 1e9 cells", lo=0.0, lo_open=True
    )
    resection_day: float | None = param(
        None, "day", "scenario input (none: no resection by day)", lo=0.0, nullable=True
    )
    resection_diameter_mm: float | None = param(
        None,
        "mm",
        f"{KLEIN}: T1 < 20 mm, T3 > 50 mm (none: no resection by size)",
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
class DisseminationParameters:
    """Shedding of tumour cells into the blood and their arrest in organs (DESIGN 3.1)."""

    onset_diameter_mm: float = param(
        2.0, "mm", f"{KLEIN} Fig. 2: parallel progression starts at 1-4 mm", lo=0.0
    )
    shed_cells_per_g_per_day: float = param(
        1e6, "cell/g/day", f"{SOIL}: > 1e6 cells shed per gram of tumour per day", lo=0.0
    )
    arrest_fraction: float = param(
        1e-3,
        "1",
        f"assumed: shed cells that arrest and survive as DTCs; {SOIL}: < 0.1 % form metastases",
        lo=0.0,
        hi=1.0,
    )
    dormant_fraction_on_arrival: float = param(
        0.8,
        "1",
        f"assumed: most DTCs are solitary non-dividing cells ({KLEIN}, {STROMA})",
        lo=0.0,
        hi=1.0,
    )


@dataclass(frozen=True)
class OxygenParameters:
    """Oxygen transport and consumption in tissue (DESIGN 3.2)."""

    diffusivity_um2_per_s: float = param(
        1e5 / 60.0, "um^2/s", "PhysiCell default: 1e5 um^2/min", lo=0.0, lo_open=True
    )
    max_uptake_mmhg_per_s: float = param(
        2.5,
        "mmHg/s",
        f"assumed: gives a diffusion limit of ~200 um at 45 mmHg ({SOIL}: 150-200 um)",
        lo=0.0,
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
        "DESIGN 3.2; PhysiCell hypoxic 15 / saturation 4 mmHg",
        lo=0.0,
        lo_open=True,
    )
    hypoxia_hill: float = param(4.0, "1", "assumed: switch-like HIF response", lo=1.0)


@dataclass(frozen=True)
class SpeciesParameters:
    """A diffusing tumour-derived factor (VEGF-A or TGF-beta): plasma and tissue (DESIGN 3.1-3.2)."""

    diffusivity_um2_per_s: float = param(
        104.0, "um^2/s", "Mac Gabhann et al. 2006 (1.04e-6 cm^2/s), recalled", lo=0.0, lo_open=True
    )
    tissue_decay_per_s: float = param(
        2e-4, "1/s", "assumed: receptor binding, internalisation, proteolysis (~1 h)", lo=0.0
    )
    permeability_um_per_s: float = param(
        4e-4, "um/s", "Stefanini et al. 2008: 4e-8 cm/s healthy capillaries", lo=0.0
    )
    plasma_baseline_pg_per_ml: float = param(
        50.0, "pg/mL", "assumed: healthy plasma VEGF-A tens of pg/mL, recalled", lo=0.0
    )
    plasma_half_life_min: float = param(
        33.6, "min", "Stefanini et al. 2008: clearance 0.0206 1/min", lo=0.0, lo_open=True
    )
    doubling_burden_cells: float = param(
        1e10,
        "cell",
        f"assumed: a ~2.7 cm primary doubles the plasma level ({STROMA}: threshold ~ size)",
        lo=0.0,
        lo_open=True,
    )
    hypoxic_secretion_pg_per_ml_per_s: float = param(
        0.003, "pg/mL/s", f"assumed: HIF-driven secretion ({STROMA})", lo=0.0
    )
    niche_secretion_pg_per_ml_per_s: float = param(
        5e-4,
        "pg/mL/s",
        f"assumed: secretion by niche BMDCs, weak enough that niches need the primary ({STROMA})",
        lo=0.0,
    )

    @property
    def plasma_clearance_per_day(self) -> float:
        """k_X = ln 2 / half-life, converted from 1/min to 1/day."""
        return math.log(2.0) / self.plasma_half_life_min * 1440.0

    @property
    def plasma_secretion_per_cell_per_day(self) -> float:
        """s_X (pg/mL/day/cell) such that a burden of doubling_burden_cells doubles plasma."""
        return (
            self.plasma_clearance_per_day
            * self.plasma_baseline_pg_per_ml
            / self.doubling_burden_cells
        )


def _tgfb_defaults() -> SpeciesParameters:
    return SpeciesParameters(
        diffusivity_um2_per_s=100.0,
        tissue_decay_per_s=2e-4,
        permeability_um_per_s=4e-4,
        plasma_baseline_pg_per_ml=100.0,
        plasma_half_life_min=2.5,
        doubling_burden_cells=1e10,
        hypoxic_secretion_pg_per_ml_per_s=0.002,
        niche_secretion_pg_per_ml_per_s=5e-4,
    )


TGFB_SOURCES = {
    "diffusivity_um2_per_s": "assumed: no measurement found; similar size to VEGF",
    "tissue_decay_per_s": "assumed: as VEGF",
    "permeability_um_per_s": "assumed: as VEGF (Stefanini et al. 2008)",
    "plasma_baseline_pg_per_ml": "assumed: active TGF-beta1 in plasma ~0.1 ng/mL, recalled",
    "plasma_half_life_min": "Wakefield et al. 1990, JCI: active TGF-beta1 2-3 min, recalled",
    "doubling_burden_cells": f"assumed: as VEGF ({STROMA})",
    "hypoxic_secretion_pg_per_ml_per_s": "assumed: weak hypoxic induction",
    "niche_secretion_pg_per_ml_per_s": f"assumed: S100A8/9+ myeloid cells ({STROMA})",
}


@dataclass(frozen=True)
class StromaParameters:
    """Hypoxia-induced LOX, ECM stiffening and niche formation (DESIGN 3.2)."""

    lox_lifetime_days: float = param(
        7.0, "day", "assumed: LOX protein turnover ~ a week", lo=0.0, lo_open=True
    )
    lox_induction_per_day: float = param(
        1.0 / 7.0,
        "1/day",
        f"assumed: normalises LOX to 1 a.u. at full hypoxia ({STROMA} 3.2, Erler 2009)",
        lo=0.0,
    )
    lox_stiffening_kpa_per_day: float = param(
        0.03,
        "kPa/day",
        f"assumed: LOX crosslinking stiffens ECM ({STROMA}); per a.u. of LOX",
        lo=0.0,
    )
    tgfb_stiffening_kpa_per_day: float = param(
        0.05, "kPa/day", f"assumed: TGF-beta-driven fibrosis ({STROMA})", lo=0.0
    )
    tgfb_stiffening_half_pg_per_ml: float = param(
        1000.0, "pg/mL", "assumed: well above healthy levels", lo=0.0, lo_open=True
    )
    max_stiffness_kpa: float = param(
        20.0,
        "kPa",
        "Booth et al. 2012: fibrotic lung ~17 kPa (AFM), recalled",
        lo=0.0,
        lo_open=True,
    )
    stiffness_relaxation_days: float = param(
        60.0, "day", "assumed: matrix turnover of months", lo=0.0, lo_open=True
    )
    niche_formation_per_day: float = param(
        0.2, "1/day", f"assumed: BMDC clusters form within ~2 weeks ({STROMA})", lo=0.0
    )
    niche_lifetime_days: float = param(
        14.0,
        "day",
        f"assumed: niches fade after removal of the primary ({STROMA})",
        lo=0.0,
        lo_open=True,
    )
    niche_vegf_half_pg_per_ml: float = param(
        15.0,
        "pg/mL",
        f"assumed: set so lung niches need ~3x baseline plasma VEGF ({STROMA} 3.3 threshold)",
        lo=0.0,
        lo_open=True,
    )
    niche_tgfb_half_pg_per_ml: float = param(
        200.0, "pg/mL", f"assumed: S100A8/9 induction by TGF-beta ({STROMA})", lo=0.0, lo_open=True
    )
    niche_hill: float = param(4.0, "1", f"assumed: threshold behaviour ({STROMA} 3.3)", lo=1.0)


@dataclass(frozen=True)
class DTCParameters:
    """Disseminated tumour cells: dormancy, reactivation, growth and death (DESIGN 3.2)."""

    metastasis_tvdt_days: float = param(
        82.0, "day", f"{KLEIN}: breast metastases", lo=0.0, lo_open=True
    )
    reactivation_max_per_day: float = param(
        0.01, "1/day", "assumed: reactivation over months to years", lo=0.0
    )
    reactivation_stiffness_half_kpa: float = param(
        3.0, "kPa", f"assumed: FAK/TAZ activation on stiff matrix ({STROMA})", lo=0.0, lo_open=True
    )
    reactivation_vegf_half_pg_per_ml: float = param(
        10.0,
        "pg/mL",
        f"assumed: perivascular VEGF-A suppresses dormancy ({STROMA})",
        lo=0.0,
        lo_open=True,
    )
    dormancy_induction_max_per_day: float = param(
        0.01, "1/day", f"assumed: hypoxia, TGF-beta, soft matrix induce dormancy ({STROMA})", lo=0.0
    )
    dormancy_tgfb_half_pg_per_ml: float = param(
        100.0, "pg/mL", "assumed: about the healthy plasma TGF-beta level", lo=0.0, lo_open=True
    )
    dormant_death_per_day: float = param(
        5e-4, "1/day", "assumed: dormant DTCs persist for years (004_2f1bece312f6775d.txt)", lo=0.0
    )
    proliferating_death_per_day: float = param(
        4e-3, "1/day", f"assumed: metastatic inefficiency ({SOIL})", lo=0.0
    )
    niche_protection: float = param(
        0.8, "1", f"assumed: niches support DTC survival ({STROMA})", lo=0.0, hi=1.0
    )
    angiogenesis_vegf_half_pg_per_ml: float = param(
        2.0,
        "pg/mL",
        f"assumed: outgrowth beyond avascular size needs VEGF unless co-opting ({SOIL})",
        lo=0.0,
        lo_open=True,
    )
    carrying_capacity_per_mm3: float = param(
        1e6, "cell/mm^3", f"{KLEIN}: 1 mm^3 ~ 1e6 cells", lo=0.0, lo_open=True
    )
    motility_um2_per_day: float = param(
        100.0, "um^2/day", "assumed: slow interstitial migration", lo=0.0
    )
    perivascular_distance_um: float = param(
        20.0, "um", f"assumed: DTCs lodge next to capillaries ({STROMA})", lo=0.0
    )
    detection_cells: float = param(
        1e9, "cell", f"{KLEIN}: 1 cm^3 ~ 1e9 cells, clinically detectable", lo=1.0
    )

    @property
    def growth_rate_per_day(self) -> float:
        """g = ln 2 / metastasis TVDT (1/day)."""
        return math.log(2.0) / self.metastasis_tvdt_days


@dataclass(frozen=True)
class GeometryParameters:
    """Tissue patch geometry (DESIGN 3.2)."""

    resolution_um: float = param(10.0, "um", "DESIGN 3.2", lo=0.0, lo_open=True)
    domain_um: float = param(1000.0, "um", "DESIGN 3.2: 2d patch side", lo=0.0, lo_open=True)
    domain_3d_um: float = param(500.0, "um", "DESIGN 3.2: 3d cube side", lo=0.0, lo_open=True)
    capillary_radius_um: float = param(
        5.0, "um", "assumed: capillary diameter ~10 um", lo=0.0, lo_open=True
    )
    krogh_cells: int = param(40, "1", "assumed: radial cells of the Krogh cylinder", lo=2, kind=int)


@dataclass(frozen=True)
class TransportParameters:
    """How the diffusing fields are solved (DESIGN 4)."""

    mode: str = param(
        "quasi_steady",
        "1",
        "DESIGN 4: fields equilibrate in minutes, the loop steps days",
        kind=str,
        choices=("quasi_steady", "transient"),
    )
    solver: str = param(
        "fast",
        "1",
        "DESIGN 4: 'fast' reuses SciPy factorisations; 'fipy' is the plain-FiPy reference",
        kind=str,
        choices=("fast", "fipy"),
    )


@dataclass(frozen=True)
class SteppingParameters:
    """Adaptive time steps of the coupled loop (DESIGN 4)."""

    dt_min_days: float = param(0.25, "day", "assumed: resolves events", lo=0.0, lo_open=True)
    dt_max_days: float = param(
        5.0, "day", "assumed: keeps g*dt < 0.05 for DTC growth", lo=0.0, lo_open=True
    )
    growth_factor: float = param(
        2.0, "1", "assumed: steps double after an event until dt_max", lo=1.0, lo_open=True
    )


@dataclass(frozen=True)
class TherapyWindow:
    """A therapy given from start_day to end_day (none: not given / never stopped)."""

    start_day: float | None = param(None, "day", "scenario input", lo=0.0, nullable=True)
    end_day: float | None = param(None, "day", "scenario input", lo=0.0, nullable=True)
    efficacy: float = param(0.9, "1", "assumed: fraction of the target neutralised", lo=0.0, hi=1.0)


@dataclass(frozen=True)
class VesselNormalisation:
    """Vessel normalisation window: less leaky, better perfused vessels (002_290404197ba78879.txt)."""

    start_day: float | None = param(None, "day", "scenario input", lo=0.0, nullable=True)
    end_day: float | None = param(None, "day", "scenario input", lo=0.0, nullable=True)
    permeability_factor: float = param(0.5, "1", f"assumed: tighter endothelium ({SOIL})", lo=0.0)
    po2_factor: float = param(1.2, "1", f"assumed: better perfusion ({SOIL})", lo=0.0, lo_open=True)


@dataclass(frozen=True)
class InterventionParameters:
    """The therapies of DESIGN 3.2 (resection lives in ``primary``)."""

    anti_vegf: TherapyWindow = field(default_factory=TherapyWindow)
    tgfb_blockade: TherapyWindow = field(default_factory=TherapyWindow)
    lox_inhibition: TherapyWindow = field(default_factory=TherapyWindow)
    vessel_normalisation: VesselNormalisation = field(default_factory=VesselNormalisation)


GROUPS = (
    "primary",
    "dissemination",
    "oxygen",
    "vegf",
    "tgfb",
    "stroma",
    "dtc",
    "geometry",
    "transport",
    "stepping",
    "interventions",
    "sites",
)


@dataclass(frozen=True)
class Parameters:
    """The full, validated parameter tree. Immutable: use :meth:`with_updates`."""

    primary: PrimaryParameters = field(default_factory=PrimaryParameters)
    dissemination: DisseminationParameters = field(default_factory=DisseminationParameters)
    oxygen: OxygenParameters = field(default_factory=OxygenParameters)
    vegf: SpeciesParameters = field(default_factory=SpeciesParameters)
    tgfb: SpeciesParameters = field(default_factory=_tgfb_defaults)
    stroma: StromaParameters = field(default_factory=StromaParameters)
    dtc: DTCParameters = field(default_factory=DTCParameters)
    geometry: GeometryParameters = field(default_factory=GeometryParameters)
    transport: TransportParameters = field(default_factory=TransportParameters)
    stepping: SteppingParameters = field(default_factory=SteppingParameters)
    interventions: InterventionParameters = field(default_factory=InterventionParameters)
    sites: Mapping[str, SiteParameters] = field(default_factory=default_sites)

    def __post_init__(self) -> None:
        for name in GROUPS:
            if name == "sites":
                continue
            _validate_tree(getattr(self, name), name)
        unknown = [s for s in self.sites if s not in SITE_NAMES]
        if unknown:
            raise ParameterError(f"sites.{unknown[0]}", unknown[0], _one_of(SITE_NAMES))
        for site_name, site in self.sites.items():
            _validate_tree(site, f"sites.{site_name}")
        self._check_consistency()

    def _check_consistency(self) -> None:
        radius = self.geometry.capillary_radius_um
        for name, site in self.sites.items():
            if site.capillary_spacing_um / 2.0 <= radius:
                raise ParameterError(
                    f"sites.{name}.capillary_spacing_um",
                    site.capillary_spacing_um,
                    f"more than twice geometry.capillary_radius_um ({radius:g} um)",
                )
        for name in ("anti_vegf", "tgfb_blockade", "lox_inhibition", "vessel_normalisation"):
            window = getattr(self.interventions, name)
            if window.start_day is not None and window.end_day is not None:
                if window.end_day < window.start_day:
                    raise ParameterError(
                        f"interventions.{name}.end_day",
                        window.end_day,
                        f">= interventions.{name}.start_day ({window.start_day:g} day)",
                    )
        if self.stepping.dt_min_days > self.stepping.dt_max_days:
            raise ParameterError(
                "stepping.dt_min_days",
                self.stepping.dt_min_days,
                f"<= stepping.dt_max_days ({self.stepping.dt_max_days:g} day)",
            )
        g = self.geometry
        for key, cells, limit in (
            ("geometry.resolution_um", (g.domain_um / g.resolution_um) ** 2, MAX_CELLS_2D),
            ("geometry.domain_um", (g.domain_um / g.resolution_um) ** 2, MAX_CELLS_2D),
            ("geometry.domain_3d_um", (g.domain_3d_um / g.resolution_um) ** 3, MAX_CELLS_3D),
            ("geometry.krogh_cells", g.krogh_cells, MAX_CELLS_KROGH),
        ):
            if cells > limit:
                raise ParameterError(
                    key,
                    getattr(g, key.split(".")[1]),
                    f"a value giving at most {limit:.0e} cells (this gives {cells:.3g}; "
                    "a finer mesh needs more memory than a run should take)",
                )
        if self.primary.initial_cells >= self.primary.carrying_capacity_cells:
            raise ParameterError(
                "primary.initial_cells",
                self.primary.initial_cells,
                f"< primary.carrying_capacity_cells ({self.primary.carrying_capacity_cells:g})",
            )

    # ----------------------------------------------------------------------------- conversion
    def to_dict(self) -> dict[str, Any]:
        """Nested plain dict of every value (None for 'none')."""
        return {name: _to_plain(getattr(self, name)) for name in GROUPS}

    def to_json(self) -> str:
        """The full resolved tree as JSON (stored in every output's root attributes)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Parameters:
        """Defaults updated with a (possibly partial, nested or dotted) dict."""
        return cls().with_updates(flatten(values))

    @classmethod
    def from_json(cls, text: str) -> Parameters:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FieldsInputError(f"parameters JSON does not parse: {exc}") from None
        return cls.from_dict(data)

    def with_updates(self, updates: Mapping[str, Any]) -> Parameters:
        """A new tree with dotted keys replaced, e.g. ``{"primary.tvdt_days": 80.0}``."""
        tree = self.to_dict()
        for key, value in flatten(updates).items():
            _set_dotted(tree, key, value)
        return _build(tree)

    def get(self, key: str) -> Any:
        """Value at a dotted key."""
        node: Any = self.to_dict()
        walked: list[str] = []
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                _raise_unknown(key, walked, node)
            node = node[part]
            walked.append(part)
        return node

    def leaves(self) -> Iterator[tuple[str, Any, str, str]]:
        """(dotted key, value, unit, source) for every leaf, in tree order."""
        for name in GROUPS:
            if name == "sites":
                for site_name, site in self.sites.items():
                    for key, value, unit, _default in _leaves(site, f"sites.{site_name}"):
                        field_name = key.rsplit(".", 1)[1]
                        yield key, value, unit, site_source(site_name, field_name)
                continue
            yield from _leaves(getattr(self, name), name)


# --------------------------------------------------------------------------------- helpers
def _one_of(names: tuple[str, ...] | list[str]) -> str:
    return "one of " + ", ".join(names)


def _validate_tree(obj: Any, prefix: str) -> None:
    validate_dataclass(obj, prefix)
    for f in dataclasses.fields(obj):
        child = getattr(obj, f.name)
        if dataclasses.is_dataclass(child):
            _validate_tree(child, f"{prefix}.{f.name}")


def _to_plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return {f.name: _to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {k: _to_plain(v) for k, v in obj.items()}
    return obj


def _leaves(obj: Any, prefix: str) -> Iterator[tuple[str, Any, str, str]]:
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        key = f"{prefix}.{f.name}"
        if dataclasses.is_dataclass(value):
            yield from _leaves(value, key)
        else:
            source = str(f.metadata["source"])
            if prefix == "tgfb":
                source = TGFB_SOURCES.get(f.name, source)
            yield key, value, str(f.metadata["unit"]), source


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested/dotted mapping -> {dotted key: leaf value}."""
    if not isinstance(values, Mapping):
        raise FieldsInputError(f"expected a table of parameters, got {values!r}")
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if not isinstance(key, str) or not key:
            raise ParameterError(f"{prefix}{key}", value, "a non-empty text key")
        full = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, full + "."))
        else:
            flat[full] = value
    return flat


def _raise_unknown(key: str, walked: list[str], node: Any, value: Any = None) -> None:
    if isinstance(node, dict):
        options = sorted(node)
        prefix = ".".join(walked)
        full = [f"{prefix}.{o}" if prefix else o for o in options]
        guess = difflib.get_close_matches(key, full, n=1)
        hint = f" (did you mean '{guess[0]}'?)" if guess else ""
        where = f"under '{prefix}'" if prefix else "at the top level"
        if walked == ["sites"]:
            allowed = _one_of(SITE_NAMES)
            raise ParameterError(key, value, f"a site name, {allowed}{hint}", unknown=True)
        raise ParameterError(key, value, f"a key {where}: {', '.join(options)}{hint}", unknown=True)
    raise ParameterError(
        key, value, f"nothing: '{'.'.join(walked)}' is a value, not a group", unknown=True
    )


def _set_dotted(tree: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node: Any = tree
    for depth, part in enumerate(parts):
        if not isinstance(node, dict) or part not in node:
            _raise_unknown(key, parts[:depth], node, value)
        if depth == len(parts) - 1:
            if isinstance(node[part], dict):
                raise ParameterError(
                    key, value, f"a table; '{key}' is a group with keys {', '.join(node[part])}"
                )
            node[part] = value
        else:
            node = node[part]


def _build(tree: dict[str, Any]) -> Parameters:
    kwargs: dict[str, Any] = {}
    types = {f.name: f for f in dataclasses.fields(Parameters)}
    for name in GROUPS:
        if name == "sites":
            kwargs["sites"] = {s: SiteParameters(**v) for s, v in tree["sites"].items()}
        elif name == "interventions":
            kwargs[name] = InterventionParameters(
                anti_vegf=TherapyWindow(**tree[name]["anti_vegf"]),
                tgfb_blockade=TherapyWindow(**tree[name]["tgfb_blockade"]),
                lox_inhibition=TherapyWindow(**tree[name]["lox_inhibition"]),
                vessel_normalisation=VesselNormalisation(**tree[name]["vessel_normalisation"]),
            )
        else:
            cls = type(types[name].default_factory())  # type: ignore[misc]
            kwargs[name] = cls(**tree[name])
    return Parameters(**kwargs)


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file, turning every failure into one clear :class:`FieldsInputError`."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise FieldsInputError(f"cannot read parameter file '{path}': {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FieldsInputError(
            f"parameter file '{path}' is not UTF-8 text (byte {exc.start}); TOML must be UTF-8"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FieldsInputError(f"parameter file '{path}' is not valid TOML: {exc}") from None


def load_parameters(path: str | Path) -> Parameters:
    """Parameters from a TOML file (defaults for anything it omits).

    A plain parameter file has groups at the top level (``[primary]``, ``[sites.lung]``). A study
    file keeps them under ``[parameters]``; its ``[study]`` table is ignored here. ``base = "x.toml"``
    (relative to the file) loads another parameter file first.
    """
    path = Path(path)
    doc = read_toml(path)
    values = doc.get("parameters", {}) if ("parameters" in doc or "study" in doc) else doc
    if not isinstance(values, dict):
        raise ParameterError("parameters", values, "a table of parameter groups")
    values = dict(values)
    base = values.pop("base", None) or doc.get("study", {}).get("base")
    params = Parameters()
    if base is not None:
        if not isinstance(base, str):
            raise ParameterError("base", base, "a path to another parameter file")
        params = load_parameters(path.parent / base)
    return params.with_updates(flatten(values))


__all__ = [
    "TVDT_PRESETS_DAYS",
    "Parameters",
    "SiteParameters",
    "load_parameters",
]
