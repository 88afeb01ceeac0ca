"""One organ site for every run of a batch: its state per run and voxel, and its update (days).

Per step: the diffusing factors are solved (quasi-steady, or backward Euler in ``transient``
mode); oxygen only when the vessels change (it settles in seconds); then LOX, stiffness, niche
and DTC states are updated exactly with the new fields frozen, activated DTCs found lesions
(:mod:`fields.engine.metastases`), and DTC motility takes an implicit diffusion step. Every
parameter may be an array of shape (runs, 1) from
:meth:`~fields.parameters.batch.ParameterBatch.stacked`, and every state is a (runs, cells) array;
a single run is a batch of one. Field solves: batched tridiagonal solves on Krogh meshes
(:class:`~fields.numerics.tridiagonal.BatchTridiagonal`); each run's own operators on 2d and 3d
grids and with the plain-FiPy reference solver (:class:`~fields.numerics.run_operators.RunOperators`,
factorisations shared by the runs with the same operator); DTC motility on grids for all runs in
the cosine basis.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from fields.engine.contract import field_names
from fields.engine.metastases import SiteLesions
from fields.model import dtc, factors, stroma
from fields.model.interventions import Modifiers
from fields.model.oxygen import hypoxia
from fields.numerics import kernels
from fields.numerics.fipy_system import SystemProbe
from fields.numerics.geometry import Patch
from fields.numerics.operator import SECONDS_PER_DAY
from fields.numerics.oxygen import solve_oxygen_krogh_batch
from fields.numerics.run_operators import RunOperators
from fields.numerics.spectral import CosineDiffusion
from fields.numerics.tridiagonal import BatchTridiagonal
from fields.parameters import Parameters


def _probe(patch: Patch, walls: bool) -> SystemProbe:
    """The patch's mesh probe with or without its wall faces, kept with the patch."""
    probes = patch.extra.setdefault("probes", {})
    if walls not in probes:
        probes[walls] = SystemProbe(patch.mesh, patch.wall_faces if walls else None)
    return probes[walls]


class Site:
    """State and update of one organ site for a batch of runs (``patches[r]``: run r's patch)."""

    def __init__(self, name: str, p: Parameters, patches: Sequence[Patch]) -> None:
        self.name = name
        self.patches = list(patches)
        self.runs = len(self.patches)
        self.transient = p.transport.mode == "transient"
        self.moves = bool(np.any(p.dtc.motility_um2_per_day > 0.0))
        self.grid = self.patches[0].kind != "krogh"
        solver = p.transport.solver
        per_run = self.grid or solver == "fipy"

        def operators(walls: bool, diffusivity) -> RunOperators | BatchTridiagonal:
            probes = [_probe(patch, walls) for patch in self.patches]
            if per_run:
                return RunOperators(probes, diffusivity, solver)
            return BatchTridiagonal(probes, diffusivity)

        self.ops = {"oxygen": operators(True, p.oxygen.diffusivity_um2_per_s)}
        for key, s in p.species.items():
            self.ops[key] = operators(False, s.diffusivity_um2_per_s)
        self.responses = per_run and solver == "fast" and p.transport.linear_responses
        self.motility: CosineDiffusion | None = None
        if self.moves and self.grid:  # any step in the cosine basis
            patch = self.patches[0]
            spacing = float(np.diff(patch.coords[patch.dims[-1]][:2])[0])
            self.motility = CosineDiffusion(
                patch.shape, spacing, p.dtc.motility_um2_per_day + np.zeros((self.runs, 1))
            )
        elif self.moves:
            self.ops["dtc"] = operators(False, p.dtc.motility_um2_per_day)
        if solver == "fast":  # assemble now what the loop will use, not inside a time step
            for key in self.ops:
                for patch in {id(q.mesh): q for q in self.patches}.values():
                    probe = _probe(patch, key == "oxygen")
                    if key != "dtc":  # oxygen and the initial state are always steady
                        probe.pieces("steady")
                    if key == "dtc" or (self.transient and key != "oxygen"):
                        probe.pieces("transient")
        self._geometry()
        self.set_parameters(p)
        n = self.patches[0].n_cells
        self.state = {key: np.zeros((self.runs, n)) for key in field_names(p.species)}
        self.modifiers = Modifiers()
        self.lesions = SiteLesions(name, p, self.runs)

    def _geometry(self) -> None:
        def rows(values) -> np.ndarray:
            if all(patch is self.patches[0] for patch in self.patches):
                return np.asarray(values(self.patches[0]), dtype=float)[None, :]
            return np.stack([np.asarray(values(patch), dtype=float) for patch in self.patches])

        self.weights = rows(lambda patch: patch.volume_fraction)
        self.area = rows(lambda patch: patch.exchange_area_per_volume)
        self.distance = rows(lambda patch: patch.distance_to_wall_um)

    def set_parameters(self, p: Parameters) -> None:
        self.p = p
        self._walls: dict = {}  # sinks and wall exchange by species (_wall)
        self.site = p.sites[self.name]
        self.species = p.species
        self.organ_mm3 = self.site.organ_volume_ml * 1000.0
        mask = self.distance <= p.dtc.perivascular_distance_um
        closest = self.distance <= self.distance.min(axis=1, keepdims=True)
        mask = np.where(mask.any(axis=1, keepdims=True), mask, closest)
        self.perivascular = mask.astype(float)
        self.perivascular_fraction = np.sum(self.weights * self.perivascular, axis=1, keepdims=True)

    def take(self, keep: np.ndarray, p: Parameters) -> None:
        """Keep only the runs ``keep`` (indices), with the smaller batch's parameters ``p``."""
        self.patches = [self.patches[i] for i in keep]
        self.runs = int(keep.size)
        for op in self.ops.values():
            op.take(keep)
        if self.motility is not None:
            self.motility.take(keep)
        if self.weights.shape[0] > 1:
            self._geometry()
        self.set_parameters(p)
        self.state = {key: value[keep] for key, value in self.state.items()}
        self.modifiers = Modifiers(
            **{
                key: (value[keep] if np.ndim(value) else value)
                for key, value in vars(self.modifiers).items()
            }
        )
        self.lesions.take(keep, p, self.name)

    # ------------------------------------------------------------------------ oxygen
    def _po2(self) -> np.ndarray:
        return self.site.vessel_po2_mmhg * np.asarray(self.modifiers.po2_factor) + np.zeros(
            (self.runs, 1)
        )

    def _solve_oxygen(self, rows: np.ndarray | None = None) -> None:
        """Steady oxygen of the runs ``rows`` ((runs, 1) bool; None: all) and their hypoxia."""
        previous = self.state["oxygen"]
        if isinstance(self.ops["oxygen"], RunOperators):
            changed = np.ones(self.runs, dtype=bool) if rows is None else rows[:, 0]
            o2 = self.ops["oxygen"].oxygen(
                self.patches,
                self.p.oxygen,
                self._po2(),
                self.site.o2_uptake_mmhg_per_s,
                previous,
                changed,
            )
        else:
            initial = np.where(previous.any(axis=1, keepdims=True), previous, self._po2())
            o2 = solve_oxygen_krogh_batch(
                self.ops["oxygen"],
                self.p.oxygen,
                self._po2(),
                self.site.o2_uptake_mmhg_per_s + np.zeros((self.runs, 1)),
                initial=initial,
            )
            if rows is not None:
                o2 = np.where(rows, o2, previous)
        self.state["oxygen"] = o2
        self.state["hypoxia"] = hypoxia(o2, self.p.oxygen)
        self.state["hypoxia"].flags.writeable = False  # its responses are kept while it lasts

    def set_modifiers(self, modifiers: Modifiers) -> None:
        changed = (np.asarray(modifiers.po2_factor) != np.asarray(self.modifiers.po2_factor)) | (
            np.asarray(modifiers.permeability_factor)
            != np.asarray(self.modifiers.permeability_factor)
        )
        self.modifiers = modifiers
        if np.any(changed):
            self._solve_oxygen(np.broadcast_to(changed, (self.runs, 1)))

    # ------------------------------------------------------------------------ factors
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
            self.site.resident_secretion_pg_per_ml_per_s.get(name, 0.0)
            * self.modifiers.resident_factor,
            self.modifiers.active_fraction(s),
            exchange,
        )
        return sink, terms

    def _solve_species(self, plasma, dt_days) -> None:
        for name in self.species:
            sink, terms = self.sink_and_terms(name, plasma)
            if self.responses and not (self.transient and dt_days is not None):
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

    # ---------------------------------------------------------------------- lifecycle
    def initialise(self, plasma) -> None:
        """Healthy steady state for the plasma levels at day 0; no DTCs yet."""
        self._solve_oxygen()
        self.state["stiffness"][...] = self.site.baseline_stiffness_kpa
        for _ in range(3):  # niche feeds back on the factors: a few fixed-point passes
            self._solve_species(plasma, None)
            self._update_stroma(plasma, 0.0, math.inf)

    def step(self, dt: np.ndarray, plasma: dict[str, np.ndarray], arrivals: np.ndarray) -> None:
        """Advance every run by its own dt (days, (runs, 1)) with plasma levels (pg/mL) at the
        step end and DTC arrivals in the organ (cells/day); activated DTCs found lesions, which
        then grow."""
        s, pd = self.state, self.p.dtc
        self._solve_species(plasma, dt)
        self._update_stroma(plasma, self.modifiers.lox_inhibition, dt)
        density = arrivals / (self.organ_mm3 * self.perivascular_fraction)
        fac = self.factors
        r = dtc.rates(
            s["stiffness"], s["niche"], s["hypoxia"], fac, self.species, pd, self.site.dtc_hostility
        )
        mods = self.modifiers
        if np.any(np.asarray(mods.kill_per_day) > 0.0):  # chemotherapy kills dividing cells
            r.death_proliferating = r.death_proliferating + mods.kill_per_day
        if np.any(np.asarray(mods.growth_factor) != 1.0):  # endocrine therapy slows escape
            r.reactivation = r.reactivation * mods.growth_factor
        before = s["dtc_proliferating"]
        arrivals = density * self.perivascular
        share = self.p.dissemination.dormant_fraction_on_arrival
        if kernels.backend() == "numba":
            s["dtc_dormant"], s["dtc_proliferating"] = kernels.dtc_update(
                *dtc.system(arrivals, r, share), s["dtc_dormant"], before, dt
            )
        else:
            s["dtc_dormant"], s["dtc_proliferating"] = dtc.update(
                s["dtc_dormant"], before, arrivals, r, share, dt
            )
        # lesions founded in the step: k_f P over the step (P's course exponential), over the organ
        rate = np.sum(
            self.weights * r.founding * dtc.step_mean(before, s["dtc_proliferating"]),
            axis=1,
            keepdims=True,
        )
        founded = rate * self.organ_mm3 * dt
        support = dtc.angiogenic_support(fac, self.species, self.site.vessel_cooption, s["niche"])
        self.lesions.step(
            dt,
            founded,
            np.sum(self.weights * support, axis=1, keepdims=True),
            growth=mods.growth_factor,
            kill=mods.kill_per_day,
        )
        if self.moves:
            if self.motility is not None:
                moved = self.motility.step(s["dtc_proliferating"], dt)
            else:
                moved = self.ops["dtc"].solve(0.0, 0.0, dt=dt, previous=s["dtc_proliferating"])
            still = np.asarray(pd.motility_um2_per_day <= 0.0) | ~s["dtc_proliferating"].any(
                axis=1, keepdims=True
            )
            s["dtc_proliferating"] = np.where(still, s["dtc_proliferating"], np.maximum(moved, 0))

    # ------------------------------------------------------------------------ outputs
    def series(self) -> dict[str, np.ndarray]:
        """The site's series for every run, as (runs, 1) arrays (organ-scaled or patch means)."""
        s, w = self.state, self.weights
        threshold = self.p.oxygen.hypoxia_threshold_mmhg

        def mean(values: np.ndarray) -> np.ndarray:
            return np.sum(w * values, axis=1, keepdims=True)

        return {
            "hypoxic_fraction": mean(s["oxygen"] < threshold),
            "mean_stiffness": mean(s["stiffness"]),
            "niche_fraction": mean(s["niche"] >= 0.5),
            "dtc_dormant_total": mean(s["dtc_dormant"]) * self.organ_mm3,
            "dtc_proliferating_total": mean(s["dtc_proliferating"]) * self.organ_mm3,
        }
