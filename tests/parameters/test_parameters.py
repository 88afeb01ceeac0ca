"""Parameter tree: defaults, dotted updates, validation, TOML and JSON."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fields
from fields.core.errors import FieldsInputError, ParameterError
from fields.parameters import Parameters, load_parameters

DESIGN_KEYS = [
    "primary.growth_law",
    "primary.tvdt_days",
    "primary.initial_cells",
    "primary.resection_day",
    "primary.resection_diameter_mm",
    "dissemination.onset_diameter_mm",
    "oxygen.diffusivity_um2_per_s",
    "oxygen.km_mmhg",
    "species.vegf.diffusivity_um2_per_s",
    "species.tgfb.diffusivity_um2_per_s",
    "geometry.resolution_um",
    "geometry.capillary_radius_um",
]
SITE_KEYS = ["capillary_spacing_um", "vessel_po2_mmhg", "baseline_stiffness_kpa", "organ_volume_ml"]


def test_design_keys_exist_for_every_site():
    p = Parameters()
    for key in DESIGN_KEYS:
        p.get(key)
    for site in fields.SITE_NAMES:
        for key in SITE_KEYS:
            assert p.get(f"sites.{site}.{key}") > 0


def test_every_leaf_has_unit_and_source():
    leaves = list(Parameters().leaves())
    assert len(leaves) > 80
    for key, _value, unit, source in leaves:
        assert unit, key
        assert source and len(source) > 5, key
        assert source.strip() != "assumed", f"{key}: 'assumed' needs a one-line reason"


def test_with_updates_is_immutable_and_typed():
    p = Parameters()
    q = p.with_updates({"primary.tvdt_days": 80.0, "sites.lung.capillary_spacing_um": "35"})
    assert p.primary.tvdt_days == 150.0
    assert q.primary.tvdt_days == 80.0
    assert q.sites["lung"].capillary_spacing_um == 35.0
    assert q.with_updates({"primary.resection_day": "none"}).primary.resection_day is None
    nested = p.with_updates({"primary": {"growth_law": "exponential"}})
    assert nested.primary.growth_law == "exponential"


def test_json_round_trip():
    p = Parameters().with_updates(
        {"primary.resection_day": 400.0, "interventions.anti_vegf.start_day": 10}
    )
    assert Parameters.from_json(p.to_json()) == p


@pytest.mark.parametrize(
    ("updates", "key", "fragment"),
    [
        ({"primary.tvdt": 3}, "primary.tvdt", "did you mean 'primary.tvdt_days'"),
        ({"oxygen.diffusivity_um2_per_s": -1.0}, "oxygen.diffusivity_um2_per_s", "> 0"),
        (
            {"species.vegf.diffusivity_um2_per_s": math.nan},
            "species.vegf.diffusivity_um2_per_s",
            "finite",
        ),
        ({"primary.tvdt_days": "inf"}, "primary.tvdt_days", "finite"),
        ({"sites.heart.organ_volume_ml": 1.0}, "sites.heart.organ_volume_ml", "lung"),
        ({"primary.growth_law": "logistic"}, "primary.growth_law", "'gompertz'"),
        ({"primary.tvdt_days": True}, "primary.tvdt_days", "number"),
        ({"primary": 3}, "primary", "group"),
        ({"geometry.krogh_cells": 2.5}, "geometry.krogh_cells", "integer"),
        ({"sites.lung.capillary_spacing_um": 8.0}, "sites.lung.capillary_spacing_um", "twice"),
    ],
)
def test_bad_updates_name_key_value_and_allowed(updates, key, fragment):
    with pytest.raises(ParameterError) as info:
        Parameters().with_updates(updates)
    text = str(info.value)
    assert key in text
    assert fragment in text


def test_toml_loading_and_errors(tmp_path):
    good = tmp_path / "p.toml"
    good.write_text(
        '[primary]\ntvdt_days = 80\ngrowth_law = "exponential"\n[sites.lung]\norgan_volume_ml = 900\n'
    )
    p = load_parameters(good)
    assert p.primary.tvdt_days == 80.0 and p.sites["lung"].organ_volume_ml == 900.0
    study = tmp_path / "s.toml"
    study.write_text('[study]\nname = "x"\n[parameters]\n"primary.tvdt_days" = 157\n')
    assert load_parameters(study).primary.tvdt_days == 157.0
    bad = tmp_path / "bad.toml"
    bad.write_text("[primary\n")
    with pytest.raises(FieldsInputError, match="not valid TOML"):
        load_parameters(bad)
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(FieldsInputError, match="UTF-8"):
        load_parameters(binary)
    with pytest.raises(FieldsInputError, match="cannot read"):
        load_parameters(tmp_path / "missing.toml")


POSITIVE_KEYS = [
    "oxygen.diffusivity_um2_per_s",
    "species.vegf.diffusivity_um2_per_s",
    "species.tgfb.diffusivity_um2_per_s",
    "primary.tvdt_days",
    "sites.liver.organ_volume_ml",
]


@settings(max_examples=150, deadline=None)
@given(
    key=st.sampled_from(POSITIVE_KEYS),
    value=st.one_of(
        st.floats(allow_nan=False, allow_infinity=True, max_value=0.0),
        st.just(math.nan),
        st.just(math.inf),
        st.text(max_size=8).filter(lambda s: s.strip().lower() not in ("none", "off", "null")),
    ),
)
def test_invalid_values_always_rejected(key, value):
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = None
        if number is not None and math.isfinite(number) and number > 0:
            return
    with pytest.raises(ParameterError) as info:
        Parameters().with_updates({key: value})
    assert key in str(info.value)


@settings(max_examples=100, deadline=None)
@given(key=st.sampled_from(POSITIVE_KEYS), value=st.floats(min_value=1e-3, max_value=1e6))
def test_valid_positive_values_accepted(key, value):
    assert Parameters().with_updates({key: value}).get(key) == value


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("species.tgfb.stiffening_half_pg_per_ml", "1e-310", "of magnitude 1e-30 to 1e+30"),
        ("oxygen.diffusivity_um2_per_s", "1e305", "of magnitude 1e-30 to 1e+30"),
    ],
)
def test_absurd_magnitudes_are_rejected(key, value, fragment):
    with pytest.raises(fields.ParameterError) as err:
        fields.Parameters().with_updates({key: value})
    assert key in str(err.value) and fragment in str(err.value)
