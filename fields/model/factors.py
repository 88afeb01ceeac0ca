"""Diffusing factors in tissue: their sources and sinks, and the responses they drive.

For a species X with concentration C (pg/mL) in a patch, the sink (1/s) and source (pg/mL/s)::

    k(x) = k_decay + a(x) P_X p_site
    s(x) = a(x) P_X p_site C_plasma + m (sigma_H H + sigma_N n + sigma_site + sigma_0)

with a(x) the capillary wall area per tissue volume (1/um), P_X the permeability (um/s), p_site
the site's permeability factor, m the fraction left active by therapy and sigma_0 the secretion by
healthy tissue (which holds interstitial VEGF-A above plasma; Stefanini et al. 2008). Responses are Hill
functions of C declared in the species data (:mod:`fields.parameters.species`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from fields.model.kinetics import hill
from fields.parameters import SpeciesParameters


def wall_exchange_per_s(
    exchange_area_per_um: np.ndarray, s: SpeciesParameters, permeability_factor: float
) -> np.ndarray:
    """a(x) P_X p_site (1/s): exchange with plasma across the capillary wall."""
    return exchange_area_per_um * s.permeability_um_per_s * permeability_factor


def sink_per_s(
    exchange_area_per_um: np.ndarray, s: SpeciesParameters, permeability_factor: float
) -> np.ndarray:
    """k(x) = tissue decay + wall exchange (1/s)."""
    return s.tissue_decay_per_s + wall_exchange_per_s(exchange_area_per_um, s, permeability_factor)


def sum_terms(terms: list[tuple[float, str, np.ndarray | float]]) -> np.ndarray:
    """The source s(x) (pg/mL/s) that (coefficient, tag, field) terms add up to: with
    :func:`source_terms`, wall influx from plasma plus hypoxic, niche and resident secretion."""
    return sum(coefficient * values for coefficient, _, values in terms)


def source_terms(
    exchange_area_per_um: np.ndarray,
    s: SpeciesParameters,
    permeability_factor: float,
    plasma: float,
    hypoxia_field: np.ndarray,
    niche: np.ndarray,
    resident: float,
    active_fraction: float,
    exchange: np.ndarray | None = None,
) -> list[tuple[float, str, np.ndarray | float]]:
    """The source as (coefficient, tag, field) terms: plasma times the wall exchange field, and
    the active secretion by hypoxia, niche and the uniform resident and basal rates (the
    linear-response form of a quasi-steady field). ``exchange``: the wall exchange a P_X p_site
    (1/s) when the caller keeps it."""
    if exchange is None:
        exchange = wall_exchange_per_s(exchange_area_per_um, s, permeability_factor)
    m = active_fraction
    return [
        (plasma, "wall", exchange),
        (m * s.hypoxic_secretion_pg_per_ml_per_s, "hypoxia", hypoxia_field),
        (m * s.niche_secretion_pg_per_ml_per_s, "niche", niche),
        (m * (resident + s.basal_secretion_pg_per_ml_per_s), "uniform", 1.0),
    ]


def signals(
    factors: Mapping[str, np.ndarray], species: Mapping[str, SpeciesParameters], response: str
) -> list[np.ndarray]:
    """hill(C_X, K_X, n_X) for every species that declares ``response``, in species order."""
    out = []
    for name, s in species.items():
        declared = s.response(response)
        if declared is not None:
            out.append(hill(factors[name], *declared))
    return out


def union(parts: list[np.ndarray], like: np.ndarray) -> np.ndarray:
    """1 - prod(1 - s_i): any one signal suffices (0 without signals)."""
    if not parts:
        return np.zeros_like(like)
    if len(parts) == 1:
        return parts[0]
    off = 1.0 - parts[0]
    for part in parts[1:]:
        off = off * (1.0 - part)
    return 1.0 - off
