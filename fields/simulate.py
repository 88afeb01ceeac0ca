"""The coupled time loop: primary -> plasma -> fields -> stroma -> DTCs (DESIGN 3-4).

Operator splitting per step [t, t + dt] (days):

1. systemic ODEs advanced exactly (growth closed form, plasma exact for stiff clearance);
2. VEGF and TGF-beta solved at t + dt (quasi-steady, or backward Euler in ``transient`` mode);
   oxygen is re-solved only when the vessels change (it settles in seconds);
3. LOX, stiffness, niche and DTC states updated exactly with the new fields frozen;
4. DTC motility as an implicit diffusion step.

Steps are small (``stepping.dt_min_days``) after every event (resection, therapy start/stop,
dissemination onset) and grow geometrically to ``stepping.dt_max_days``; outputs and events are
hit exactly.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from fields import dtc, primary, stroma
from fields.errors import FieldsInputError
from fields.geometry import GEOMETRIES, Patch, make_patch
from fields.guards import check_site, check_systemic
from fields.interventions import Modifiers, event_times, modifiers_at
from fields.parameters import Parameters
from fields.sites import SITE_NAMES, SiteParameters
from fields.transport import (
    SECONDS_PER_DAY,
    DiffusionReactionOperator,
    SystemProbe,
    hypoxia,
    solve_oxygen,
    species_sink_per_s,
    species_source_per_s,
)

SPECIES = ("vegf", "tgfb")
#: The default scenario's sites (breast cancer's common metastatic organs).
DEFAULT_SITES = ("lung", "liver", "bone_marrow", "brain", "lymph_node")
FIELD_NAMES = (
    "oxygen",
    "vegf",
    "tgfb",
    "hypoxia",
    "lox",
    "stiffness",
    "niche",
    "dtc_dormant",
    "dtc_proliferating",
)
SITE_SERIES = (
    "hypoxic_fraction",
    "mean_stiffness",
    "niche_fraction",
    "dtc_dormant_total",
    "dtc_proliferating_total",
)
SYSTEMIC_SERIES = (
    "tumour_cells",
    "tumour_diameter_mm",
    "plasma_vegf",
    "plasma_tgfb",
    "dissemination_rate",
)


class SiteModel:
    """State and update of one organ-site patch."""

    def __init__(self, name: str, site: SiteParameters, params: Parameters, patch: Patch) -> None:
        self.name = name
        self.site = site
        self.p = params
        self.patch = patch
        solver = params.transport.solver
        self.transient = params.transport.mode == "transient"
        probes: dict[bool, SystemProbe] = {}  # one per wall condition, shared across fields

        def operator(diffusivity: float, walls: object | None) -> DiffusionReactionOperator:
            probe = None
            if solver == "fast":
                key = walls is not None
                if key not in probes:
                    probes[key] = SystemProbe(patch.mesh, walls)
                probe = probes[key]
            return DiffusionReactionOperator(patch.mesh, diffusivity, walls, solver, probe=probe)

        self.ops = {
            "oxygen": operator(params.oxygen.diffusivity_um2_per_s, patch.wall_faces),
            "vegf": operator(params.vegf.diffusivity_um2_per_s, None),
            "tgfb": operator(params.tgfb.diffusivity_um2_per_s, None),
        }
        if params.dtc.motility_um2_per_day > 0.0:
            self.ops["dtc"] = operator(params.dtc.motility_um2_per_day, None)
        if solver == "fast":  # assemble now what the loop will use, not inside a time step
            for name, op in self.ops.items():
                if name != "dtc":  # oxygen and the initial state are always steady
                    op.probe.pieces("steady")
                if name == "dtc" or (self.transient and name != "oxygen"):
                    op.probe.pieces("transient")
        self.weights = patch.volume_fraction
        self.organ_mm3 = site.organ_volume_ml * 1000.0
        mask = patch.distance_to_wall_um <= params.dtc.perivascular_distance_um
        if not mask.any():
            mask = patch.distance_to_wall_um <= patch.distance_to_wall_um.min()
        self.perivascular = mask.astype(float)
        self.perivascular_fraction = float(np.sum(self.weights * self.perivascular))
        self.modifiers = Modifiers()
        n = patch.n_cells
        self.state: dict[str, np.ndarray] = {name: np.zeros(n) for name in FIELD_NAMES}

    # ------------------------------------------------------------------------ pieces
    def _solve_oxygen(self) -> None:
        po2 = self.site.vessel_po2_mmhg * self.modifiers.po2_factor
        previous = self.state["oxygen"] if self.state["oxygen"].any() else None
        sol = solve_oxygen(self.ops["oxygen"], self.patch, self.p.oxygen, po2, initial=previous)
        self.state["oxygen"] = sol.oxygen
        self.state["hypoxia"] = hypoxia(sol.oxygen, self.p.oxygen)

    def _solve_species(self, plasma: dict[str, float], dt_days: float | None) -> None:
        perm = self.site.permeability_factor * self.modifiers.permeability_factor
        for species in SPECIES:
            sp_params = getattr(self.p, species)
            resident = self.site.resident_tgfb_pg_per_ml_per_s if species == "tgfb" else 0.0
            sink = species_sink_per_s(self.patch, sp_params, perm)
            source = species_source_per_s(
                self.patch,
                sp_params,
                perm,
                plasma[species],
                self.state["hypoxia"],
                self.state["niche"],
                resident,
                self.modifiers.active_fraction(species),
            )
            if self.transient and dt_days is not None:
                value = self.ops[species].solve(
                    sink, source, dt=dt_days * SECONDS_PER_DAY, previous=self.state[species]
                )
            else:
                value = self.ops[species].solve(sink, source)
            self.state[species] = np.maximum(value, 0.0)

    def set_modifiers(self, modifiers: Modifiers) -> None:
        vessels_changed = (
            modifiers.po2_factor != self.modifiers.po2_factor
            or modifiers.permeability_factor != self.modifiers.permeability_factor
        )
        self.modifiers = modifiers
        if vessels_changed:
            self._solve_oxygen()

    # ---------------------------------------------------------------------- lifecycle
    def initialise(self, plasma: dict[str, float]) -> None:
        """Healthy steady state for the plasma levels at day 0; no DTCs yet."""
        s, st = self.state, self.p.stroma
        self._solve_oxygen()
        s["stiffness"][:] = self.site.baseline_stiffness_kpa
        for _ in range(3):  # niche feeds back on VEGF/TGF-beta: a few fixed-point passes
            self._solve_species(plasma, None)
            s["lox"] = stroma.update_lox(s["lox"], s["hypoxia"], st, 0.0, math.inf)
            s["stiffness"] = stroma.update_stiffness(
                s["stiffness"], s["lox"], s["tgfb"], self.site.baseline_stiffness_kpa, st, math.inf
            )
            stim = stroma.niche_stimulus(s["vegf"], s["tgfb"], st)
            s["niche"] = stroma.update_niche(s["niche"], stim, st, math.inf)

    def step(self, dt: float, plasma: dict[str, float], arrivals_per_day: float) -> None:
        """Advance the site by dt days with plasma levels at the step end."""
        s, st, pd = self.state, self.p.stroma, self.p.dtc
        self._solve_species(plasma, dt)
        s["lox"] = stroma.update_lox(s["lox"], s["hypoxia"], st, self.modifiers.lox_inhibition, dt)
        s["stiffness"] = stroma.update_stiffness(
            s["stiffness"], s["lox"], s["tgfb"], self.site.baseline_stiffness_kpa, st, dt
        )
        stim = stroma.niche_stimulus(s["vegf"], s["tgfb"], st)
        s["niche"] = stroma.update_niche(s["niche"], stim, st, dt)
        density = arrivals_per_day / (self.organ_mm3 * self.perivascular_fraction)
        crowding = (s["dtc_dormant"] + s["dtc_proliferating"]) / pd.carrying_capacity_per_mm3
        r = dtc.rates(
            s["stiffness"],
            s["niche"],
            s["vegf"],
            s["hypoxia"],
            s["tgfb"],
            crowding,
            pd,
            self.site.dtc_hostility,
            self.site.vessel_cooption,
        )
        s["dtc_dormant"], s["dtc_proliferating"] = dtc.update(
            s["dtc_dormant"],
            s["dtc_proliferating"],
            density * self.perivascular,
            r,
            self.p.dissemination.dormant_fraction_on_arrival,
            dt,
        )
        if "dtc" in self.ops and s["dtc_proliferating"].any():
            moved = self.ops["dtc"].solve(0.0, 0.0, dt=dt, previous=s["dtc_proliferating"])
            s["dtc_proliferating"] = np.maximum(moved, 0.0)

    # ------------------------------------------------------------------------ outputs
    def proliferating_total(self) -> float:
        """Proliferating DTCs in the whole organ (cells)."""
        return float(np.sum(self.weights * self.state["dtc_proliferating"]) * self.organ_mm3)

    def series(self) -> dict[str, float]:
        s, w = self.state, self.weights
        return {
            "hypoxic_fraction": float(
                np.sum(w * (s["oxygen"] < self.p.oxygen.hypoxia_threshold_mmhg))
            ),
            "mean_stiffness": float(np.sum(w * s["stiffness"])),
            "niche_fraction": float(np.sum(w * (s["niche"] >= 0.5))),
            "dtc_dormant_total": float(np.sum(w * s["dtc_dormant"]) * self.organ_mm3),
            "dtc_proliferating_total": self.proliferating_total(),
        }


@dataclass
class Recorder:
    """Collects outputs at the requested days."""

    store_fields: bool
    times: list[float] = field(default_factory=list)
    systemic: dict[str, list[float]] = field(default_factory=dict)
    site_series: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    site_fields: dict[str, dict[str, list[np.ndarray]]] = field(default_factory=dict)

    def record(self, t: float, systemic: dict[str, float], sites: dict[str, SiteModel]) -> None:
        self.times.append(t)
        for key, value in systemic.items():
            self.systemic.setdefault(key, []).append(value)
        for name, model in sites.items():
            for key, value in model.series().items():
                self.site_series.setdefault(name, {}).setdefault(key, []).append(value)
            if self.store_fields:
                store = self.site_fields.setdefault(name, {})
                for key in FIELD_NAMES:
                    store.setdefault(key, []).append(model.patch.to_grid(model.state[key]).copy())


def _check_inputs(
    sites: Sequence[str], days: float, geometry: str, output_every_days: float, seed: int
) -> list[str]:
    if isinstance(sites, str):
        sites = [sites]
    names = list(dict.fromkeys(sites))
    if not names:
        raise FieldsInputError(
            f"sites = [] is not allowed: at least one of {', '.join(SITE_NAMES)}"
        )
    for name in names:
        if name not in SITE_NAMES:
            raise FieldsInputError(
                f"site = {name!r} is not allowed: one of {', '.join(SITE_NAMES)}"
            )
    if geometry not in GEOMETRIES:
        raise FieldsInputError(
            f"geometry = {geometry!r} is not allowed: one of {', '.join(GEOMETRIES)}"
        )
    _positive_days("days", days)
    _positive_days("output_every_days", output_every_days)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise FieldsInputError(f"seed = {seed!r} is not allowed: an integer >= 0")
    return names


def _positive_days(key: str, value: object) -> float:
    """A finite number of days > 0, or one clear FieldsInputError naming the key."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise FieldsInputError(f"{key} = {value!r} is not allowed: a finite number > 0 (unit: day)")
    return float(value)


def output_days(days: float, every: float) -> np.ndarray:
    """Requested output days: 0, every, 2 every, ... and the last day."""
    n = math.floor(days / every + 1e-9)
    times = [i * every for i in range(n + 1)]
    if days - times[-1] > 1e-9 * max(days, 1.0):
        times.append(float(days))
    return np.array(times, dtype=float)


def _events(p: Parameters, days: float) -> tuple[list[tuple[float, str]], float | None, float]:
    resect = primary.resection_time(p.primary)
    onset = primary.onset_time(p.primary, p.dissemination)
    events = event_times(p.interventions)
    if resect is not None:
        events.append((resect, "resection"))
    if math.isfinite(onset) and (resect is None or onset < resect):
        events.append((onset, "dissemination onset"))
    events = sorted((t, label) for t, label in events if 0.0 < t < days)
    return events, resect, onset


def site_patches(p: Parameters, names: Sequence[str], geometry: str, seed: int) -> dict[str, Patch]:
    """Each site's patch; the i-th site's capillary layout uses seed + 1000 i."""
    return {
        name: make_patch(geometry, p.sites[name], p.geometry, seed + 1000 * index)
        for index, name in enumerate(names)
    }


def simulate(
    params: Parameters | None = None,
    sites: Sequence[str] = DEFAULT_SITES,
    days: float = 3650.0,
    geometry: str = "2d",
    seed: int = 0,
    output_every_days: float = 30.0,
    store_fields: bool = True,
    progress: bool | None = False,
    checkpoint: str | Path | None = None,
    checkpoint_every_days: float | None = None,
    resume: bool = False,
) -> xr.DataTree:
    """Run the coupled model and return the DataTree of DESIGN section 5.

    ``params`` defaults to :class:`Parameters()`; ``sites`` are names from
    :data:`fields.SITE_NAMES`; ``days`` is the horizon; ``geometry`` is ``2d``, ``krogh`` or
    ``3d``; ``seed`` fixes the capillary layouts; outputs land exactly on multiples of
    ``output_every_days`` and on the last day; ``store_fields=False`` keeps only time series and
    scalars; ``progress`` shows a bar (None: only on a terminal).

    ``checkpoint``: a file to which the full state is written (atomically) every
    ``checkpoint_every_days`` (default 365); with ``resume=True`` an existing checkpoint of the
    same run is continued, bit for bit as if never interrupted. NaN, Inf or a bound violation
    stops the run with :class:`fields.NumericalError`.
    """
    from fields import __version__
    from fields import checkpoint as ckpt
    from fields.output import build_tree

    p = Parameters() if params is None else params
    if not isinstance(p, Parameters):
        raise FieldsInputError(f"params = {type(p).__name__} is not allowed: a fields.Parameters")
    names = _check_inputs(sites, days, geometry, output_every_days, seed)
    every_ck = _check_checkpoint(checkpoint, checkpoint_every_days, resume)
    days = float(days)
    out_days = output_days(days, float(output_every_days))
    events, resect_day, onset_day = _events(p, days)

    models = {
        name: SiteModel(name, p.sites[name], p, patch)
        for name, patch in site_patches(p, names, geometry, seed).items()
    }
    header: dict = {}  # identifies the run in its checkpoints
    if checkpoint is not None:
        header = {
            "parameters": p.to_json(),
            "sites": names,
            "days": days,
            "geometry": geometry,
            "seed": int(seed),
            "output_every_days": float(output_every_days),
            "store_fields": bool(store_fields),
            "fields_version": __version__,
        }
        header["run"] = ckpt.fingerprint(header)
    recorder = Recorder(store_fields)
    loop = _LoopState.fresh(p, names, resect_day)
    restored = False
    if checkpoint is not None and resume and Path(checkpoint).exists():
        loop = _restore(checkpoint, header, models, recorder)
        restored = True

    mods = modifiers_at(p.interventions, 0.0)
    if not restored:
        loop.plasma = {
            sp: primary.plasma_steady_state(loop.cells, getattr(p, sp), mods.active_fraction(sp))
            for sp in SPECIES
        }
        for model in models.values():
            model.set_modifiers(mods)
            model.initialise(loop.plasma)
        loop.shed_per_day = primary.shed_rate(loop.cells, p.primary, p.dissemination)
        recorder.record(0.0, loop.systemic(p), models)
        loop.previous_p = {name: models[name].proliferating_total() for name in names}

    detect = p.dtc.detection_cells
    stops = sorted({*out_days[1:].tolist(), *(t for t, _ in events)})
    event_days = {t for t, _ in events}
    st = p.stepping
    next_ck = (math.floor(loop.t / every_ck + 1e-9) + 1) * every_ck if every_ck else math.inf
    bar = _progress_bar(days, progress)
    if bar is not None and loop.t > 0:
        bar.update(loop.t)
    scale = max(days, 1.0)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        while loop.t < days - 1e-9:
            t = loop.t
            while loop.stop_index < len(stops) and stops[loop.stop_index] <= t + 1e-9:
                loop.stop_index += 1
            target = stops[loop.stop_index] if loop.stop_index < len(stops) else days
            step = min(loop.dt, target - t)
            if target - (t + step) < 1e-9 * scale:
                step = target - t
            t_new = target if step == target - t else t + step

            if loop.resect_pending and abs(t - resect_day) < 1e-9 and loop.cells > 0:
                loop.cells = loop.cells * p.primary.residual_fraction
                loop.resect_pending = False  # only once
            mods = modifiers_at(p.interventions, 0.5 * (t + t_new))
            new_cells = primary.grow(loop.cells, step, p.primary)
            shed = primary.shed_cells(loop.cells, new_cells, step, p.primary, p.dissemination)
            for sp in SPECIES:
                loop.plasma[sp] = primary.advance_plasma(
                    loop.plasma[sp],
                    loop.cells,
                    new_cells,
                    step,
                    getattr(p, sp),
                    mods.active_fraction(sp),
                )
            loop.cells = new_cells
            loop.shed_per_day = primary.shed_rate(loop.cells, p.primary, p.dissemination)
            systemic = loop.systemic(p)
            check_systemic(systemic, t_new)
            arrest = shed * p.dissemination.arrest_fraction / step
            for name, model in models.items():
                model.set_modifiers(mods)
                model.step(step, loop.plasma, arrest * p.sites[name].dtc_routing_fraction)
                check_site(
                    name,
                    model.state,
                    t_new,
                    model.site.vessel_po2_mmhg * model.modifiers.po2_factor,
                    model.site.baseline_stiffness_kpa,
                    systemic,
                )
                total = model.proliferating_total()
                if math.isnan(loop.outgrowth[name]) and total >= detect:
                    loop.outgrowth[name] = crossing_time(
                        t, t_new, loop.previous_p[name], total, detect
                    )
                loop.previous_p[name] = total
            loop.t = t_new
            if bar is not None:
                bar.update(step)
            if any(abs(t_new - e) < 1e-9 for e in event_days):
                loop.dt = st.dt_min_days
            else:
                loop.dt = min(loop.dt * st.growth_factor, st.dt_max_days)
            if (
                loop.next_out < len(out_days)
                and abs(t_new - out_days[loop.next_out]) < 1e-9 * scale
            ):
                recorder.record(float(out_days[loop.next_out]), systemic, models)
                loop.next_out += 1
            if t_new >= next_ck - 1e-9 and t_new < days - 1e-9:
                _save(checkpoint, header, loop, models, recorder)
                while next_ck <= t_new + 1e-9:
                    next_ck += every_ck
    if bar is not None:
        bar.close()
    return build_tree(
        p,
        models,
        recorder,
        loop.outgrowth,
        geometry=geometry,
        seed=seed,
        days=days,
        events=events,
        onset_day=onset_day,
    )


@dataclass
class _LoopState:
    """Everything the time loop carries from one step to the next (what a checkpoint holds)."""

    t: float
    dt: float
    cells: float
    resect_pending: bool
    next_out: int = 1
    stop_index: int = 0
    shed_per_day: float = 0.0
    plasma: dict[str, float] = field(default_factory=dict)
    outgrowth: dict[str, float] = field(default_factory=dict)
    previous_p: dict[str, float] = field(default_factory=dict)

    @classmethod
    def fresh(cls, p: Parameters, names: list[str], resect_day: float | None) -> _LoopState:
        return cls(
            t=0.0,
            dt=p.stepping.dt_min_days,
            cells=p.primary.initial_cells,
            resect_pending=resect_day is not None,
            outgrowth={name: math.nan for name in names},
        )

    def systemic(self, p: Parameters) -> dict[str, float]:
        return {
            "tumour_cells": self.cells,
            "tumour_diameter_mm": primary.diameter_mm(self.cells, p.primary),
            "plasma_vegf": self.plasma["vegf"],
            "plasma_tgfb": self.plasma["tgfb"],
            "dissemination_rate": self.shed_per_day,
        }


_SCALARS = ("t", "dt", "cells", "resect_pending", "next_out", "stop_index", "shed_per_day")


def _check_checkpoint(
    checkpoint: str | Path | None, every: float | None, resume: bool
) -> float | None:
    if checkpoint is None:
        if every is not None or resume:
            raise FieldsInputError(
                "checkpoint = None is not allowed with checkpoint_every_days or resume: "
                "give a checkpoint file"
            )
        return None
    path = Path(checkpoint)
    if not path.resolve().parent.is_dir():
        raise FieldsInputError(
            f"checkpoint = '{path}' is not allowed: folder '{path.parent}' does not exist"
        )
    return _positive_days("checkpoint_every_days", 365.0 if every is None else every)


def _save(
    path: str | Path, header: dict, loop: _LoopState, models: dict[str, SiteModel], rec: Recorder
) -> None:
    from fields import checkpoint as ckpt

    arrays: dict[str, np.ndarray] = {
        f"loop/{key}": np.float64(getattr(loop, key)) for key in _SCALARS
    }
    for sp in SPECIES:
        arrays[f"loop/plasma/{sp}"] = np.float64(loop.plasma[sp])
    arrays["rec/times"] = np.array(rec.times, dtype=np.float64)
    for key, values in rec.systemic.items():
        arrays[f"rec/systemic/{key}"] = np.array(values, dtype=np.float64)
    for name, model in models.items():
        arrays[f"site/{name}/outgrowth"] = np.float64(loop.outgrowth[name])
        arrays[f"site/{name}/previous_p"] = np.float64(loop.previous_p[name])
        arrays[f"site/{name}/modifiers"] = np.array(
            dataclasses.astuple(model.modifiers), dtype=np.float64
        )
        arrays[f"site/{name}/vessel"] = model.patch.vessel.astype(np.int8)
        for key, values in model.state.items():
            arrays[f"site/{name}/state/{key}"] = values
        for key, values in rec.site_series[name].items():
            arrays[f"rec/series/{name}/{key}"] = np.array(values, dtype=np.float64)
        if rec.store_fields:
            for key, frames in rec.site_fields[name].items():
                arrays[f"rec/fields/{name}/{key}"] = np.stack(frames)
    ckpt.save(path, header, arrays)


def _restore(
    path: str | Path, header: dict, models: dict[str, SiteModel], rec: Recorder
) -> _LoopState:
    from fields import checkpoint as ckpt
    from fields.interventions import Modifiers

    stored, a = ckpt.load(path)
    if stored.get("run") != header["run"]:
        differs = [k for k in header if k != "run" and stored.get(k) != header[k]]
        raise FieldsInputError(
            f"checkpoint = '{path}' is not allowed: it belongs to another run "
            f"(differs in {', '.join(differs) or 'its fingerprint'}); resume with the same "
            "parameters, sites, geometry, horizon, seed, outputs and package version"
        )
    loop = _LoopState(
        t=float(a["loop/t"]),
        dt=float(a["loop/dt"]),
        cells=float(a["loop/cells"]),
        resect_pending=bool(a["loop/resect_pending"]),
        next_out=int(a["loop/next_out"]),
        stop_index=int(a["loop/stop_index"]),
        shed_per_day=float(a["loop/shed_per_day"]),
        plasma={sp: float(a[f"loop/plasma/{sp}"]) for sp in SPECIES},
    )
    rec.times = a["rec/times"].tolist()
    rec.systemic = {
        key[len("rec/systemic/") :]: a[key].tolist() for key in a if key.startswith("rec/systemic/")
    }
    for name, model in models.items():
        if not np.array_equal(a[f"site/{name}/vessel"], model.patch.vessel.astype(np.int8)):
            raise FieldsInputError(
                f"checkpoint = '{path}' is not allowed: the capillary layout of {name} differs"
            )
        loop.outgrowth[name] = float(a[f"site/{name}/outgrowth"])
        loop.previous_p[name] = float(a[f"site/{name}/previous_p"])
        model.modifiers = Modifiers(*(float(v) for v in a[f"site/{name}/modifiers"]))
        for key in FIELD_NAMES:
            model.state[key] = np.array(a[f"site/{name}/state/{key}"])
        prefix = f"rec/series/{name}/"
        rec.site_series[name] = {k[len(prefix) :]: a[k].tolist() for k in a if k.startswith(prefix)}
        if rec.store_fields:
            prefix = f"rec/fields/{name}/"
            rec.site_fields[name] = {
                k[len(prefix) :]: [frame.copy() for frame in a[k]]
                for k in a
                if k.startswith(prefix)
            }
    return loop


def crossing_time(t0: float, t1: float, y0: float, y1: float, level: float) -> float:
    """First time y reaches level, log-linear between step ends (output-interval independent)."""
    if y0 <= 0.0 or y1 <= y0:
        return t1
    frac = math.log(level / y0) / math.log(y1 / y0)
    return t0 + min(max(frac, 0.0), 1.0) * (t1 - t0)


def _progress_bar(days: float, progress: bool | None):
    if progress is False:
        return None
    if progress is None and not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=days, unit="day", desc="simulating", leave=False, file=sys.stderr)
