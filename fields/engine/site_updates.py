"""The field and stroma updates that one site and a batch of sites share.

:class:`SiteUpdates` is mixed into :class:`~fields.engine.site.SiteModel` (state per voxel) and
:class:`~fields.engine.batch_site.BatchSite` (state per run and voxel); the rate laws broadcast,
so the same code serves both. The host provides ``state``, ``species``, ``site``, ``p``,
``modifiers``, ``ops`` (one solver per field), ``transient``, ``_walls`` (a dict, emptied
when the parameters or the patch change), ``area`` (capillary wall area per
tissue volume, 1/um) and ``_solve_oxygen``; a host with ``responses`` true solves quasi-steady
factors as sums of kept linear responses (:meth:`DiffusionReactionOperator.superpose`).
"""

from __future__ import annotations

import math

import numpy as np

from fields.model import factors, stroma
from fields.numerics.operator import SECONDS_PER_DAY


class SiteUpdates:
    """Quasi-steady (or backward-Euler) factor solves, the stroma ODEs and the healthy start."""

    @property
    def factors(self) -> dict[str, np.ndarray]:
        """The interstitial concentration of every species (pg/mL), by name."""
        return {name: self.state[name] for name in self.species}

    def sink_and_terms(self, name: str, plasma) -> tuple[np.ndarray, list]:
        """The sink k (1/s) of species ``name`` and its source as linear-response terms
        (:func:`fields.model.factors.source_terms`) for plasma levels ``plasma`` (pg/mL, by
        species) and the current state and modifiers."""
        s = self.species[name]
        perm = self.site.permeability_factor * self.modifiers.permeability_factor
        sink, exchange = self._wall(name, s, perm)
        terms = factors.source_terms(
            self.area,
            s,
            perm,
            plasma[name],
            self.state["hypoxia"],
            self.state["niche"],
            self.site.resident_secretion_pg_per_ml_per_s.get(name, 0.0),
            self.modifiers.active_fraction(s),
            exchange,
        )
        return sink, terms

    def _solve_species(self, plasma, dt_days) -> None:
        responses = getattr(self, "responses", False)
        for name in self.species:
            sink, terms = self.sink_and_terms(name, plasma)
            if responses and not (self.transient and dt_days is not None):
                self.state[name] = np.maximum(self.ops[name].superpose(sink, terms), 0.0)
                continue
            source = factors.sum_terms(terms)
            if self.transient and dt_days is not None:
                value = self.ops[name].solve(
                    sink, source, dt=dt_days * SECONDS_PER_DAY, previous=self.state[name]
                )
            else:
                value = self.ops[name].solve(sink, source)
            self.state[name] = np.maximum(value, 0.0)

    def _wall(self, name: str, s, perm) -> tuple[np.ndarray, np.ndarray]:
        """The sink k (1/s) and wall exchange a P_X p_site (1/s) of species ``name``, kept
        read-only while the permeability is unchanged: the solvers then know them unchanged
        without reading them (:meth:`DiffusionReactionOperator.superpose`)."""
        kept = self._walls
        key = (name, np.asarray(perm, dtype=float).tobytes())
        if key not in kept:
            exchange = np.array(factors.wall_exchange_per_s(self.area, s, perm), dtype=float)
            sink = s.tissue_decay_per_s + exchange
            sink.flags.writeable = exchange.flags.writeable = False
            if len(kept) > 4 * len(self.species):  # interventions change perm rarely
                kept.clear()
            kept[key] = (sink, exchange)
        return kept[key]

    def _update_stroma(self, plasma, lox_inhibition, dt) -> None:
        s, st, fac = self.state, self.p.stroma, self.factors
        s["lox"] = stroma.update_lox(s["lox"], s["hypoxia"], st, lox_inhibition, dt)
        s["stiffness"] = stroma.update_stiffness(
            s["stiffness"], s["lox"], fac, self.species, self.site.baseline_stiffness_kpa, st, dt
        )
        stim = stroma.niche_stimulus(fac, plasma, self.species, s["niche"])
        s["niche"] = stroma.update_niche(s["niche"], stim, st, dt)

    def initialise(self, plasma) -> None:
        """Healthy steady state for the plasma levels at day 0; no DTCs yet."""
        self._solve_oxygen()
        self.state["stiffness"][...] = self.site.baseline_stiffness_kpa
        for _ in range(3):  # niche feeds back on the factors: a few fixed-point passes
            self._solve_species(plasma, None)
            self._update_stroma(plasma, 0.0, math.inf)
