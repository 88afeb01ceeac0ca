"""Run settings: mesh geometry, field solver, adaptive steps (therapies: :mod:`.therapies`)."""

from __future__ import annotations

from dataclasses import dataclass

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
        "(2d and 3d grids with the fast solver; Krogh meshes solve their tridiagonal systems "
        "directly; equal to full solves to round-off)",
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
