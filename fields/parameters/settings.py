"""Run settings and therapies: mesh geometry, field solver, adaptive steps, therapy windows."""

from __future__ import annotations

from dataclasses import dataclass, field

from fields.parameters.spec import param


@dataclass(frozen=True)
class GeometryParameters:
    """Tissue patch geometry (which leaves apply depends on the geometry of the run)."""

    resolution_um: float = param(
        10.0, "um", "assumed: one cell diameter (2d and 3d grid spacing)", lo=0.0, lo_open=True
    )
    domain_um: float = param(
        1000.0,
        "um",
        "assumed: a 1 mm patch holds hundreds of capillaries (2d side)",
        lo=0.0,
        lo_open=True,
    )
    domain_3d_um: float = param(
        500.0,
        "um",
        "assumed: half the 2d side keeps 3d runs in memory (3d side)",
        lo=0.0,
        lo_open=True,
    )
    capillary_radius_um: float = param(
        5.0, "um", "assumed: capillary diameter ~10 um", lo=0.0, lo_open=True
    )
    krogh_cells: int = param(
        40, "1", "assumed: radial cells of the Krogh cylinder ([krogh1919])", lo=2, kind=int
    )


@dataclass(frozen=True)
class TransportParameters:
    """How the diffusing fields are solved."""

    mode: str = param(
        "quasi_steady",
        "1",
        "definition: fields equilibrate in minutes while the loop steps days",
        confidence="definition",
        kind=str,
        choices=("quasi_steady", "transient"),
    )
    solver: str = param(
        "fast",
        "1",
        "definition: 'fast' reuses SciPy factorisations; 'fipy' is the plain-FiPy reference",
        confidence="definition",
        kind=str,
        choices=("fast", "fipy"),
    )
    linear_responses: bool = param(
        True,
        "1",
        "definition: a quasi-steady factor is the sum of its responses to the plasma, hypoxic, "
        "niche and uniform sources, each kept while the operator and its field are unchanged "
        "(2d, 3d and per-run Krogh with the fast solver; equal to full solves to round-off)",
        confidence="definition",
        kind=bool,
    )


@dataclass(frozen=True)
class SteppingParameters:
    """Adaptive time steps of the coupled loop (:mod:`fields.engine.stepping`)."""

    controller: str = param(
        "error",
        "1",
        "definition: 'error' sizes each step from a local error estimate of the ODE part; "
        "'doubling' (v0.2) doubles the step after each event up to dt_max",
        confidence="definition",
        kind=str,
        choices=("error", "doubling"),
    )
    rtol: float = param(
        1e-3,
        "1",
        "assumed: local error per step in ln of the controlled quantities; outputs converge as "
        "rtol -> 0 (tests/engine/test_stepping.py)",
        lo=0.0,
        lo_open=True,
        hi=0.1,
    )
    dt_min_days: float = param(0.25, "day", "assumed: resolves events", lo=0.0, lo_open=True)
    dt_max_days: float = param(
        30.0,
        "day",
        "assumed: one output interval; below it the error controller decides (the DTC, stroma "
        "and lesion updates are exact for frozen coefficients, so no stability limit applies)",
        lo=0.0,
        lo_open=True,
    )
    growth_factor: float = param(
        2.0,
        "1",
        "assumed: the largest growth of the step from one step to the next",
        lo=1.0,
        lo_open=True,
    )


@dataclass(frozen=True)
class TherapyWindow:
    """A therapy given from start_day to end_day (none: not given / never stopped)."""

    start_day: float | None = param(
        None, "day", "scenario input", confidence="definition", lo=0.0, nullable=True
    )
    end_day: float | None = param(
        None, "day", "scenario input", confidence="definition", lo=0.0, nullable=True
    )
    efficacy: float = param(0.9, "1", "assumed: fraction of the target neutralised", lo=0.0, hi=1.0)


@dataclass(frozen=True)
class VesselNormalisation:
    """Vessel normalisation window: less leaky, better perfused vessels ([fidler2015])."""

    start_day: float | None = param(
        None, "day", "scenario input", confidence="definition", lo=0.0, nullable=True
    )
    end_day: float | None = param(
        None, "day", "scenario input", confidence="definition", lo=0.0, nullable=True
    )
    permeability_factor: float = param(
        0.5, "1", "assumed: tighter endothelium ([fidler2015])", lo=0.0
    )
    po2_factor: float = param(
        1.2, "1", "assumed: better perfusion ([fidler2015])", lo=0.0, lo_open=True
    )


#: Therapies that neutralise a diffusing factor; a species names one of them in ``blocked_by``.
NEUTRALISING_THERAPIES = ("anti_vegf", "tgfb_blockade", "lox_inhibition")
THERAPIES = (*NEUTRALISING_THERAPIES, "vessel_normalisation")


@dataclass(frozen=True)
class InterventionParameters:
    """Therapy windows (resection lives in ``primary``)."""

    anti_vegf: TherapyWindow = field(default_factory=TherapyWindow)
    tgfb_blockade: TherapyWindow = field(default_factory=TherapyWindow)
    lox_inhibition: TherapyWindow = field(default_factory=TherapyWindow)
    vessel_normalisation: VesselNormalisation = field(default_factory=VesselNormalisation)
