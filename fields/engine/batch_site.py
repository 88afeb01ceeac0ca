"""One organ site for every run of a batch: its state as (runs, cells) arrays and its update.

The same sequence as :class:`~fields.engine.site.SiteModel` (factors, stroma, DTCs, lesions,
motility), with every parameter an array of shape (runs, 1) from
:meth:`~fields.parameters.batch.ParameterBatch.stacked` and the field solves batched
(:class:`~fields.numerics.tridiagonal.BatchTridiagonal` on Krogh meshes; on 2d and 3d grids
:class:`~fields.numerics.batch_grid.BatchGridOperator`, each run's own solves on factorisations
shared by the runs that have the same operator, and DTC motility for all runs in the cosine
basis).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fields.engine.batch_lesions import BatchLesions
from fields.engine.contract import field_names
from fields.engine.site_updates import SiteUpdates
from fields.model import dtc
from fields.model.interventions import Modifiers
from fields.model.oxygen import hypoxia
from fields.numerics import kernels
from fields.numerics.batch_grid import BatchCosineDiffusion, BatchGridOperator
from fields.numerics.fipy_system import SystemProbe
from fields.numerics.geometry import Patch
from fields.numerics.oxygen import solve_oxygen_krogh_batch
from fields.numerics.tridiagonal import BatchTridiagonal
from fields.parameters import Parameters

_PROBES: dict[tuple[int, bool], SystemProbe] = {}


def _probe(patch: Patch, walls: bool) -> SystemProbe:
    key = (id(patch.mesh), walls)
    if key not in _PROBES:  # keyed by the mesh object, which the patch cache keeps alive
        _PROBES[key] = SystemProbe(patch.mesh, patch.wall_faces if walls else None)
    return _PROBES[key]


class BatchSite(SiteUpdates):
    """State and update of one organ site for a batch of runs (``patches[r]``: run r's patch)."""

    def __init__(self, name: str, p: Parameters, patches: Sequence[Patch]) -> None:
        self.name = name
        self.patches = list(patches)
        self.runs = len(self.patches)
        self.transient = p.transport.mode == "transient"
        self.moves = bool(np.any(p.dtc.motility_um2_per_day > 0.0))
        self.grid = self.patches[0].kind != "krogh"
        # each run's own solvers on 2d and 3d grids (as SiteModel's fast path), batched
        # tridiagonal solves on Krogh meshes
        solver = BatchGridOperator if self.grid else BatchTridiagonal
        walled = [_probe(patch, True) for patch in self.patches]
        plain = [_probe(patch, False) for patch in self.patches]
        self.ops = {"oxygen": solver(walled, p.oxygen.diffusivity_um2_per_s)}
        for key, s in p.species.items():
            self.ops[key] = solver(plain, s.diffusivity_um2_per_s)
        self.responses = self.grid and p.transport.linear_responses
        self.motility: BatchCosineDiffusion | None = None
        if self.moves and self.grid:  # any step in the cosine basis, as SiteModel
            patch = self.patches[0]
            spacing = float(np.diff(patch.coords[patch.dims[-1]][:2])[0])
            self.motility = BatchCosineDiffusion(
                patch.shape, spacing, p.dtc.motility_um2_per_day + np.zeros((self.runs, 1))
            )
        elif self.moves:
            self.ops["dtc"] = BatchTridiagonal(plain, p.dtc.motility_um2_per_day)
        self._geometry()
        self.set_parameters(p)
        n = self.patches[0].n_cells
        self.state = {key: np.zeros((self.runs, n)) for key in field_names(p.species)}
        self.modifiers = Modifiers()
        self.lesions = BatchLesions(name, p, self.runs)

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
        self._walls: dict = {}  # sinks and wall exchange by species (SiteUpdates._wall)
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

    # ------------------------------------------------------------------------ pieces
    def _po2(self) -> np.ndarray:
        return self.site.vessel_po2_mmhg * np.asarray(self.modifiers.po2_factor) + np.zeros(
            (self.runs, 1)
        )

    def _solve_oxygen(self, rows: np.ndarray | None = None) -> None:
        previous = self.state["oxygen"]
        if self.grid:
            changed = np.ones(self.runs, dtype=bool) if rows is None else rows[:, 0]
            self.state["oxygen"] = self.ops["oxygen"].oxygen(
                self.patches,
                self.p.oxygen,
                self._po2(),
                self.site.o2_uptake_mmhg_per_s,
                previous,
                changed,
            )
            self.state["hypoxia"] = hypoxia(self.state["oxygen"], self.p.oxygen)
            self.state["hypoxia"].flags.writeable = False  # responses kept while it lasts
            return
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

    def set_modifiers(self, modifiers: Modifiers) -> None:
        changed = (np.asarray(modifiers.po2_factor) != np.asarray(self.modifiers.po2_factor)) | (
            np.asarray(modifiers.permeability_factor)
            != np.asarray(self.modifiers.permeability_factor)
        )
        self.modifiers = modifiers
        if np.any(changed):
            self._solve_oxygen(np.broadcast_to(changed, (self.runs, 1)))

    # ---------------------------------------------------------------------- lifecycle
    def step(self, dt: np.ndarray, plasma: dict[str, np.ndarray], arrivals: np.ndarray) -> None:
        """Advance every run by its own dt (days, (runs, 1)); ``arrivals`` in cells/day."""
        s, pd = self.state, self.p.dtc
        self._solve_species(plasma, dt)
        self._update_stroma(plasma, self.modifiers.lox_inhibition, dt)
        density = arrivals / (self.organ_mm3 * self.perivascular_fraction)
        fac = self.factors
        r = dtc.rates(
            s["stiffness"], s["niche"], s["hypoxia"], fac, self.species, pd, self.site.dtc_hostility
        )
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
        rate = np.sum(
            self.weights * r.founding * dtc.step_mean(before, s["dtc_proliferating"]),
            axis=1,
            keepdims=True,
        )
        founded = rate * self.organ_mm3 * dt
        support = dtc.angiogenic_support(fac, self.species, self.site.vessel_cooption, s["niche"])
        self.lesions.step(dt, founded, np.sum(self.weights * support, axis=1, keepdims=True))
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
        """The site's series for every run, as (runs, 1) arrays."""
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
