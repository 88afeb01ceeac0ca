"""Concepts of metastasis compared on data: a calibration file's variants fitted at once, with
posterior model probabilities (ABC-SMC model selection, pyabc; Toni et al. 2009).

Each variant is the calibration's cohort with a parameter file on top (its concept), simulated
once as its own pool and evaluated by reweighting and scaling as a single calibration is
(:mod:`.reweighting`). One ABC-SMC run samples (variant, theta) pairs: a particle's variant is
kept or switched by the model kernel, its theta perturbed within the variant, and the share of
the final population's weight each variant holds is its posterior probability under a uniform
prior over the variants. A variant's posterior predictive of every target and held-out datum
(``[[validation]]``) comes from its own particles; a direct cohort at each variant's estimate
checks it without reweighting (``check``).
"""

from __future__ import annotations

import logging
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from fields.core.version import __version__
from fields.experiments.population.calibration_file import Calibration
from fields.experiments.population.cohort import cohort
from fields.experiments.population.cohort_stats import weighted_quantile
from fields.experiments.population.refine import combine, refined_proposals
from fields.experiments.population.reweighting import Reweighted, bootstrap_sd
from fields.experiments.population.targets import evaluate


def compare(
    cal: Calibration,
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
    """Fit every variant of ``cal`` to its targets at once (arguments as for
    :func:`fields.calibrate`); the Dataset has dims variant, parameter, target, particle and
    generation, with ``model_probability`` per variant."""
    population = population_size or cal.population_size
    generations = generations or cal.generations
    names = [v.name for v in cal.variants]
    fits = [cal.of_variant(name) for name in names]
    attrs: dict[str, Any] = {"population_size": population, "pool_seconds": 0.0}
    pools = []
    for name, fit in zip(names, fits, strict=True):
        started = time.perf_counter()
        pools.append(
            cohort(
                fit.pool_cohort(pool),
                store=_store(pool_store, name),
                client=client,
                workers=workers,
                progress=progress,
            )
        )
        attrs["pool_seconds"] += round(time.perf_counter() - started, 3)
    attrs["pool_patients"] = int(sum(p.sizes["patient"] for p in pools))
    attrs["pool_failed"] = int(sum(np.sum(p["status"].values == 2) for p in pools))
    models = [Reweighted(fit, p) for fit, p in zip(fits, pools, strict=True)]
    result, seconds = _abc(cal, models, population, generations)
    second = cal.refine if refine is None else refine
    if second > 0:
        attrs["first_model_probability"] = "; ".join(
            f"{n} {p:.3g}" for n, p in zip(names, result["probability"], strict=True)
        )
        for k, (fit, first) in enumerate(zip(fits, pools, strict=True)):
            particles, w = result["particles"][k], result["weights"][k]
            if particles.shape[0] < 2:  # the variant died out: its pool stays as it is
                continue
            proposals = refined_proposals(fit, particles, w)
            started = time.perf_counter()
            more = cohort(
                fit.pool_cohort(second, proposals, stage=2),
                store=_store(pool_store, f"{names[k]}_refine"),
                client=client,
                workers=workers,
                progress=progress,
            )
            attrs["pool_seconds"] += round(time.perf_counter() - started, 3)
            attrs["pool_patients"] += int(more.sizes["patient"])
            stages = [(fit.proposals, first.sizes["patient"]), (proposals, more.sizes["patient"])]
            models[k] = Reweighted(fit, combine(first, more), stages)
        result, more_seconds = _abc(cal, models, population, generations)
        seconds += more_seconds
    ds = _dataset(cal, names, models, result)
    ds.attrs.update(attrs, abc_seconds=round(seconds, 3))
    patients = cal.check if check is None else check
    if patients > 0:
        _checks(ds, fits, patients, client, workers, progress)
    return ds


def _store(base: str | Path | None, name: str) -> Path | None:
    if base is None:
        return None
    base = Path(base)
    return base.with_name(f"{base.stem}_{name}.zarr")


def _abc(cal: Calibration, models: list[Reweighted], population: int, generations: int):
    """One multi-model ABC-SMC run: per variant its final particles and weights, and the
    posterior model probabilities by generation."""
    import pyabc

    for name in ("ABC", "pyabc", "Sampler", "Epsilon", "Distance", "Acceptor", "History"):
        logging.getLogger(name).setLevel(logging.WARNING)
    rvs = {}
    for i, prior in enumerate(cal.priors):
        low, high = prior.distribution.params["low"], prior.distribution.params["high"]
        if prior.distribution.kind == "loguniform":
            low, high = math.log10(low), math.log10(high)
        rvs[f"p{i}"] = pyabc.RV("uniform", low, high - low)
    sd = {t.name: t.sd for t in cal.targets}

    def model_of(reweighted: Reweighted):
        def simulate(par: dict[str, float]) -> dict[str, float]:
            theta = {p.name: float(decode(cal, i, par[f"p{i}"])) for i, p in enumerate(cal.priors)}
            return reweighted.statistics(theta, cal.targets)

        return simulate

    def distance(x: dict[str, float], x0: dict[str, float]) -> float:
        total = sum(((x[k] - x0[k]) / sd[k]) ** 2 for k in x0)
        return float(math.sqrt(total)) if math.isfinite(total) else math.inf

    np.random.seed(cal.seed)  # noqa: NPY002 - pyabc draws from the global numpy stream
    abc = pyabc.ABCSMC(
        [model_of(m) for m in models],
        [pyabc.Distribution(**rvs) for _ in models],
        distance,
        population_size=population,
        sampler=pyabc.sampler.SingleCoreSampler(),
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        abc.new(f"sqlite:///{Path(folder) / 'abc.db'}", {t.name: t.value for t in cal.targets})
        history = abc.run(minimum_epsilon=cal.minimum_epsilon, max_nr_populations=generations)
        by_generation = history.get_model_probabilities()
        populations = history.get_all_populations()
        particles, weights = [], []
        for m in range(len(models)):
            frame, w = history.get_distribution(m=m, t=history.max_t)
            if len(frame):
                x = np.column_stack(
                    [decode(cal, i, frame[f"p{i}"].values) for i in range(len(cal.priors))]
                )
                w = np.asarray(w, dtype=float)
                particles.append(x)
                weights.append(w / w.sum())
            else:
                particles.append(np.zeros((0, len(cal.priors))))
                weights.append(np.zeros(0))
    table = np.zeros((len(by_generation), len(models)))
    for m in range(len(models)):
        if m in by_generation.columns:
            table[:, m] = np.nan_to_num(by_generation[m].values.astype(float))
    result = {
        "particles": particles,
        "weights": weights,
        "probability": table[-1],
        "by_generation": table,
        "populations": populations[populations["t"] >= 0],
    }
    return result, time.perf_counter() - started


def decode(cal: Calibration, i: int, value):
    if cal.priors[i].distribution.kind == "loguniform":
        return 10.0 ** np.asarray(value, dtype=float)
    return np.asarray(value, dtype=float)


def _dataset(cal: Calibration, names, models, result) -> xr.Dataset:
    targets = (*cal.targets, *cal.validation)
    params = [p.name for p in cal.priors]
    nv, npar, nt = len(names), len(params), len(targets)
    estimate, low, high = (np.full((nv, npar), np.nan) for _ in range(3))
    pred_mid, pred_low, pred_high, on_pool, pool_sd = (np.full((nv, nt), np.nan) for _ in range(5))
    rows, row_w, row_v, row_pred = [], [], [], []
    for k, model in enumerate(models):
        x, w = result["particles"][k], result["weights"][k]
        if x.shape[0] == 0:
            continue
        for j in range(npar):
            estimate[k, j] = weighted_quantile(x[:, j], w, 0.5)
            low[k, j] = weighted_quantile(x[:, j], w, 0.05)
            high[k, j] = weighted_quantile(x[:, j], w, 0.95)
        predicted = np.array(
            [list(model.statistics(dict(zip(params, r, strict=True)), targets).values()) for r in x]
        )
        for i in range(nt):
            ok = np.isfinite(predicted[:, i])
            if ok.any():
                pred_mid[k, i] = weighted_quantile(predicted[ok, i], w[ok], 0.5)
                pred_low[k, i] = weighted_quantile(predicted[ok, i], w[ok], 0.05)
                pred_high[k, i] = weighted_quantile(predicted[ok, i], w[ok], 0.95)
        at = dict(zip(params, estimate[k], strict=True))
        on_pool[k] = list(model.statistics(at, targets).values())
        pool_sd[k] = bootstrap_sd(
            model.pool, targets, model.weights(at), cal.seed, 30, model.probabilities(at)
        )
        rows.append(x)
        row_w.append(w * result["probability"][k])
        row_v += [names[k]] * x.shape[0]
        row_pred.append(predicted)
    kind = ["target"] * len(cal.targets) + ["validation"] * len(cal.validation)
    pops = result["populations"]
    units = {k: str(u) for k, _v, u, _s in cal.cohort.base.leaves()}
    return xr.Dataset(
        {
            "model_probability": (
                ("variant",),
                result["probability"],
                {"long_name": "posterior probability of each variant (uniform prior)"},
            ),
            "model_probability_by_generation": (("generation", "variant"), result["by_generation"]),
            "variant_description": (("variant",), np.array([v.description for v in cal.variants])),
            "variant_source": (("variant",), np.array([v.source for v in cal.variants])),
            "estimate": (("variant", "parameter"), estimate, {"long_name": "posterior median"}),
            "ci90_low": (("variant", "parameter"), low),
            "ci90_high": (("variant", "parameter"), high),
            "unit": (("parameter",), np.array([units.get(p.key, "1") for p in cal.priors])),
            "prior_low": (
                ("parameter",),
                np.array([p.distribution.params["low"] for p in cal.priors]),
            ),
            "prior_high": (
                ("parameter",),
                np.array([p.distribution.params["high"] for p in cal.priors]),
            ),
            "prior": (("parameter",), np.array([p.distribution.kind for p in cal.priors])),
            "predicted_median": (("variant", "target"), pred_mid),
            "predicted_low": (("variant", "target"), pred_low),
            "predicted_high": (("variant", "target"), pred_high),
            "on_pool": (("variant", "target"), on_pool),
            "pool_sd": (("variant", "target"), pool_sd),
            "posterior": (
                ("particle", "parameter"),
                np.concatenate(rows) if rows else np.zeros((0, npar)),
            ),
            "weight": (("particle",), np.concatenate(row_w) if row_w else np.zeros(0)),
            "particle_variant": (("particle",), np.array(row_v, dtype=str)),
            "predicted": (
                ("particle", "target"),
                np.concatenate(row_pred) if row_pred else np.zeros((0, nt)),
            ),
            **target_variables(targets, kind, pops),
        },
        coords={
            "variant": np.array(names),
            "parameter": np.array(params),
            "target": np.array([t.name for t in targets]),
            "generation": pops["t"].values.astype(int),
        },
        attrs={
            "title": f"fields concept comparison: {cal.name}",
            "method": "ABC-SMC model selection (pyabc) on importance-weighted, scaled pools",
            "calibration_fingerprint": cal.fingerprint(),
            "cohort": cal.cohort.name,
            "fields_version": __version__,
        },
    )


def target_variables(targets, kind, populations) -> dict[str, tuple]:
    """The targets (value, sd, kind, statistic, source, population) and the ABC-SMC
    generations (epsilon, samples) as Dataset variables, shared by both fits' Datasets."""
    return {
        "target_value": (("target",), np.array([t.value for t in targets])),
        "target_sd": (("target",), np.array([t.sd for t in targets])),
        "target_kind": (("target",), np.array(kind)),
        "target_statistic": (("target",), np.array([t.statistic for t in targets])),
        "target_source": (("target",), np.array([t.source for t in targets])),
        "target_population": (("target",), np.array([t.population for t in targets])),
        "epsilon": (("generation",), populations["epsilon"].values.astype(float)),
        "samples": (("generation",), populations["samples"].values.astype(float)),
    }


def _checks(ds, fits, patients, client, workers, progress) -> None:
    """Each living variant's targets on a direct cohort at its estimate (no reweighting)."""
    targets = (*fits[0].targets, *fits[0].validation)
    check = np.full((len(fits), len(targets)), np.nan)
    check_sd = np.full_like(check, np.nan)
    started = time.perf_counter()
    for k, fit in enumerate(fits):
        if not np.isfinite(ds["estimate"].values[k]).all():
            continue
        theta = dict(zip(ds["parameter"].values, ds["estimate"].values[k], strict=True))
        direct = cohort(
            fit.cohort_at(theta, patients), client=client, workers=workers, progress=progress
        )
        check[k] = [evaluate(direct, t) for t in targets]
        check_sd[k] = bootstrap_sd(direct, targets, None, fit.seed, resamples=30)
    ds["check"] = (("variant", "target"), check, {"long_name": "direct cohort at the estimate"})
    ds["check_sd"] = (("variant", "target"), check_sd)
    ds.attrs.update(check_patients=patients, check_seconds=round(time.perf_counter() - started, 3))
