"""Therapies as time windows: when each starts (a day, or days after resection), how long it
lasts, and what it does (its efficacy and, for some, a rate). The effects are rate laws in
:mod:`fields.model.interventions`; every window is optional (no start: not given)."""

from __future__ import annotations

from dataclasses import dataclass, field

from fields.parameters.spec import param

START = ("day", "resection")


def _start() -> object:
    return param(
        "day",
        "1",
        "definition: 'day': start_day counts from the first cancer cell; 'resection': it counts "
        "from the patient's resection (a course of adjuvant therapy)",
        confidence="definition",
        kind=str,
        choices=START,
    )


def _start_day() -> object:
    return param(None, "day", "scenario input", confidence="definition", lo=0.0, nullable=True)


def _end_day() -> object:
    return param(
        None,
        "day",
        "scenario input: the day it stops, counted as start_day is (none: never, or after "
        "duration_days)",
        confidence="definition",
        lo=0.0,
        nullable=True,
    )


def _duration() -> object:
    return param(
        None,
        "day",
        "scenario input: how long the course lasts from its start (instead of end_day)",
        confidence="definition",
        lo=0.0,
        lo_open=True,
        nullable=True,
    )


@dataclass(frozen=True)
class TherapyWindow:
    """A therapy given from its start for a duration (none: not given / never stopped)."""

    start: str = _start()
    start_day: float | None = _start_day()
    end_day: float | None = _end_day()
    duration_days: float | None = _duration()
    efficacy: float = param(0.9, "1", "assumed: fraction of the target neutralised", lo=0.0, hi=1.0)


@dataclass(frozen=True)
class VesselNormalisation:
    """Vessel normalisation window: less leaky, better perfused vessels ([fidler2015])."""

    start: str = _start()
    start_day: float | None = _start_day()
    end_day: float | None = _end_day()
    duration_days: float | None = _duration()
    permeability_factor: float = param(
        0.5, "1", "assumed: tighter endothelium ([fidler2015])", lo=0.0
    )
    po2_factor: float = param(
        1.2, "1", "assumed: better perfusion ([fidler2015])", lo=0.0, lo_open=True
    )


@dataclass(frozen=True)
class Chemotherapy:
    """Cytotoxic chemotherapy: kills dividing cells (activated DTCs and the cells of growing
    micrometastases), spares dormant ones ([braun2000])."""

    start: str = _start()
    start_day: float | None = _start_day()
    end_day: float | None = _end_day()
    duration_days: float | None = _duration()
    efficacy: float = param(
        1.0, "1", "definition: the share of the full kill the patient receives", lo=0.0, hi=1.0
    )
    kill_per_day: float = param(
        0.1,
        "1/day",
        "assumed: log-kill of dividing cells, about one log (90 %) per three-week cycle "
        "([skipper1964]: a dose kills a constant fraction of the cells); applied to "
        "activated DTCs and to lesions below the detection size",
        lo=0.0,
    )


@dataclass(frozen=True)
class EndocrineTherapy:
    """Endocrine therapy (tamoxifen, aromatase inhibitors): slows the growth of hormone-
    dependent cells and their escape from dormancy."""

    start: str = _start()
    start_day: float | None = _start_day()
    end_day: float | None = _end_day()
    duration_days: float | None = _duration()
    efficacy: float = param(
        0.5,
        "1",
        "assumed: the fraction by which lesion growth and DTC reactivation slow (no "
        "measurement of its effect per cell; the trial emulations test it)",
        lo=0.0,
        hi=1.0,
    )


@dataclass(frozen=True)
class BoneTargeted:
    """Bone-targeted agents (bisphosphonates, denosumab): osteoclasts resorb less bone, so the
    bone matrix releases less of its factors (TGF-beta) into the marrow ([weilbaecher2011])."""

    start: str = _start()
    start_day: float | None = _start_day()
    end_day: float | None = _end_day()
    duration_days: float | None = _duration()
    efficacy: float = param(
        0.7,
        "1",
        "assumed: the fraction of resident factor release blocked (bone-turnover markers fall "
        "by about half to three quarters on zoledronic acid or denosumab; not re-checked)",
        lo=0.0,
        hi=1.0,
    )


#: Therapies that neutralise a diffusing factor; a species names one of them in ``blocked_by``.
NEUTRALISING_THERAPIES = ("anti_vegf", "tgfb_blockade", "lox_inhibition")
THERAPIES = (
    *NEUTRALISING_THERAPIES,
    "vessel_normalisation",
    "chemotherapy",
    "endocrine",
    "bone_targeted",
)


@dataclass(frozen=True)
class InterventionParameters:
    """Therapy windows (resection lives in ``primary``)."""

    anti_vegf: TherapyWindow = field(default_factory=TherapyWindow)
    tgfb_blockade: TherapyWindow = field(default_factory=TherapyWindow)
    lox_inhibition: TherapyWindow = field(default_factory=TherapyWindow)
    vessel_normalisation: VesselNormalisation = field(default_factory=VesselNormalisation)
    chemotherapy: Chemotherapy = field(default_factory=Chemotherapy)
    endocrine: EndocrineTherapy = field(default_factory=EndocrineTherapy)
    bone_targeted: BoneTargeted = field(default_factory=BoneTargeted)
