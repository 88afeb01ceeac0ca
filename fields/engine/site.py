"""One organ-site patch: its state per voxel and its update over a step (days).

Per step: the diffusing factors are solved (quasi-steady, or backward Euler in ``transient``
mode); oxygen only when the vessels change (it settles in seconds); then LOX, stiffness, niche
and DTC states are updated exactly with the new fields frozen, and DTC motility as an implicit
diffusion step (in the cosine basis on 2d and 3d grids, :mod:`fields.numerics.spectral`).
"""

from __future__ import annotations

import numpy as np

from fields.engine.contract import field_names
from fields.engine.metastases import SiteLesions
from fields.engine.site_updates import SiteUpdates
from fields.model import dtc
from fields.model.interventions import Modifiers
from fields.model.oxygen import hypoxia
from fields.numerics.fipy_system import SystemProbe
from fields.numerics.geometry import Patch
from fields.numerics.operator import DiffusionReactionOperator
from fields.numerics.oxygen import solve_oxygen
from fields.numerics.spectral import CosineDiffusion
from fields.parameters import Parameters, SiteParameters


class SiteModel(SiteUpdates):
    """State and update of one organ-site patch."""

    def __init__(self, name: str, site: SiteParameters, params: Parameters, patch: Patch) -> None:
        self.name = name
        self.site = site
        self.p = params
        self.patch = patch
        self.species = params.species
        solver = params.transport.solver
        self.transient = params.transport.mode == "transient"
        self.responses = solver == "fast" and params.transport.linear_responses
        probes: dict[bool, SystemProbe] = {}  # one per wall condition, shared across fields

        def operator(diffusivity: float, walls: object | None) -> DiffusionReactionOperator:
            probe = None
            if solver == "fast":
                key = walls is not None
                if key not in probes:
                    probes[key] = SystemProbe(patch.mesh, walls)
                probe = probes[key]
            return DiffusionReactionOperator(patch.mesh, diffusivity, walls, solver, probe=probe)

        self.ops = {"oxygen": operator(params.oxygen.diffusivity_um2_per_s, patch.wall_faces)}
        for name_, s in self.species.items():
            self.ops[name_] = operator(s.diffusivity_um2_per_s, None)
        self.motility: CosineDiffusion | None = None
        if params.dtc.motility_um2_per_day > 0.0:
            if solver == "fast" and patch.kind in ("2d", "3d"):  # any dt without refactoring
                spacing = float(np.diff(patch.coords[patch.dims[-1]][:2])[0])
                self.motility = CosineDiffusion(
                    patch.shape, spacing, params.dtc.motility_um2_per_day
                )
            else:
                self.ops["dtc"] = operator(params.dtc.motility_um2_per_day, None)
        if solver == "fast":  # assemble now what the loop will use, not inside a time step
            for key, op in self.ops.items():
                if key != "dtc":  # oxygen and the initial state are always steady
                    op.probe.pieces("steady")
                if key == "dtc" or (self.transient and key != "oxygen"):
                    op.probe.pieces("transient")
        self.weights = patch.volume_fraction
        self.area = patch.exchange_area_per_volume
        self.organ_mm3 = site.organ_volume_ml * 1000.0
        mask = patch.distance_to_wall_um <= params.dtc.perivascular_distance_um
        if not mask.any():
            mask = patch.distance_to_wall_um <= patch.distance_to_wall_um.min()
        self.perivascular = mask.astype(float)
        self.perivascular_fraction = float(np.sum(self.weights * self.perivascular))
        self.modifiers = Modifiers()
        self._walls: dict = {}  # sinks and wall exchange by species (SiteUpdates._wall)
        n = patch.n_cells
        self.state: dict[str, np.ndarray] = {key: np.zeros(n) for key in field_names(self.species)}
        self.lesions = SiteLesions(site, params)

    # ------------------------------------------------------------------------ pieces
    def _solve_oxygen(self) -> None:
        po2 = self.site.vessel_po2_mmhg * self.modifiers.po2_factor
        previous = self.state["oxygen"] if self.state["oxygen"].any() else None
        sol = solve_oxygen(
            self.ops["oxygen"],
            self.patch,
            self.p.oxygen,
            po2,
            self.site.o2_uptake_mmhg_per_s,
            initial=previous,
        )
        self.state["oxygen"] = sol.oxygen
        self.state["hypoxia"] = hypoxia(sol.oxygen, self.p.oxygen)
        self.state["hypoxia"].flags.writeable = False  # its responses are kept while it lasts

    def set_modifiers(self, modifiers: Modifiers) -> None:
        vessels_changed = (
            modifiers.po2_factor != self.modifiers.po2_factor
            or modifiers.permeability_factor != self.modifiers.permeability_factor
        )
        self.modifiers = modifiers
        if vessels_changed:
            self._solve_oxygen()

    # ---------------------------------------------------------------------- lifecycle
    def step(self, dt: float, plasma: dict[str, float], arrivals_per_day: float) -> None:
        """Advance the site by dt days with plasma levels (pg/mL) at the step end and DTC
        arrivals in the organ (cells/day); activated DTCs found lesions, which then grow."""
        s, pd = self.state, self.p.dtc
        self._solve_species(plasma, dt)
        self._update_stroma(plasma, self.modifiers.lox_inhibition, dt)
        density = arrivals_per_day / (self.organ_mm3 * self.perivascular_fraction)
        factors = self.factors
        r = dtc.rates(
            s["stiffness"],
            s["niche"],
            s["hypoxia"],
            factors,
            self.species,
            pd,
            self.site.dtc_hostility,
        )
        before = s["dtc_proliferating"]
        s["dtc_dormant"], s["dtc_proliferating"] = dtc.update(
            s["dtc_dormant"],
            before,
            density * self.perivascular,
            r,
            self.p.dissemination.dormant_fraction_on_arrival,
            dt,
        )
        # lesions founded in the step: k_f P over the step (P's course exponential), over the organ
        mean_rate = np.sum(
            self.weights * r.founding * dtc.step_mean(before, s["dtc_proliferating"])
        )
        founded = float(mean_rate) * self.organ_mm3 * dt
        support = dtc.angiogenic_support(
            factors, self.species, self.site.vessel_cooption, s["niche"]
        )
        self.lesions.step(dt, founded, float(np.sum(self.weights * support)))
        if s["dtc_proliferating"].any() and (self.motility is not None or "dtc" in self.ops):
            p = s["dtc_proliferating"]
            if self.motility is not None:
                moved = self.motility.step(p, dt)
            else:
                moved = self.ops["dtc"].solve(0.0, 0.0, dt=dt, previous=p)
            s["dtc_proliferating"] = np.maximum(moved, 0.0)

    # ------------------------------------------------------------------------ outputs
    def proliferating_total(self) -> float:
        """Proliferating DTCs in the whole organ (cells)."""
        return float(np.sum(self.weights * self.state["dtc_proliferating"]) * self.organ_mm3)

    def series(self) -> dict[str, float]:
        """The site's time-series values now (see :data:`fields.engine.contract.SITE_SERIES`)."""
        s, w = self.state, self.weights
        return {
            "hypoxic_fraction": float(
                np.sum(w * (s["oxygen"] < self.p.oxygen.hypoxia_threshold_mmhg))
            ),
            "mean_stiffness": float(np.sum(w * s["stiffness"])),
            "niche_fraction": float(np.sum(w * (s["niche"] >= 0.5))),
            "dtc_dormant_total": float(np.sum(w * s["dtc_dormant"]) * self.organ_mm3),
            "dtc_proliferating_total": self.proliferating_total(),
            **self.lesions.series(),
        }
