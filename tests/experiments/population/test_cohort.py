"""Cohorts: file validation, per-patient streams, determinism whatever the chunks or workers,
kill and resume, the event draws against their probabilities, survival curves."""

from __future__ import annotations

import importlib
import math
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from fields.core.errors import FieldsInputError
from fields.experiments.population import cohort_run, outcomes
from fields.experiments.population.cohort import cohort, open_cohort
from fields.experiments.population.cohort_file import cohort_from_dict, load_cohort
from fields.experiments.population.cohort_stats import statistic
from fields.experiments.population.survival import kaplan_meier
from tests.experiments.population.cohorts import DIAMETER, ratio_cohort

# the module (fields.experiments.population.cohort is also the name of the function it exports)
cohort_module = importlib.import_module("fields.experiments.population.cohort")
DATA = Path(__file__).resolve().parents[2] / "data"
SMALL = DATA / "cohort_small.toml"
STUDIES = Path(__file__).resolve().parents[3] / "studies"


def _same(a: xr.Dataset, b: xr.Dataset) -> None:
    for name in a.data_vars:
        x, y = a[name].values, b[name].values
        if x.dtype.kind == "f":
            np.testing.assert_array_equal(x, y, err_msg=name)
        else:
            assert (x == y).all(), name


@pytest.fixture(scope="module")
def small() -> xr.Dataset:
    return cohort(SMALL, workers=0, progress=False)


def test_cohort_dataset_names_units_and_stages(small):
    ds = small
    assert ds.sizes["patient"] == 12
    for name in (
        "metastatic_at_diagnosis",
        "time_to_metastasis_days",
        "metastasis_observed",
        "first_site",
        "death_day",
        "t_stage",
        "primary.tvdt_days",
        "dtc.founding_per_day",
        "primary.resection_diameter_mm",
    ):
        assert name in ds, name
        assert "units" in ds[name].attrs, name
    assert ds["primary.tvdt_days"].attrs["units"] == "day"
    assert (ds["status"].values == 1).all()
    d = ds["primary.resection_diameter_mm"].values
    stage = ds["t_stage"].values.astype(str)
    assert set(stage) <= {"T1", "T2", "T3"}
    assert (stage[d < 20.0] == "T1").all() and (stage[d >= 50.0] == "T3").all()
    observed = ds["metastasis_observed"].values
    assert ds["time_to_metastasis_days"].values[
        ~observed & ~ds["metastatic_at_diagnosis"].values
    ] == pytest.approx(720.0)  # censored at the end of follow-up (nobody dies this early)
    assert (ds["first_site"].values.astype(str)[observed] == "lung").all()
    # M1 patients are not at risk after resection
    m1 = ds["metastatic_at_diagnosis"].values
    assert np.isnan(ds["time_to_metastasis_days"].values[m1]).all()


def test_patient_streams_do_not_depend_on_cohort_size():
    c = load_cohort(SMALL)
    a = c.with_patients(5).sample(np.arange(5))
    b = c.with_patients(40).sample(np.arange(40))
    for key in a:
        np.testing.assert_array_equal(a[key], b[key][:5])


def test_results_do_not_depend_on_chunks_or_workers(small, monkeypatch):
    monkeypatch.setattr(cohort_module, "CHUNK", 5)
    rechunked = cohort(SMALL, workers=0, progress=False)
    _same(small.drop_attrs(), rechunked.drop_attrs())
    monkeypatch.setattr(cohort_module, "CHUNK", 4)
    distributed = cohort(SMALL, workers=2, progress=False)
    _same(small.drop_attrs(), distributed.drop_attrs())


class Killed(Exception):
    """Stands for the process being killed between two chunks."""


def test_killed_cohort_resumes_without_rerunning_finished_patients(small, tmp_path, monkeypatch):
    monkeypatch.setattr(cohort_module, "CHUNK", 4)
    calls: list[int] = []
    real = cohort_run.run_chunk
    kill = [True]

    def dies_at_second_chunk(spec, a, b):
        calls.append(a)
        if a == 4 and kill[0]:
            raise Killed  # a kill in the middle of the cohort
        return real(spec, a, b)

    monkeypatch.setattr(cohort_module, "run_chunk", dies_at_second_chunk)
    store = tmp_path / "c.zarr"
    with pytest.raises(Killed):
        cohort(SMALL, store=store, workers=0, progress=False)
    partial = open_cohort(store)
    assert (partial["status"].values[:4] == 1).all()
    assert (partial["status"].values[4:] == 0).all()
    calls.clear()
    kill[0] = False
    resumed = cohort(SMALL, store=store, workers=0, progress=False)
    assert calls == [4, 8]  # the finished chunk is not run again
    _same(small.drop_attrs(), resumed.drop_attrs())
    with pytest.raises(FieldsInputError, match="another cohort"):
        cohort(SMALL, store=store, workers=0, patients=13, progress=False)


def test_a_failed_patient_keeps_its_message_and_the_others_go_on(monkeypatch):
    real = cohort_run.run

    def one_fails(batch, *args, **kwargs):
        rec = real(batch, *args, **kwargs)
        rec.errors[1] = "stiffness NaN at day 3 (test)"
        return rec

    monkeypatch.setattr(cohort_run, "run", one_fails)
    with pytest.warns(UserWarning, match="1 of 12 patients failed"):
        ds = cohort(SMALL, workers=0, progress=False)
    assert ds["status"].values[1] == 2 and "stiffness NaN" in str(ds["error"].values[1])
    assert (np.delete(ds["status"].values, 1) == 1).all()


BAD = [
    ({"cohort": {"patients": 0}}, "cohort.patients = 0"),
    ({"cohort": {"sites": ["heart"]}}, "cohort.sites = 'heart'"),
    ({"cohort": {"geometry": "2d"}}, "cohort.geometry = '2d'"),
    ({"cohort": {"follow_up_days": -1.0}}, "cohort.follow_up_days = -1.0"),
    ({"cohort": {"colour": 1}}, "cohort.colour = 1"),
    (
        {"sample": {"primary.tvdt_days": {"distribution": "gamma", "source": "x"}}},
        "distribution = 'gamma'",
    ),
    (
        {
            "sample": {
                "primary.tvdt_days": {
                    "distribution": "lognormal",
                    "median": 100.0,
                    "sigma": -1.0,
                    "source": "x",
                }
            }
        },
        "sigma = -1.0",
    ),
    (
        {
            "sample": {
                "primary.tvdt_days": {
                    "distribution": "lognormal",
                    "median": float("nan"),
                    "sigma": 1.0,
                    "source": "x",
                }
            }
        },
        "median = nan",
    ),
    (
        {
            "sample": {
                "primary.tvdt_days": {"distribution": "lognormal", "median": 100.0, "sigma": 1.0}
            }
        },
        "source = ''",
    ),
    (
        {
            "sample": {
                "primary.tvdt_days": {
                    "distribution": "normal",
                    "mean": 100.0,
                    "sd": 50.0,
                    "source": "x",
                }
            }
        },
        "inside the key's allowed values",
    ),
    (
        {
            "sample": {
                "primary.colour": {
                    "distribution": "uniform",
                    "low": 1.0,
                    "high": 2.0,
                    "source": "x",
                }
            }
        },
        "primary.colour",
    ),
    (
        {
            "sample": {
                "lesions.size_bins": {
                    "distribution": "uniform",
                    "low": 10.0,
                    "high": 20.0,
                    "source": "x",
                }
            }
        },
        "real-valued",
    ),
    (
        {
            "sample": {
                "primary.resection_diameter_mm": {
                    "distribution": "stages",
                    "edges": [5, 2],
                    "weights": [1],
                    "names": ["T1"],
                    "source": "x",
                }
            }
        },
        "edges",
    ),
]


def _factor(times: str, kind: str = "lognormal") -> dict:
    spec = {"distribution": kind, "source": "x", "times": times}
    spec.update({"median": 0.5, "sigma": 0.3} if kind == "lognormal" else {})
    return {"sample": {"lesions.tvdt_days": spec}}


BAD += [
    (_factor("primary.tvdt_days"), "sample.'lesions.tvdt_days'.times"),  # not sampled
    (_factor("lesions.tvdt_days"), "sample.'lesions.tvdt_days'.times"),  # itself
    (
        {
            "sample": {
                "lesions.tvdt_days": {
                    **_factor("dtc.founding_per_day")["sample"]["lesions.tvdt_days"]
                },
                "dtc.founding_per_day": {
                    **_factor("primary.resection_diameter_mm")["sample"]["lesions.tvdt_days"]
                },
            }
        },
        "not itself a factor",
    ),
    (
        {
            "sample": {
                "lesions.tvdt_days": {
                    "distribution": "lognormal",
                    "median": 0.5,
                    "sigma": 0.3,
                    "source": "x",
                    "times": 3,
                }
            }
        },
        "the name of another sampled key",
    ),
]


def test_a_times_distribution_scales_the_other_key_of_the_same_patient():
    """``times``: a metastasis doubling time drawn as a ratio of the primary's; the ratio's
    distribution is the declared one, whatever the base key's."""
    doc = ratio_cohort(0.4, 0.2, patients=4000)
    spec = cohort_from_dict(doc)
    values = spec.sample(np.arange(4000))
    ratio = values["lesions.tvdt_days"] / values["primary.tvdt_days"]
    assert np.median(ratio) == pytest.approx(0.4, rel=0.02)
    assert np.std(np.log(ratio)) == pytest.approx(0.2, rel=0.05)
    assert (
        np.corrcoef(np.log(values["lesions.tvdt_days"]), np.log(values["primary.tvdt_days"]))[0, 1]
        > 0.9
    )
    assert spec.factors(values)["lesions.tvdt_days"] == pytest.approx(ratio)
    # a replacement (a calibration's proposal) draws the same factor
    wide = spec.with_samples(
        {"lesions.tvdt_days": spec.samples["lesions.tvdt_days"].with_params(sigma=1.0)}
    )
    assert wide.samples["lesions.tvdt_days"].times == "primary.tvdt_days"
    assert wide.fingerprint() != spec.fingerprint()


def _scaled(**scaling) -> dict:
    spec = {"distribution": "lognormal", "median": 150.0, "sigma": 1.0, "source": "x"}
    return {"sample": {"primary.tvdt_days": {**spec, "scaled_by": scaling}}}


_BY_SIZE = {"key": "primary.resection_diameter_mm", "reference": 20.0}
BAD += [
    (_scaled(key="dtc.founding_per_day", reference=1.0, exponent=1.0), "scaled_by.key"),
    (_scaled(key="primary.tvdt_days", reference=1.0, exponent=1.0), "scaled_by.key"),
    (_scaled(**_BY_SIZE, exponent=float("nan")), "scaled_by.exponent"),
    (_scaled(key="primary.resection_diameter_mm", reference=-20.0, exponent=-0.2), "reference"),
    (_scaled(key="primary.resection_diameter_mm", exponent=-0.2), "scaled_by"),  # no reference
    (_scaled(**_BY_SIZE, exponent=-0.2, power=2), "scaled_by"),  # unknown field
]


def test_a_scaled_by_distribution_follows_a_power_of_the_other_key():
    """``scaled_by``: the primary's doubling time shortens with its size at diagnosis as
    ``(diameter / 20 mm) ** exponent``; the drawn factor keeps the declared distribution, and a
    ``times`` key multiplies the scaled value."""
    doc = ratio_cohort(0.4, 0.2, patients=6000)
    doc["sample"]["primary.tvdt_days"]["scaled_by"] = {**_BY_SIZE, "exponent": -0.5}
    spec = cohort_from_dict(doc)
    values = spec.sample(np.arange(6000))
    size, tvdt = values["primary.resection_diameter_mm"], values["primary.tvdt_days"]
    slope = np.polyfit(np.log(size / 20.0), np.log(tvdt), 1)[0]
    assert slope == pytest.approx(-0.5, abs=0.15)  # log TVDT regressed on log size
    drawn = spec.factors(values)
    np.testing.assert_allclose(drawn["primary.tvdt_days"], tvdt * (size / 20.0) ** 0.5)
    assert np.median(drawn["primary.tvdt_days"]) == pytest.approx(150.0, rel=0.05)
    np.testing.assert_allclose(drawn["lesions.tvdt_days"], values["lesions.tvdt_days"] / tvdt)
    # the same draws without the scaling: only the power of the size differs
    plain = cohort_from_dict(ratio_cohort(0.4, 0.2, patients=6000)).sample(np.arange(6000))
    np.testing.assert_allclose(plain["primary.tvdt_days"], drawn["primary.tvdt_days"])
    assert (
        spec.fingerprint() != cohort_from_dict(ratio_cohort(0.4, 0.2, patients=6000)).fingerprint()
    )
    assert (
        "(primary.resection_diameter_mm / 20) ** -0.5"
        in spec.samples["primary.tvdt_days"].describe()
    )
    # a replacement (a calibration's proposal) keeps the scaling
    wide = spec.with_samples(
        {"primary.tvdt_days": spec.samples["primary.tvdt_days"].with_params(sigma=0.5)}
    )
    assert (
        wide.samples["primary.tvdt_days"].scaled_by == spec.samples["primary.tvdt_days"].scaled_by
    )


@pytest.mark.parametrize(("change", "message"), BAD)
def test_bad_cohort_files_name_the_key_and_value(change, message):
    doc = {
        "cohort": {"name": "x", "sites": ["lung"]},
        "sample": {"primary.resection_diameter_mm": dict(DIAMETER)},
    }
    for key, value in change.items():
        doc[key] = {**doc.get(key, {}), **value}
    with pytest.raises(FieldsInputError, match=re_escape(message)):
        cohort_from_dict(doc)


def re_escape(text: str) -> str:
    import re

    return re.escape(text)


def test_a_cohort_must_resect():
    with pytest.raises(FieldsInputError, match=r"primary\.resection_diameter_mm"):
        cohort_from_dict({"cohort": {"sites": ["lung"]}})


def test_setting_a_sampled_key_is_refused():
    with pytest.raises(FieldsInputError, match="it is sampled"):
        load_cohort(SMALL).with_updates({"primary.tvdt_days": 80.0})


def test_first_passage_draws_follow_the_poisson_probabilities():
    """P(first detectable metastasis by t) = 1 - exp(-E(t)); the site is drawn in proportion to
    each site's increase of E; extra lesions are Poisson(E(end) - threshold)."""
    times = np.linspace(0.0, 1000.0, 51)
    lung = 0.002 * times  # E_lung(1000) = 2
    liver = 0.0005 * times  # E_liver(1000) = 0.5
    by_site = np.stack([lung, liver])
    n = 4000
    first, sites, lesions = [], [], []
    for i in range(n):
        ev = outcomes.patient_events(
            times, by_site, 200.0, 1000.0, np.random.default_rng([9, i, 1]), ["lung", "liver"]
        )
        if ev["metastasis_observed"]:
            first.append(200.0 + ev["time_to_metastasis_days"])
            sites.append(ev["first_site"])
        lesions.append(int(np.sum(ev["detectable_lesions"])))
    first = np.asarray(first)
    total = 0.0025 * times
    for t in (400.0, 700.0, 1000.0):  # among patients M0 at day 200
        expected = 1.0 - math.exp(-(0.0025 * t - 0.5))
        m0 = n * math.exp(-0.5)
        assert np.sum(first <= t) / m0 == pytest.approx(expected, abs=0.03)
    assert np.mean(np.array(sites) == "lung") == pytest.approx(0.8, abs=0.03)
    assert np.mean(lesions) == pytest.approx(total[-1], rel=0.05)  # Poisson(E(end)) in all


def test_death_before_diagnosis_is_metastatic_at_diagnosis_with_a_site():
    """A lethal metastatic burden before the primary reached its size: the patient presents
    with metastases (drawn from one uniform, whatever the threshold), never as censored M0."""
    times = np.linspace(0.0, 1000.0, 51)
    by_site = np.stack([0.001 * times, 0.0001 * times])  # E(death at day 500) = 0.55
    for i in range(200):
        ev = outcomes.patient_events(
            times, by_site, 800.0, 500.0, np.random.default_rng([3, i]), ["lung", "liver"]
        )
        assert ev["metastatic_at_diagnosis"] and not ev["metastasis_observed"]
        assert ev["first_site"] in ("lung", "liver")
        assert math.isnan(ev["time_to_metastasis_days"])
    # the probability form agrees: P(M1) = 1, never a relapse after diagnosis
    p_m1, free = outcomes.metastasis_free(times, by_site.sum(axis=0), 800.0, times, 500.0)
    assert p_m1 == 1.0 and np.all(free == 1.0)
    p_alive, _ = outcomes.metastasis_free(times, by_site.sum(axis=0), 400.0, times, 500.0)
    assert p_alive == pytest.approx(-math.expm1(-0.44))


def test_rao_blackwell_statistics_agree_with_the_draws(small):
    drawn = 100.0 * small["metastatic_at_diagnosis"].values.mean()
    expected = statistic(small, "percent_metastatic_at_diagnosis")
    n = small.sizes["patient"]
    assert abs(drawn - expected) <= 100.0 * 3.0 * math.sqrt(0.25 / n) + 1e-9


def test_kaplan_meier_by_stage(small):
    km = kaplan_meier(small, "t_stage")
    assert set(km["group"].values) <= {"T1", "T2", "T3"}
    s = km["survival"].values
    assert np.all(np.diff(s, axis=1) <= 1e-12)  # non-increasing
    assert np.all((km["ci_low"].values <= s + 1e-12) & (s <= km["ci_high"].values + 1e-12))
    with pytest.raises(FieldsInputError, match="--by = 'colour'"):
        kaplan_meier(small, "colour")
    numeric = kaplan_meier(small, "primary.tvdt_days")
    assert km["patients"].sum() == numeric["patients"].sum()


def test_lead_time_is_a_valid_cohort_file():
    c = load_cohort(STUDIES / "lead_time.toml")
    assert c.stage_key == "primary.resection_diameter_mm"
    assert {t.statistic for t in c.targets} >= {
        "median_months_to_metastasis",
        "percent_metastatic_at_diagnosis",
    }
    assert c.patients == 2000
