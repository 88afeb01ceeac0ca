"""Therapy windows as multipliers on the model (DESIGN 3.2). Resection is in ``primary``.

- anti-VEGF: neutralises a fraction of plasma and tissue VEGF sources
- TGF-beta blockade: the same for TGF-beta
- LOX inhibition: scales hypoxic LOX induction
- vessel normalisation: less leaky, better perfused capillaries (permeability and vessel pO2),
  ``002_290404197ba78879.txt``
"""

from __future__ import annotations

from dataclasses import dataclass

from fields.parameters import InterventionParameters, TherapyWindow, VesselNormalisation

THERAPIES = ("anti_vegf", "tgfb_blockade", "lox_inhibition", "vessel_normalisation")


@dataclass(frozen=True)
class Modifiers:
    """What the therapies active at one time change."""

    vegf_active_fraction: float = 1.0
    tgfb_active_fraction: float = 1.0
    lox_inhibition: float = 0.0
    permeability_factor: float = 1.0
    po2_factor: float = 1.0

    def active_fraction(self, species: str) -> float:
        return self.vegf_active_fraction if species == "vegf" else self.tgfb_active_fraction


def is_active(window: TherapyWindow | VesselNormalisation, t: float) -> bool:
    """True for start_day <= t < end_day (no end: until the end of the run)."""
    if window.start_day is None or t < window.start_day:
        return False
    return window.end_day is None or t < window.end_day


def modifiers_at(iv: InterventionParameters, t: float) -> Modifiers:
    """The multipliers in force at day t."""
    vn = iv.vessel_normalisation
    normalised = is_active(vn, t)
    return Modifiers(
        vegf_active_fraction=1.0 - iv.anti_vegf.efficacy if is_active(iv.anti_vegf, t) else 1.0,
        tgfb_active_fraction=(
            1.0 - iv.tgfb_blockade.efficacy if is_active(iv.tgfb_blockade, t) else 1.0
        ),
        lox_inhibition=iv.lox_inhibition.efficacy if is_active(iv.lox_inhibition, t) else 0.0,
        permeability_factor=vn.permeability_factor if normalised else 1.0,
        po2_factor=vn.po2_factor if normalised else 1.0,
    )


def event_times(iv: InterventionParameters) -> list[tuple[float, str]]:
    """(day, label) of every therapy start and stop."""
    events = []
    for name in THERAPIES:
        window = getattr(iv, name)
        if window.start_day is not None:
            events.append((window.start_day, f"{name} start"))
            if window.end_day is not None:
                events.append((window.end_day, f"{name} stop"))
    return events
