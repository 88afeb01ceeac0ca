"""Therapy windows as multipliers on the model. Resection is in :mod:`fields.model.primary`.

- anti-VEGF and TGF-beta blockade neutralise a fraction of the factor that names them in its
  ``blocked_by`` (plasma and tissue sources);
- LOX inhibition scales hypoxic LOX induction;
- vessel normalisation: less leaky, better perfused capillaries (permeability and vessel pO2),
  Fidler & Kripke 2015.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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


def is_active(window: TherapyWindow | VesselNormalisation, t):
    """True for start_day <= t < end_day (no end: until the end of the run); arrays broadcast."""
    if window.start_day is None:
        return False
    on = np.asarray(t) >= window.start_day
    if window.end_day is not None:
        on = on & (np.asarray(t) < window.end_day)
    return bool(on) if np.ndim(on) == 0 else on


def _pick(on, value, off: float):
    if np.ndim(on) == 0 and np.ndim(value) == 0:
        return value if on else off
    return np.where(on, value, off)


def modifiers_at(iv: InterventionParameters, t) -> Modifiers:
    """The multipliers in force at day t (a batch: t and the result's fields are arrays)."""
    vn = iv.vessel_normalisation
    normalised = is_active(vn, t)
    return Modifiers(
        anti_vegf=_pick(is_active(iv.anti_vegf, t), iv.anti_vegf.efficacy, 0.0),
        tgfb_blockade=_pick(is_active(iv.tgfb_blockade, t), iv.tgfb_blockade.efficacy, 0.0),
        lox_inhibition=_pick(is_active(iv.lox_inhibition, t), iv.lox_inhibition.efficacy, 0.0),
        permeability_factor=_pick(normalised, vn.permeability_factor, 1.0),
        po2_factor=_pick(normalised, vn.po2_factor, 1.0),
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
