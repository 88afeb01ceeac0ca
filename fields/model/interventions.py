"""Therapy windows as multipliers on the model. Resection is in :mod:`fields.model.primary`.

- anti-VEGF and TGF-beta blockade neutralise a fraction of the factor that names them in its
  ``blocked_by`` (plasma and tissue sources);
- LOX inhibition scales hypoxic LOX induction;
- vessel normalisation: less leaky, better perfused capillaries (permeability and vessel pO2),
  Fidler & Kripke 2015.
"""

from __future__ import annotations

from dataclasses import dataclass

from fields.parameters import InterventionParameters, SpeciesParameters, TherapyWindow
from fields.parameters.settings import THERAPIES, VesselNormalisation


@dataclass(frozen=True)
class Modifiers:
    """What the therapies active at one time change (fractions neutralised, factors)."""

    anti_vegf: float = 0.0
    tgfb_blockade: float = 0.0
    lox_inhibition: float = 0.0
    permeability_factor: float = 1.0
    po2_factor: float = 1.0

    def active_fraction(self, species: SpeciesParameters) -> float:
        """Fraction of a factor left active (1 unless its blocking therapy is on)."""
        if species.blocked_by == "none":
            return 1.0
        return 1.0 - getattr(self, species.blocked_by)


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
        anti_vegf=iv.anti_vegf.efficacy if is_active(iv.anti_vegf, t) else 0.0,
        tgfb_blockade=iv.tgfb_blockade.efficacy if is_active(iv.tgfb_blockade, t) else 0.0,
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
