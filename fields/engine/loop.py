"""The coupled time loop: primary -> plasma -> fields -> stroma -> DTCs (time in days), for a
batch of runs advanced as one state with a leading run axis. A single run is a batch of one.

Operator splitting per step [t, t + dt]:

1. systemic ODEs advanced exactly (growth closed form, plasma exact for stiff clearance);
2. every organ site advanced by :meth:`fields.engine.site.Site.step` with the plasma levels at
   t + dt and the DTCs that arrived during the step.

Every run keeps its own step sequence: its own events (dissemination onset, resection,
therapies), steps that restart small (``stepping.dt_min_days``) after each event and are then
sized by its own local error estimate up to ``stepping.dt_max_days``
(:mod:`fields.engine.stepping`), and the shared output days hit exactly. A loop iteration
advances every unfinished run by its own step: the systemic ODEs and the voxel ODEs by exact
updates broadcast over runs, the fields by batched tridiagonal solves (Krogh) or each run's own
solves on factorisations shared by the runs with the same operator (2d and 3d grids,
:mod:`fields.numerics.run_operators`). So a run gives the same numbers alone and at any position
of any batch. A run leaves the batch when it reaches its horizon or fails a numerical guard (its
message is kept); the others go on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fields.core.errors import FieldsInputError
from fields.engine import checkpoint as ckpt
from fields.engine.contract import SITE_SERIES, field_names, systemic_names
from fields.engine.guards import check_site_rows, check_systemic_rows
from fields.engine.inputs import check_run, horizons, output_days, run_events, run_patches
from fields.engine.record import Record
from fields.engine.site import Site
from fields.engine.stepping import (
    controlled,
    crossing_time,
    local_error,
    next_dt,
    next_step,
    progress_bar,
)
from fields.model import dissemination, lesions, primary
from fields.model.interventions import modifiers_at
from fields.parameters import Parameters
from fields.parameters.batch import ParameterBatch

#: The default scenario's sites (breast cancer's common metastatic organs).
DEFAULT_SITES = ("lung", "liver", "bone_marrow", "brain", "lymph_node")
KEEP = ("full", "series", "events")
#: the lesion-cell series, which ``keep="events"`` leaves out (cohorts need only the events)
CELL_SERIES = ("metastasis_cells", "metastatic_burden_cells")


def run(
    batch: ParameterBatch | Sequence[Parameters] | Parameters,
    sites: Sequence[str] = DEFAULT_SITES,
    days: float | Sequence[float] | np.ndarray = 3650.0,
    geometry: str = "krogh",
    seed: int = 0,
    output_every_days: float = 30.0,
    store_fields: bool = False,
    keep: str = "full",
    progress: bool | None = False,
    stop_at_death: bool = False,
    checkpoint: str | Path | None = None,
    checkpoint_every_days: float | None = None,
    resume: bool = False,
) -> Record:
    """Run every member of ``batch`` (one :class:`Parameters` is a batch of one);
    ``keep="series"`` skips the lesion-size densities,
    ``keep="events"`` also the lesion-cell series (the lethal burden is still checked exactly).

    ``days``: one horizon, or one per run, each on the shared output grid (a multiple of
    ``output_every_days`` or the longest horizon); a run's outputs after its own horizon are
    NaN. ``stop_at_death``: a run leaves the batch at the first output day at or after its
    death day (later outputs NaN), whatever steps it took.
    ``checkpoint``: a file the whole batch is saved to each time its slowest run passes a
    multiple of ``checkpoint_every_days`` (default 365); with ``resume`` an existing checkpoint
    of the same batch is continued, bit for bit.
    """
    if isinstance(batch, Parameters):
        batch = ParameterBatch(batch)
    elif not isinstance(batch, ParameterBatch):
        batch = ParameterBatch.from_sets(list(batch))
    ends = horizons(days, batch.size, output_every_days)
    days = float(ends.max())
    names = check_run(batch.base, sites, days, geometry, output_every_days, seed)
    if keep not in KEEP:
        raise FieldsInputError(f"keep = {keep!r} is not allowed: one of {', '.join(KEEP)}")
    every = ckpt.check_options(checkpoint, checkpoint_every_days, resume)
    out_days = output_days(days, float(output_every_days))
    loop = Loop(batch, names, geometry, seed, ends, out_days, store_fields, keep)
    loop.stop_at_death = bool(stop_at_death)
    loop.start()
    header: dict = {}
    if checkpoint is not None:
        header = ckpt.batch_header(
            batch,
            names,
            ends,
            geometry,
            seed,
            output_every_days,
            store_fields,
            keep,
            loop.stop_at_death,
        )
        if resume and Path(checkpoint).exists():
            ckpt.restore_batch(checkpoint, header, loop)
    loop.advance(progress, checkpoint, header, every)
    return loop.rec


class Loop:
    """The state of a batch between steps, and its step."""

    stop_at_death = False
    #: per-run arrays, one row per run still in the batch (what a checkpoint holds)
    ROWS = tuple(
        "ids t dt cells shed_per_day metastatic_shed previous_burden pending stop_index next_out "
        "resect death stops event_days horizon scale z last_dz last_step".split()
    )
    #: dicts of per-run arrays (by species or by site)
    KEYED = ("plasma", "previous_expected", "outgrowth")

    def __init__(self, batch, names, geometry, seed, ends, out_days, store_fields, keep):
        days = float(ends.max())
        self.batch, self.names, self.days = batch, names, days
        self.out_days = out_days
        self.horizon = ends[:, None].copy()
        self.scale = np.maximum(self.horizon, 1.0)  # each run's own, as when it runs alone
        runs = batch.size
        p = batch.stacked()
        self.p = p
        self.ids = np.arange(runs)
        resect, onset, self.events, self.stops, self.event_days = run_events(
            p, runs, ends, out_days
        )
        patches = run_patches(batch, names, geometry, seed)
        self.rec = Record(
            batch,
            names,
            geometry,
            seed,
            days,
            out_days,
            keep,
            resection_day=np.where(resect[:, 0] < ends, resect[:, 0], np.nan),
            onset_day=onset[:, 0],
            events=self.events,
            death_day=np.full(runs, np.nan),
            steps=np.zeros(runs, dtype=int),
            max_error=np.zeros(runs),
            patches=patches,
            horizon=ends.copy(),
        )
        self.resect = resect
        self.sites = {name: Site(name, p, patches[name]) for name in names}
        self._allocate(runs, len(out_days), store_fields, keep)
        self.t = np.zeros((runs, 1))
        self.dt = np.zeros((runs, 1)) + p.stepping.dt_min_days
        self.cells = np.zeros((runs, 1)) + p.primary.initial_cells
        self.pending = np.isfinite(resect)
        self.stop_index = np.zeros(runs, dtype=int)
        self.next_out = np.ones(runs, dtype=int)
        self.previous_expected = {name: np.zeros((runs, 1)) for name in names}
        self.outgrowth = {name: np.full((runs, 1), np.nan) for name in names}
        self.death = np.full((runs, 1), np.nan)
        self.metastatic_shed = np.zeros((runs, 1))
        self._set_parameters(p)

    def _set_parameters(self, p) -> None:
        """What the loop reads of the parameters every step: each site's share of the shed
        cells (:func:`fields.model.dissemination.arrest_shares`), whether metastases shed."""
        shares = dissemination.arrest_shares(p)
        self.shares = {name: shares[name] for name in self.names}
        self.cascade = bool(np.any(np.asarray(p.dissemination.metastatic_shedding) > 0.0))

    def _allocate(self, runs, n_times, store_fields, keep) -> None:
        rec, p = self.rec, self.p
        self.keep = keep
        drop = CELL_SERIES if keep == "events" else ()
        rec.systemic = {
            k: np.full((runs, n_times), np.nan) for k in systemic_names(p.species) if k not in drop
        }
        rec.site_series = {
            s: {k: np.full((runs, n_times), np.nan) for k in SITE_SERIES if k not in drop}
            for s in self.names
        }
        rec.outgrowth = {s: np.full(runs, np.nan) for s in self.names}
        if store_fields:
            n = self.sites[self.names[0]].patches[0].n_cells
            rec.fields = {
                s: {k: np.full((runs, n_times, n), np.nan) for k in field_names(p.species)}
                for s in self.names
            }
        if keep == "full":
            bins = int(p.lesions.size_bins)
            rec.density = {s: np.full((runs, n_times, bins), np.nan) for s in self.names}
        self.edges = lesions.size_edges(self.batch.base.lesions)

    # ------------------------------------------------------------------------ the loop
    def start(self) -> None:
        """The healthy state at day 0 and its outputs."""
        p = self.p
        mods = modifiers_at(p.interventions, self.t, self.resect)
        self.plasma = {
            name: primary.plasma_steady_state(self.cells, s, mods.active_fraction(s))
            for name, s in p.species.items()
        }
        for site in self.sites.values():
            site.set_modifiers(mods)
            site.initialise(self.plasma)
        self.shed_per_day = primary.shed_rate(self.cells, p.primary, p.dissemination)
        lesion_series = {name: site.lesions.series() for name, site in self.sites.items()}
        self.previous_burden = self.cells.copy()
        self.z = self._controlled(lesion_series)
        self.last_dz = np.zeros_like(self.z)
        self.last_step = np.zeros((self.ids.size, 1))
        self._record(np.arange(self.ids.size), np.zeros(self.ids.size, dtype=int), lesion_series)

    def advance(self, progress, checkpoint=None, header=None, every=None) -> None:
        """Step until every run has left the batch, checkpointing when asked."""
        bar = progress_bar(self.days, progress, "batch" if self.batch.size > 1 else "simulating")
        shown = float(self.t.min()) if self.ids.size else self.days
        if bar is not None:
            bar.update(shown)
        next_ck = (math.floor(shown / every + 1e-9) + 1) * every if every else math.inf
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            while self.ids.size:
                self._step()
                done = self.t[:, 0] >= self.horizon[:, 0] - 1e-9
                if self.stop_at_death:  # once the first output day at or past the death is kept
                    dead = np.isfinite(self.death[:, 0])
                    done |= dead & (
                        self.next_out > np.searchsorted(self.out_days, self.death[:, 0])
                    )
                if done.any():
                    self._take(np.nonzero(~done)[0])
                low = float(self.t.min()) if self.ids.size else self.days
                if bar is not None:
                    bar.update(low - shown)
                shown = low
                if self.ids.size and low >= next_ck - 1e-9:
                    ckpt.save_batch(checkpoint, header, self)
                    while next_ck <= low + 1e-9:
                        next_ck += every
        if bar is not None:
            bar.close()

    def _step(self) -> None:
        p, t = self.p, self.t
        rows = np.arange(self.ids.size)
        while True:  # skip the stops already reached
            reached = self.stops[rows, self.stop_index] <= t[:, 0] + 1e-9
            if not reached.any():
                break
            self.stop_index += reached
        target = np.minimum(self.stops[rows, self.stop_index], self.horizon[:, 0])[:, None]
        step, t_new = next_step(t, self.dt, target, self.scale)

        cut = self.pending & (np.abs(t - self.resect) < 1e-9) & (self.cells > 0.0)
        self.cells = np.where(cut, self.cells * p.primary.residual_fraction, self.cells)
        self.pending &= ~cut
        mods = modifiers_at(p.interventions, 0.5 * (t + t_new), self.resect)
        new_cells = primary.grow(self.cells, step, p.primary)
        shed = primary.shed_cells(self.cells, new_cells, step, p.primary, p.dissemination)
        # metastases seed metastases (the cascade): their shedding at the step's start, frozen
        # over the step as the loop's other couplings are
        shed = shed + self.metastatic_shed * step
        for name, s in p.species.items():
            self.plasma[name] = primary.advance_plasma(
                self.plasma[name], self.cells, new_cells, step, s, mods.active_fraction(s)
            )
        self.cells = new_cells
        primary_shed = primary.shed_rate(self.cells, p.primary, p.dissemination)
        self.shed_per_day = primary_shed + self.metastatic_shed
        failed: dict[int, str] = {}
        systemic = self._systemic()
        check_systemic_rows(systemic, t_new, failed)
        arrivals = shed / step  # cells shed per day over the step, shared out by the soils below
        column = np.minimum(self.next_out, self.out_days.size - 1)
        hit = (self.next_out < self.out_days.size) & (
            np.abs(t_new[:, 0] - self.out_days[column]) < 1e-9 * self.scale[:, 0]
        )
        # lesion cells are summed exactly where they are output or the burden could become
        # lethal within this step or the next (at most dt_max): the burden grows no faster than
        # its fastest growth law (above the laws' reference sizes, far below a lethal burden).
        # Elsewhere an upper bound stands in, so a death is never missed and the burden before
        # a crossing is exact, as alone
        lethal = p.lesions.lethal_burden_cells
        fastest = np.maximum(p.lesions.growth_rate_per_day, p.primary.growth_rate_per_day)
        reach = np.exp(fastest * (step + p.stepping.dt_max_days))
        want = (self.previous_burden * reach >= lethal)[:, 0]
        if self.keep != "events":
            want |= hit
        if self.cascade:  # the metastases' shedding needs their cells every step
            want[:] = True
        lesion_series = {}
        median = math.log(2.0)
        for name, site in self.sites.items():
            site.set_modifiers(mods)
            site.step(step, self.plasma, arrivals * self.shares[name])
            series = site.lesions.series(want)
            check_site_rows(name, site, t_new, failed, systemic)
            lesion_series[name] = series
            expected = series["expected_detectable_lesions"]
            first = np.isnan(self.outgrowth[name]) & (expected >= median)
            if first.any():
                crossed = crossing_time(t, t_new, self.previous_expected[name], expected, median)
                self.outgrowth[name] = np.where(first, crossed, self.outgrowth[name])
            self.previous_expected[name] = expected
        burden = self.cells + sum(s["metastasis_cells"] for s in lesion_series.values())
        bounded = ~want & (burden * reach >= lethal)[:, 0]
        if bounded.any():  # an upper bound came near the lethal burden: sum those rows exactly
            for name, site in self.sites.items():
                exact = site.lesions.cells(bounded)
                lesion_series[name]["metastasis_cells"] = np.where(
                    bounded[:, None], exact, lesion_series[name]["metastasis_cells"]
                )
            burden = self.cells + sum(s["metastasis_cells"] for s in lesion_series.values())
        dies = np.isnan(self.death) & (burden >= lethal)
        if dies.any():
            crossed = crossing_time(t, t_new, self.previous_burden, burden, lethal)
            self.death = np.where(dies, crossed, self.death)
        self.previous_burden = burden
        if self.cascade:
            self.metastatic_shed = primary.metastatic_shed_rate(
                burden - self.cells, p.primary, p.dissemination
            )
            self.shed_per_day = primary_shed + self.metastatic_shed
        self.t = t_new
        self.rec.steps[self.ids] += 1
        at_event = np.any(np.abs(t_new - self.event_days) < 1e-9, axis=1, keepdims=True)
        z = self._controlled(lesion_series)
        dz = z - self.z
        err = local_error(step, dz, self.last_step, self.last_dz)
        worse = err[:, 0] > self.rec.max_error[self.ids]
        self.rec.max_error[self.ids[worse]] = err[worse, 0]
        self.dt = next_dt(step, self.dt, err, at_event, p.stepping) + 0.0 * t
        self.z, self.last_dz = z, dz
        self.last_step = np.where(at_event, 0.0, step)
        if hit.any():
            at = np.nonzero(hit)[0]
            self._record(at, self.next_out[at], lesion_series)
            self.next_out[at] += 1
        if failed:
            for row, message in failed.items():
                self.rec.errors[int(self.ids[row])] = message
            self._take(np.setdiff1d(rows, list(failed)))

    # --------------------------------------------------------------------- bookkeeping
    def _controlled(self, lesion_series) -> np.ndarray:
        """The error controller's quantities, (runs, sites x quantities), in site order."""
        return np.concatenate(
            [controlled(site, lesion_series[name]) for name, site in self.sites.items()], axis=1
        )

    def _systemic(self) -> dict[str, np.ndarray]:
        p = self.p
        return {
            "tumour_cells": self.cells,
            "tumour_diameter_mm": primary.diameter_mm(self.cells, p.primary),
            **{f"plasma_{name}": self.plasma[name] for name in p.species},
            "dissemination_rate": self.shed_per_day,
        }

    def _record(self, at: np.ndarray, column: np.ndarray, lesion_series) -> None:
        expected = sum(s["expected_detectable_lesions"] for s in lesion_series.values())
        systemic = {
            **self._systemic(),
            "p_metastatic": -np.expm1(-expected),
            "expected_detectable_lesions": expected,
            "metastatic_burden_cells": sum(s["metastasis_cells"] for s in lesion_series.values()),
        }
        self.rec.write(self.ids, at, column, systemic, self.sites, lesion_series, self.edges)

    def _take(self, keep: np.ndarray) -> None:
        """Keep only the rows ``keep``; the others' results are final."""
        gone = np.setdiff1d(np.arange(self.ids.size), keep)
        for name in self.names:
            self.rec.outgrowth[name][self.ids[gone]] = self.outgrowth[name][gone, 0]
        self.rec.death_day[self.ids[gone]] = self.death[gone, 0]
        for key in self.ROWS:
            setattr(self, key, getattr(self, key)[keep])
        for group in self.KEYED:
            setattr(self, group, {k: v[keep] for k, v in getattr(self, group).items()})
        if not keep.size:
            return
        self.p = self.batch.take(self.ids).stacked()
        self._set_parameters(self.p)
        for site in self.sites.values():
            site.take(keep, self.p)
