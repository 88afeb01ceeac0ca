"""Therapy windows as multipliers on the model. Resection is in :mod:`fields.model.primary`.

- anti-VEGF and TGF-beta blockade neutralise a fraction of the factor that names them in its
  ``blocked_by`` (plasma and tissue sources);
- LOX inhibition scales hypoxic LOX induction;
- vessel normalisation: less leaky, better perfused capillaries (permeability and vessel pO2),
  Fidler & Kripke 2015;
- chemotherapy kills dividing cells at a log-kill rate: activated DTCs and the cells of lesions
  below the detection size, not dormant DTCs (Braun et al. 2000);
- endocrine therapy slows lesion growth and DTC reactivation by its efficacy;
- bone-targeted agents block a fraction of the factors resident matrix releases (the bone
  matrix's TGF-beta; Weilbaecher, Guise & McCauley 2011).

A window starts at ``start_day`` counted from the first cancer cell (``start = "day"``) or from
the patient's resection (``"resection"``), and ends at ``end_day`` (counted the same way) or
after ``duration_days``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fields.parameters import InterventionParameters, SpeciesParameters
from fields.parameters.therapies import THERAPIES


@dataclass(frozen=True)
class Modifiers:
    """What the therapies active at one time change (fractions neutralised, factors, rates)."""

    anti_vegf: float = 0.0
    tgfb_blockade: float = 0.0
    lox_inhibition: float = 0.0
    permeability_factor: float = 1.0
    po2_factor: float = 1.0
    kill_per_day: float = 0.0  # chemotherapy's log-kill of dividing cells (1/day)
    growth_factor: float = 1.0  # endocrine therapy: lesion growth and reactivation slowed
    resident_factor: float = 1.0  # bone-targeted agents: resident release left

    def active_fraction(self, species: SpeciesParameters) -> float:
        """Fraction of a factor left active (1 unless its blocking therapy is on)."""
        if species.blocked_by == "none":
            return 1.0
        return 1.0 - getattr(self, species.blocked_by)


def window_days(window, resection=None) -> tuple[object, object]:
    """(start, end) days of a window from the first cancer cell (None: not given / no end);
    ``resection``: the resection day (inf or None: never resected, so a course counted from
    resection never starts). Arrays broadcast."""
    if window.start_day is None:
        return None, None
    offset = 0.0
    if window.start == "resection":
        offset = np.inf if resection is None else resection
    start = offset + np.asarray(window.start_day, dtype=float)
    if window.end_day is not None:
        end = offset + np.asarray(window.end_day, dtype=float)
    elif window.duration_days is not None:
        end = start + np.asarray(window.duration_days, dtype=float)
    else:
        end = None
    return start, end


def is_active(window, t, resection=None):
    """True for start <= t < end (no end: until the end of the run); arrays broadcast."""
    start, end = window_days(window, resection)
    if start is None:
        return False
    on = np.asarray(t) >= start
    if end is not None:
        on = on & (np.asarray(t) < end)
    return bool(on) if np.ndim(on) == 0 else on


def _pick(on, value, off: float):
    if np.ndim(on) == 0 and np.ndim(value) == 0:
        return value if on else off
    return np.where(on, value, off)


def modifiers_at(iv: InterventionParameters, t, resection=None) -> Modifiers:
    """The multipliers in force at day t (a batch: t, ``resection`` and the result's fields
    are arrays)."""
    vn, chemo = iv.vessel_normalisation, iv.chemotherapy
    normalised = is_active(vn, t, resection)
    return Modifiers(
        anti_vegf=_pick(is_active(iv.anti_vegf, t, resection), iv.anti_vegf.efficacy, 0.0),
        tgfb_blockade=_pick(
            is_active(iv.tgfb_blockade, t, resection), iv.tgfb_blockade.efficacy, 0.0
        ),
        lox_inhibition=_pick(
            is_active(iv.lox_inhibition, t, resection), iv.lox_inhibition.efficacy, 0.0
        ),
        permeability_factor=_pick(normalised, vn.permeability_factor, 1.0),
        po2_factor=_pick(normalised, vn.po2_factor, 1.0),
        kill_per_day=_pick(
            is_active(chemo, t, resection), chemo.efficacy * chemo.kill_per_day, 0.0
        ),
        growth_factor=_pick(
            is_active(iv.endocrine, t, resection), 1.0 - iv.endocrine.efficacy, 1.0
        ),
        resident_factor=_pick(
            is_active(iv.bone_targeted, t, resection), 1.0 - iv.bone_targeted.efficacy, 1.0
        ),
    )


def inert(window):
    """True where a window changes nothing (no efficacy, no kill, factors of 1): a placebo,
    which then adds no events, so its runs equal the untreated ones bit for bit."""
    nil = np.asarray(getattr(window, "efficacy", 1.0), dtype=float) == 0.0
    if hasattr(window, "kill_per_day"):
        nil = nil | (np.asarray(window.kill_per_day, dtype=float) == 0.0)
    if hasattr(window, "permeability_factor"):
        nil = (np.asarray(window.permeability_factor, dtype=float) == 1.0) & (
            np.asarray(window.po2_factor, dtype=float) == 1.0
        )
    return nil


def event_times(iv: InterventionParameters, resection=None) -> list[tuple[object, str]]:
    """(day, label) of every therapy start and stop (arrays for a batch); an inert window's
    events are never (inf)."""
    events = []
    for name in THERAPIES:
        window = getattr(iv, name)
        start, end = window_days(window, resection)
        if start is not None:
            nil = inert(window)
            start = np.where(nil, np.inf, start)
            end = None if end is None else np.where(nil, np.inf, end)
            events.append((start, f"{name} start"))
            if end is not None:
                events.append((end, f"{name} stop"))
    return events
