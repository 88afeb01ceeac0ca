"""Calibration of a cohort's population parameters against published targets (pyabc ABC-SMC).

The expensive part, the patients, runs once: a pool of patients whose calibrated parameters are
drawn from a broad proposal q (a cohort on Dask, resumable). A candidate value theta of the
population parameters (for example the median and spread of the DTC founding rate) is then
evaluated without new runs: each pool patient is weighted by p_theta(x) / q(x) (importance
sampling; the patients' events depend on theta only through their parameters x), and the
targets' statistics are the weighted Rao-Blackwell statistics of :mod:`.cohort_stats`. A
particle whose weights leave fewer than ``min_effective_size`` effective patients is refused
(its statistics would be noise). ABC-SMC (Toni et al. 2009, as implemented by pyabc, Schaelte
et al. 2022) explores theta with the distance sqrt(sum(((s - target) / sd)^2)). With ``refine``
a second pool is drawn near the first posterior and ABC-SMC runs again on both pools
(:mod:`.refine`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from fields.core.version import __version__
from fields.experiments.population.calibration_file import Calibration, load_calibration
from fields.experiments.population.cohort import cohort
from fields.experiments.population.cohort_stats import weighted_quantile
from fields.experiments.population.concepts import _abc, compare, target_variables
from fields.experiments.population.refine import combine, refined_proposals
from fields.experiments.population.reweighting import Reweighted, bootstrap_sd
from fields.experiments.population.targets import evaluate


def calibrate(
    spec: str | Path | Calibration,
    pool_store: str | Path | None = None,
    client: Any = None,
    workers: int | None = None,
    pool: int | None = None,
    population_size: int | None = None,
    generations: int | None = None,
    progress: bool | None = None,
    check: int | None = None,
    refine: int | None = None,
) -> xr.Dataset:
    """Fit the calibration file's parameters; returns the posterior as a Dataset (particle,
    parameter, target). ``pool_store``: a ``.zarr`` path for the simulated pool (resumable; a
    refined pool goes beside it, ``*_refine.zarr``); ``pool``, ``population_size``,
    ``generations``, ``check`` (patients of a direct cohort at the estimate, 0: none) and
    ``refine`` (patients of a second pool near the first posterior, 0: none) override the
    file. A file with ``[variant.*]`` tables compares them (:func:`.concepts.compare`)."""
    cal = spec if isinstance(spec, Calibration) else load_calibration(spec)
    if cal.variants:  # concepts compared on the same targets
        return compare(
            cal,
            pool_store,
            client,
            workers,
            pool,
            population_size,
            generations,
            progress,
            check,
            refine,
        )
    population = population_size or cal.population_size
    generations = generations or cal.generations
    started = time.perf_counter()
    pool_ds = cohort(
        cal.pool_cohort(pool), store=pool_store, client=client, workers=workers, progress=progress
    )
    pool_seconds = time.perf_counter() - started
    names = [p.name for p in cal.priors]
    model = Reweighted(cal, pool_ds)
    particles, w, populations, seconds = _fit(cal, model, population, generations)
    attrs = {
        "pool_seconds": round(pool_seconds, 3),
        "pool_patients": int(pool_ds.sizes["patient"]),
        "pool_failed": int(np.sum(pool_ds["status"].values == 2)),
        "population_size": population,
    }
    second = cal.refine if refine is None else refine
    if second > 0:
        proposals = refined_proposals(cal, particles, w)
        store = None if pool_store is None else Path(pool_store)
        if store is not None:
            store = store.with_name(f"{store.stem}_refine.zarr")
        started = time.perf_counter()
        more = cohort(
            cal.pool_cohort(second, proposals, stage=2),
            store=store,
            client=client,
            workers=workers,
            progress=progress,
        )
        attrs.update(
            refine_patients=int(more.sizes["patient"]),
            refine_seconds=round(time.perf_counter() - started, 3),
            refine_proposals="; ".join(f"{k}: {d.describe()}" for k, d in proposals.items()),
            first_estimate="; ".join(
                f"{n} {weighted_quantile(particles[:, j], w, 0.5):.4g}" for j, n in enumerate(names)
            ),
            first_abc_seconds=round(seconds, 3),
            pool_failed=attrs["pool_failed"] + int(np.sum(more["status"].values == 2)),
        )
        stages = [(cal.proposals, attrs["pool_patients"]), (proposals, attrs["refine_patients"])]
        model = Reweighted(cal, combine(pool_ds, more), stages)
        particles, w, populations, more_seconds = _fit(cal, model, population, generations)
        seconds += more_seconds
    ds = _dataset(cal, model, names, particles, w, populations)
    ds.attrs.update(attrs, abc_seconds=round(seconds, 3))
    patients = cal.check if check is None else check
    if patients > 0:
        started = time.perf_counter()
        theta = dict(zip(names, ds["estimate"].values, strict=True))
        direct = cohort(
            cal.cohort_at(theta, patients), client=client, workers=workers, progress=progress
        )
        _add_check(ds, cal, direct, time.perf_counter() - started)
    return ds


def _fit(cal: Calibration, model: Reweighted, population: int, generations: int):
    """(particles, normalised weights, populations, seconds) of one ABC-SMC run."""
    result, seconds = _abc(cal, [model], population, generations)
    return result["particles"][0], result["weights"][0], result["populations"], seconds


def _add_check(ds: xr.Dataset, cal: Calibration, direct: xr.Dataset, seconds: float) -> None:
    """The targets on a direct cohort at the estimate, with a bootstrap sd over its patients:
    what the reweighted pool predicts, checked without reweighting."""
    targets = (*cal.targets, *cal.validation)
    ds["check"] = (
        ("target",),
        np.array(
            [evaluate(direct, t) for t in targets],
            dtype=float,
        ),
        {"long_name": "statistic of a direct cohort at the estimate (no reweighting)"},
    )
    ds["check_sd"] = (
        ("target",),
        bootstrap_sd(direct, targets, None, cal.seed, resamples=40),
        {"long_name": "bootstrap sd of the direct cohort's statistic over its patients"},
    )
    ds.attrs.update(check_patients=int(direct.sizes["patient"]), check_seconds=round(seconds, 3))


def _dataset(cal, model, names, particles, w, populations) -> xr.Dataset:
    targets = (*cal.targets, *cal.validation)
    predicted = np.array(
        [
            list(model.statistics(dict(zip(names, row, strict=True)), targets).values())
            for row in particles
        ]
    )
    estimate = np.array([weighted_quantile(particles[:, j], w, 0.5) for j in range(len(names))])
    low = np.array([weighted_quantile(particles[:, j], w, 0.05) for j in range(len(names))])
    high = np.array([weighted_quantile(particles[:, j], w, 0.95) for j in range(len(names))])
    units = {k: str(u) for k, _v, u, _s in cal.cohort.base.leaves()}
    at_estimate = dict(zip(names, estimate, strict=True))
    pool_sd = model.pool_error(at_estimate, targets)
    on_pool = np.array(list(model.statistics(at_estimate, targets).values()), dtype=float)
    kind = ["target"] * len(cal.targets) + ["validation"] * len(cal.validation)
    ds = xr.Dataset(
        {
            "posterior": (
                ("particle", "parameter"),
                particles,
                {"long_name": "ABC-SMC particles of the last generation"},
            ),
            "weight": (("particle",), w, {"long_name": "normalised particle weight"}),
            "estimate": (("parameter",), estimate, {"long_name": "posterior median"}),
            "ci90_low": (("parameter",), low, {"long_name": "posterior 5th percentile"}),
            "ci90_high": (("parameter",), high, {"long_name": "posterior 95th percentile"}),
            "unit": (
                ("parameter",),
                np.array(
                    [
                        units.get(p.key, "")
                        if p.field in ("median", "mean", "low", "high")
                        else "1"
                        for p in cal.priors
                    ]
                ),
            ),
            "prior_low": (
                ("parameter",),
                np.array([p.distribution.params["low"] for p in cal.priors]),
            ),
            "prior_high": (
                ("parameter",),
                np.array([p.distribution.params["high"] for p in cal.priors]),
            ),
            "prior": (("parameter",), np.array([p.distribution.kind for p in cal.priors])),
            "predicted": (
                ("particle", "target"),
                predicted,
                {"long_name": "posterior-predictive statistic of each particle"},
            ),
            "on_pool": (
                ("target",),
                on_pool,
                {"long_name": "the pool's statistic at the estimate (what the direct check tests)"},
            ),
            "pool_sd": (
                ("target",),
                pool_sd,
                {
                    "long_name": "Monte Carlo sd of the statistic from the pool's size, at the "
                    "estimate (bootstrap over pool patients)"
                },
            ),
            **target_variables(targets, kind, populations),
        },
        coords={
            "parameter": np.array(names),
            "target": np.array([t.name for t in targets]),
            "generation": populations["t"].values.astype(int),
        },
        attrs={
            "title": f"fields calibration: {cal.name}",
            "method": "ABC-SMC (pyabc) on an importance-weighted simulated pool",
            "calibration_fingerprint": cal.fingerprint(),
            "cohort": cal.cohort.name,
            "fields_version": __version__,
        },
    )
    return ds


def report(ds: xr.Dataset) -> str:
    """A markdown report: the estimates with their 90 % intervals, and every target."""
    lines = [
        f"# {ds.attrs['title']}",
        "",
        "| parameter | estimate | 90 % interval | prior |",
        "|---|---:|---|---|",
    ]
    for j, name in enumerate(ds["parameter"].values):
        lines.append(
            f"| {name} | {ds['estimate'].values[j]:.4g} {ds['unit'].values[j]} | "
            f"{ds['ci90_low'].values[j]:.4g} - {ds['ci90_high'].values[j]:.4g} | "
            f"{ds['prior'].values[j]} {ds['prior_low'].values[j]:.3g} - {ds['prior_high'].values[j]:.3g} |"
        )
    check = "check" in ds
    direct = f" direct cohort ({ds.attrs.get('check_patients')} patients) |" if check else ""
    lines += [
        "",
        "| target | kind | published | model (median, 90 % interval) | pool at the estimate "
        f"± pool sd |{direct} source |",
        "|---|---|---:|---|---:|" + ("---:|" if check else "") + "---|",
    ]
    w = ds["weight"].values
    for k, name in enumerate(ds["target"].values):
        pred = ds["predicted"].values[:, k]
        ok = np.isfinite(pred)
        if ok.any():
            med = weighted_quantile(pred[ok], w[ok], 0.5)
            lo, hi = (
                weighted_quantile(pred[ok], w[ok], 0.05),
                weighted_quantile(pred[ok], w[ok], 0.95),
            )
            model = f"{med:.3g} ({lo:.3g} - {hi:.3g})"
        else:
            model = "n/a"
        lines.append(
            f"| {name} | {ds['target_kind'].values[k]} | {ds['target_value'].values[k]:.3g} "
            f"± {ds['target_sd'].values[k]:.2g} | {model} | {_on_pool(ds, k)}"
            f"{ds['pool_sd'].values[k]:.2g} | "
            + (f"{ds['check'].values[k]:.3g} ± {ds['check_sd'].values[k]:.2g} | " if check else "")
            + f"{ds['target_source'].values[k]} |"
        )
    eps = ", ".join(f"{e:.3g}" for e in ds["epsilon"].values)
    lines += [
        "",
        "The 90 % intervals are conditional on the pool. 'pool at the estimate' is the "
        "reweighted pool's statistic at the posterior medians (the model column is the median "
        "over particles, which differs where a statistic is not linear in the parameters); "
        "'pool sd' is its Monte Carlo error from the pool's finite size (bootstrap), which a "
        "new cohort adds."
        + (
            " 'direct cohort' runs the cohort file at the estimate without reweighting (value "
            "± bootstrap sd over its patients), in "
            f"{ds.attrs.get('check_seconds', '?')} s."
            if check
            else ""
        ),
        "",
        f"Generations: {ds.sizes['generation']} (epsilon {eps}); pool of "
        f"{ds.attrs.get('pool_patients', '?')} patients in {ds.attrs.get('pool_seconds', '?')} s, "
        + (
            f"a refined pool of {ds.attrs['refine_patients']} near the first estimate "
            f"({ds.attrs['first_estimate']}) in {ds.attrs['refine_seconds']} s, "
            if "refine_patients" in ds.attrs
            else ""
        )
        + f"ABC-SMC in {ds.attrs.get('abc_seconds', '?')} s.",
    ]
    return "\n".join(lines) + "\n"


def _on_pool(ds: xr.Dataset, k: int) -> str:
    """The pool's statistic at the estimate, and ' ± ' (files written before it had none)."""
    return f"{ds['on_pool'].values[k]:.3g} ± " if "on_pool" in ds else ""
