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

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from fields import dtc, primary, stroma
from fields.errors import FieldsInputError
from fields.geometry import GEOMETRIES, Patch, make_patch
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
                probe = probes.setdefault(key, SystemProbe(patch.mesh, walls))
            return DiffusionReactionOperator(patch.mesh, diffusivity, walls, solver, probe=probe)

        self.ops = {
            "oxygen": operator(params.oxygen.diffusivity_um2_per_s, patch.wall_faces),
            "vegf": operator(params.vegf.diffusivity_um2_per_s, None),
            "tgfb": operator(params.tgfb.diffusivity_um2_per_s, None),
        }
        if params.dtc.motility_um2_per_day > 0.0:
            self.ops["dtc"] = operator(params.dtc.motility_um2_per_day, None)
        if solver == "fast":  # assemble now what the loop will use, not inside a time step
            forms = {"oxygen": ["steady"], "vegf": ["steady"], "tgfb": ["steady"]}
            if self.transient:
                forms["vegf"].append("transient")
                forms["tgfb"].append("transient")
            if "dtc" in self.ops:
                forms["dtc"] = ["transient"]
            for name, needed in forms.items():
                for form in needed:
                    self.ops[name].probe.pieces(form)
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
    for key, value in (("days", days), ("output_every_days", output_every_days)):
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value <= 0
        ):
            raise FieldsInputError(
                f"{key} = {value!r} is not allowed: a finite number > 0 (unit: day)"
            )
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise FieldsInputError(f"seed = {seed!r} is not allowed: an integer >= 0")
    return names


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


def simulate(
    params: Parameters | None = None,
    sites: Sequence[str] = DEFAULT_SITES,
    days: float = 3650.0,
    geometry: str = "2d",
    seed: int = 0,
    output_every_days: float = 30.0,
    store_fields: bool = True,
    progress: bool | None = False,
) -> xr.DataTree:
    """Run the coupled model and return the DataTree of DESIGN section 5.

    ``params`` defaults to :class:`Parameters()`; ``sites`` are names from
    :data:`fields.SITE_NAMES`; ``days`` is the horizon; ``geometry`` is ``2d``, ``krogh`` or
    ``3d``; ``seed`` fixes the capillary layouts; outputs land exactly on multiples of
    ``output_every_days`` and on the last day; ``store_fields=False`` keeps only time series and
    scalars; ``progress`` shows a bar (None: only on a terminal).
    """
    from fields.output import build_tree

    p = Parameters() if params is None else params
    if not isinstance(p, Parameters):
        raise FieldsInputError(f"params = {type(p).__name__} is not allowed: a fields.Parameters")
    names = _check_inputs(sites, days, geometry, output_every_days, seed)
    days = float(days)
    out_days = output_days(days, float(output_every_days))
    events, resect_day, onset_day = _events(p, days)

    models = {}
    for index, name in enumerate(names):
        patch = make_patch(geometry, p.sites[name], p.geometry, seed + 1000 * index)
        models[name] = SiteModel(name, p.sites[name], p, patch)

    cells = p.primary.initial_cells
    mods = modifiers_at(p.interventions, 0.0)
    plasma = {
        sp: primary.plasma_steady_state(cells, getattr(p, sp), mods.active_fraction(sp))
        for sp in SPECIES
    }
    for model in models.values():
        model.set_modifiers(mods)
        model.initialise(plasma)

    recorder = Recorder(store_fields)
    shed_per_day = primary.shed_rate(cells, p.primary, p.dissemination)

    def systemic() -> dict[str, float]:
        return {
            "tumour_cells": cells,
            "tumour_diameter_mm": primary.diameter_mm(cells, p.primary),
            "plasma_vegf": plasma["vegf"],
            "plasma_tgfb": plasma["tgfb"],
            "dissemination_rate": shed_per_day,
        }

    recorder.record(0.0, systemic(), models)
    outgrowth = {name: math.nan for name in names}
    previous_p = {name: models[name].proliferating_total() for name in names}
    detect = p.dtc.detection_cells

    stops = sorted({*out_days[1:].tolist(), *(t for t, _ in events)})
    event_days = {t for t, _ in events}
    st = p.stepping
    t, dt, next_out = 0.0, st.dt_min_days, 1
    bar = _progress_bar(days, progress)
    stop_index = 0
    while t < days - 1e-9:
        while stop_index < len(stops) and stops[stop_index] <= t + 1e-9:
            stop_index += 1
        target = stops[stop_index] if stop_index < len(stops) else days
        step = min(dt, target - t)
        if target - (t + step) < 1e-9 * max(days, 1.0):
            step = target - t
        t_new = target if step == target - t else t + step

        if resect_day is not None and abs(t - resect_day) < 1e-9 and cells > 0:
            cells = cells * p.primary.residual_fraction
            resect_day = None  # only once
        mods = modifiers_at(p.interventions, 0.5 * (t + t_new))
        new_cells = primary.grow(cells, step, p.primary)
        shed = primary.shed_cells(cells, new_cells, step, p.primary, p.dissemination)
        for sp in SPECIES:
            plasma[sp] = primary.advance_plasma(
                plasma[sp], cells, new_cells, step, getattr(p, sp), mods.active_fraction(sp)
            )
        cells = new_cells
        shed_per_day = primary.shed_rate(cells, p.primary, p.dissemination)
        arrest = shed * p.dissemination.arrest_fraction / step
        for name, model in models.items():
            model.set_modifiers(mods)
            model.step(step, plasma, arrest * p.sites[name].dtc_routing_fraction)
            total = model.proliferating_total()
            if math.isnan(outgrowth[name]) and total >= detect:
                outgrowth[name] = _crossing_time(t, t_new, previous_p[name], total, detect)
            previous_p[name] = total
        t = t_new
        if bar is not None:
            bar.update(step)
        if any(abs(t - e) < 1e-9 for e in event_days):
            dt = st.dt_min_days
        else:
            dt = min(dt * st.growth_factor, st.dt_max_days)
        if next_out < len(out_days) and abs(t - out_days[next_out]) < 1e-9 * max(days, 1.0):
            recorder.record(float(out_days[next_out]), systemic(), models)
            next_out += 1
    if bar is not None:
        bar.close()
    return build_tree(
        p,
        models,
        recorder,
        outgrowth,
        geometry=geometry,
        seed=seed,
        days=days,
        events=events,
        onset_day=onset_day,
    )


def _crossing_time(t0: float, t1: float, y0: float, y1: float, level: float) -> float:
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
