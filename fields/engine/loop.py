"""The coupled time loop: primary -> plasma -> fields -> stroma -> DTCs (time in days).

Operator splitting per step [t, t + dt]:

1. systemic ODEs advanced exactly (growth closed form, plasma exact for stiff clearance);
2. every organ site advanced by :meth:`fields.engine.site.SiteModel.step` with the plasma levels
   at t + dt and the DTCs that arrived during the step.

Steps are small (``stepping.dt_min_days``) after every event (resection, therapy start/stop,
dissemination onset); then a local error estimate sizes each step up to
``stepping.dt_max_days`` (:mod:`fields.engine.stepping`). Outputs and events are hit exactly.
:func:`run` returns a :class:`~fields.engine.recorder.RunRecord`; the public
:func:`fields.simulate` turns it into the output DataTree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fields.core.errors import FieldsInputError
from fields.engine import checkpoint as ckpt
from fields.engine.guards import check_lesions, check_site, check_systemic
from fields.engine.inputs import check_run, output_days, run_events, site_patches
from fields.engine.recorder import Recorder, RunRecord
from fields.engine.site import SiteModel
from fields.engine.state import LoopState, patient
from fields.engine.stepping import (
    controlled,
    crossing_time,
    local_error,
    next_dt,
    next_step,
    progress_bar,
)
from fields.model import primary
from fields.model.interventions import modifiers_at
from fields.parameters import Parameters

#: The default scenario's sites (breast cancer's common metastatic organs).
DEFAULT_SITES = ("lung", "liver", "bone_marrow", "brain", "lymph_node")


def run(
    params: Parameters,
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
) -> RunRecord:
    """Run the coupled model; the arguments are those of :func:`fields.simulate`."""
    p = params
    if not isinstance(p, Parameters):
        raise FieldsInputError(f"params = {type(p).__name__} is not allowed: a fields.Parameters")
    names = check_run(p, sites, days, geometry, output_every_days, seed)
    every_ck = ckpt.check_options(checkpoint, checkpoint_every_days, resume)
    days = float(days)
    out_days = output_days(days, float(output_every_days))
    events, resect_day, onset_day = run_events(p, days)

    models = {
        name: SiteModel(name, p.sites[name], p, patch)
        for name, patch in site_patches(p, names, geometry, seed).items()
    }
    header: dict = {}  # identifies the run in its checkpoints
    if checkpoint is not None:
        header = ckpt.run_header(p, names, days, geometry, seed, output_every_days, store_fields)
    recorder = Recorder(store_fields, capacity=len(out_days))
    loop = LoopState.fresh(p, names, resect_day)
    restored = False
    if checkpoint is not None and resume and Path(checkpoint).exists():
        loop = ckpt.restore(checkpoint, header, models, recorder, loop)
        restored = True

    mods = modifiers_at(p.interventions, 0.0)
    if not restored:
        loop.plasma = {
            name: primary.plasma_steady_state(loop.cells, s, mods.active_fraction(s))
            for name, s in p.species.items()
        }
        for model in models.values():
            model.set_modifiers(mods)
            model.initialise(loop.plasma)
        loop.shed_per_day = primary.shed_rate(loop.cells, p.primary, p.dissemination)
        series = {name: model.series() for name, model in models.items()}
        recorder.record(0.0, {**loop.systemic(p), **patient(series)}, models, series)
        loop.previous_expected = {name: 0.0 for name in names}
        loop.previous_burden = loop.cells
        loop.z = _controlled(models, series)
        loop.last_dz = np.zeros_like(loop.z)

    median = math.log(2.0)  # expected detectable lesions at which P(detectable) = 0.5
    lethal = p.lesions.lethal_burden_cells
    stops = sorted({*out_days[1:].tolist(), *(t for t, _ in events)})
    event_days = {t for t, _ in events}
    st = p.stepping
    next_ck = (math.floor(loop.t / every_ck + 1e-9) + 1) * every_ck if every_ck else math.inf
    bar = progress_bar(days, progress, "simulating")
    if bar is not None and loop.t > 0:
        bar.update(loop.t)
    scale = max(days, 1.0)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        while loop.t < days - 1e-9:
            t = loop.t
            while loop.stop_index < len(stops) and stops[loop.stop_index] <= t + 1e-9:
                loop.stop_index += 1
            target = stops[loop.stop_index] if loop.stop_index < len(stops) else days
            step, t_new = next_step(t, loop.dt, target, scale)

            if loop.resect_pending and abs(t - resect_day) < 1e-9 and loop.cells > 0:
                loop.cells = loop.cells * p.primary.residual_fraction
                loop.resect_pending = False  # only once
            mods = modifiers_at(p.interventions, 0.5 * (t + t_new))
            new_cells = primary.grow(loop.cells, step, p.primary)
            shed = primary.shed_cells(loop.cells, new_cells, step, p.primary, p.dissemination)
            for name, s in p.species.items():
                loop.plasma[name] = primary.advance_plasma(
                    loop.plasma[name], loop.cells, new_cells, step, s, mods.active_fraction(s)
                )
            loop.cells = new_cells
            loop.shed_per_day = primary.shed_rate(loop.cells, p.primary, p.dissemination)
            systemic = loop.systemic(p)
            check_systemic(systemic, t_new)
            arrest = shed * p.dissemination.arrest_fraction / step
            lesion_series = {}
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
                check_lesions(name, *model.lesions.guarded(), t_new)
                lesion_series[name] = model.lesions.series()
                expected = lesion_series[name]["expected_detectable_lesions"]
                if math.isnan(loop.outgrowth[name]) and expected >= median:
                    loop.outgrowth[name] = crossing_time(
                        t, t_new, loop.previous_expected[name], expected, median
                    )
                loop.previous_expected[name] = expected
            outcomes = patient(lesion_series)
            burden = loop.cells + outcomes["metastatic_burden_cells"]
            if math.isnan(loop.death_day) and burden >= lethal:
                loop.death_day = crossing_time(t, t_new, loop.previous_burden, burden, lethal)
            loop.previous_burden = burden
            loop.t = t_new
            loop.steps += 1
            if bar is not None:
                bar.update(step)
            at_event = any(abs(t_new - e) < 1e-9 for e in event_days)
            z = _controlled(models, lesion_series)
            dz = z - loop.z
            err = local_error(step, dz, loop.last_step, loop.last_dz)
            if err > loop.max_error:
                loop.max_error = float(err)
            loop.dt = next_dt(step, loop.dt, err, at_event, st)
            loop.z, loop.last_dz = z, dz
            loop.last_step = 0.0 if at_event else step
            if (
                loop.next_out < len(out_days)
                and abs(t_new - out_days[loop.next_out]) < 1e-9 * scale
            ):
                series = {name: model.series() for name, model in models.items()}
                recorder.record(
                    float(out_days[loop.next_out]), {**systemic, **outcomes}, models, series
                )
                loop.next_out += 1
            if t_new >= next_ck - 1e-9 and t_new < days - 1e-9:
                ckpt.save_run(checkpoint, header, loop, models, recorder)
                while next_ck <= t_new + 1e-9:
                    next_ck += every_ck
    if bar is not None:
        bar.close()
    resection = math.nan if resect_day is None or resect_day >= days else float(resect_day)
    return RunRecord(
        p,
        models,
        recorder,
        loop.outgrowth,
        geometry,
        seed,
        days,
        events,
        onset_day,
        resection,
        loop.death_day,
        loop.steps,
        loop.max_error,
    )


def _controlled(models: dict[str, SiteModel], series: dict[str, dict]) -> np.ndarray:
    """The error controller's quantities of every site, in site order."""
    return np.concatenate([controlled(model, series[name]) for name, model in models.items()])
