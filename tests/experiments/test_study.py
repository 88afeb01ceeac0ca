"""Study files: sampling designs and validation (one clear message per bad input)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fields.core.errors import FieldsInputError
from fields.experiments import load_study, study_from_dict

BASE = {"study": {"name": "t", "sites": ["lung"], "geometry": "krogh", "days": 60.0}}


def doc(**parts):
    out = {k: dict(v) for k, v in BASE.items()}
    for key, value in parts.items():
        if key == "study":
            out["study"].update(value)
        else:
            out[key] = value
    return out


def test_grid_is_the_cartesian_product_in_declared_order():
    study = study_from_dict(
        doc(
            vary={
                "primary.tvdt_days": {"values": [80.0, 160.0]},
                "sites.lung.capillary_spacing_um": {"range": [40.0, 80.0], "num": 3},
            }
        )
    )
    design = study.design()
    assert len(design) == 6
    assert design[0] == {"primary.tvdt_days": 80.0, "sites.lung.capillary_spacing_um": 40.0}
    assert design[-1] == {"primary.tvdt_days": 160.0, "sites.lung.capillary_spacing_um": 80.0}


def test_latin_hypercube_stratifies_each_parameter_and_is_seeded():
    spec = doc(
        study={"sampling": "latin_hypercube", "samples": 10},
        vary={
            "primary.tvdt_days": {"distribution": "uniform", "low": 50.0, "high": 150.0},
            "dissemination.transpulmonary_passage": {
                "distribution": "loguniform",
                "low": 1e-4,
                "high": 1e-2,
            },
        },
    )
    a, b = study_from_dict(spec).design(), study_from_dict(spec).design()
    assert a == b
    tvdt = np.sort([row["primary.tvdt_days"] for row in a])
    assert np.all(np.floor((tvdt - 50.0) / 10.0) == np.arange(10))  # one per stratum
    arrest = np.array([row["dissemination.transpulmonary_passage"] for row in a])
    assert np.all((arrest >= 1e-4) & (arrest <= 1e-2))


def test_sobol_design_size_and_bounds():
    study = study_from_dict(
        doc(
            study={"sampling": "sobol", "samples": 8},
            vary={
                "primary.tvdt_days": {"distribution": "uniform", "low": 50.0, "high": 150.0},
                "dtc.reactivation_max_per_day": {
                    "distribution": "loguniform",
                    "low": 1e-3,
                    "high": 1e-1,
                },
            },
            sensitivity={"outputs": ["time_to_outgrowth_days"]},
        )
    )
    design = study.design()
    assert len(design) == 8 * (2 + 2)
    react = np.array([row["dtc.reactivation_max_per_day"] for row in design])
    assert react.min() >= 1e-3 and react.max() <= 1e-1


@pytest.mark.parametrize(
    ("parts", "fragment"),
    [
        ({"study": {"sampling": "random"}}, "study.sampling = 'random' is not allowed"),
        ({"study": {"sites": ["heart"]}}, "study.sites = 'heart' is not allowed"),
        ({"study": {"geometry": "4d"}}, "study.geometry = '4d' is not allowed"),
        ({"study": {"days": -1.0}}, "study.days = -1.0 is not allowed"),
        ({"study": {"outputs": ["oxygen_map"]}}, "study.outputs = 'oxygen_map' is not allowed"),
        ({"study": {"colour": "red"}}, "study.colour = 'red' is not allowed"),
        ({"vary": {"primary.tvdt": {"values": [1.0]}}}, "primary.tvdt"),
        ({"vary": {"primary.tvdt_days": {"values": [-5.0]}}}, "'primary.tvdt_days' = -5.0"),
        ({"vary": {"primary.tvdt_days": {"range": [1.0, 2.0], "num": 1}}}, "num = 1"),
        (
            {"vary": {"primary.tvdt_days": {"distribution": "cauchy"}}},
            "distribution = 'cauchy' is not allowed",
        ),
        (
            {
                "study": {"sampling": "sobol", "samples": 6},
                "vary": {"primary.tvdt_days": {"distribution": "uniform", "low": 1, "high": 2}},
            },
            "a power of two",
        ),
        (
            {"sensitivity": {"outputs": ["time_to_outgrowth_days"]}},
            "only with sampling = 'sobol'",
        ),
        ({"extra": {}}, "extra = {} is not allowed"),
    ],
)
def test_bad_study_names_key_value_and_allowed(parts, fragment):
    with pytest.raises(FieldsInputError) as err:
        study_from_dict(doc(**parts))
    assert fragment in str(err.value)
    assert "allowed" in str(err.value)


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["values", "range", "num", "log", "distribution", "low", "high", "x"]),
        st.one_of(
            st.none(),
            st.booleans(),
            st.floats(allow_nan=True),
            st.integers(),
            st.text(max_size=5),
            st.lists(st.floats(), max_size=3),
        ),
        max_size=4,
    )
)
def test_any_vary_table_is_accepted_or_one_clear_error(spec):
    """No garbage in a vary table escapes as anything but FieldsInputError."""
    spec = {k: v for k, v in spec.items() if v is not None}
    try:
        study = study_from_dict(doc(vary={"primary.tvdt_days": spec}))
    except FieldsInputError as exc:
        assert "allowed" in str(exc)
    else:
        assert study.design()


def test_every_shipped_study_loads(tmp_path):
    from pathlib import Path

    from fields.experiments.population.calibration_file import load_calibration
    from fields.experiments.population.cohort_file import load_cohort
    from fields.parameters import read_toml

    studies = sorted(Path(__file__).resolve().parents[2].joinpath("studies").glob("*.toml"))
    assert len(studies) >= 6
    for path in studies:
        doc = read_toml(path)
        if "cohort" in doc:  # cohort files run with `fields cohort`
            assert load_cohort(path).samples, path
            continue
        if "calibration" in doc:
            assert load_calibration(path).priors, path
            continue
        study = load_study(path)
        assert study.design(), path
        assert dataclasses.replace(study).fingerprint() == study.fingerprint()
