"""Where shed cells go and how the clinic counts them (pure functions; days, cells).

Cells shed into the venous blood meet the lung's capillaries first. A share ``pi``
(``dissemination.transpulmonary_passage``) passes them and reaches the systemic arteries, which
share it out by blood flow (fraction of cardiac output to each organ); the cells arrest in the
first capillary bed they meet ([chambers2002]) and a site-specific share survives arrest and
extravasation as DTCs (``sites.<site>.arrest_survival``). So a site receives a share

    lung:   (1 - pi) s_lung,        systemic organ X:   pi q_X s_X

of the shed cells; the rest die in the circulation, in the capillaries or in organs that are not
simulated. A CellSearch sample of V mL of a blood volume V_b holds on average J tau V / V_b c
cells (J the cells shed per day, tau the mean time a cell circulates, c the capture efficiency),
and a marrow aspirate the site's DTCs times the share of marrow cells it assays.
"""

from __future__ import annotations

import math

import numpy as np

from fields.parameters import Parameters


def arrest_shares(p: Parameters) -> dict[str, float | np.ndarray]:
    """The share of shed cells that arrest in each declared site and survive there as DTCs
    (arrays broadcast over a batch's runs)."""
    passage = p.dissemination.transpulmonary_passage
    out = {}
    for name, site in p.sites.items():
        reach = 1.0 - passage if site.capillary_bed == "pulmonary" else passage
        out[name] = reach * site.blood_flow_fraction * site.arrest_survival
    return out


def ctc_lifetime_days(p: Parameters) -> float | np.ndarray:
    """Mean time a shed cell circulates (days): the half-life over ln 2."""
    return p.dissemination.ctc_half_life_h / 24.0 / math.log(2.0)


def ctc_expected(shed_per_day, p: Parameters):
    """Expected CTCs counted in one CellSearch sample at a shedding of ``shed_per_day``."""
    a = p.assays
    in_blood = np.asarray(shed_per_day, dtype=float) * ctc_lifetime_days(p)
    return in_blood * a.ctc_sample_ml / a.blood_volume_ml * a.ctc_capture_efficiency


def marrow_dtc_expected(marrow_dtcs, p: Parameters):
    """Expected DTCs found in one bone-marrow aspirate when the marrow holds ``marrow_dtcs``."""
    a = p.assays
    return (
        np.asarray(marrow_dtcs, dtype=float)
        * a.marrow_sampled_fraction
        * (a.dtc_detection_efficiency)
    )
