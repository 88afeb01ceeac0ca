"""Hostile columns for a batch (any key, any values, every geometry): the batch runs, or one
clear one-line error names what is wrong; a run that fails numerically is reported in the
record, never raised (the batched form of the CLI fuzz)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import fields
from fields.core.errors import FieldsInputError
from fields.engine.loop import run
from fields.parameters.batch import ParameterBatch

KEYS = [key for key, *_ in fields.Parameters().leaves()]
#: real-valued keys and their defaults: scaled columns of these mostly run
REAL = {key: value for key, value, *_ in fields.Parameters().leaves() if type(value) is float}
BASE = fields.Parameters().with_updates(
    {"geometry.domain_um": 100.0, "geometry.domain_3d_um": 60.0, "geometry.krogh_cells": 10}
)
values = st.one_of(
    st.floats(min_value=0.01, max_value=100.0),  # in range for many keys: those runs run
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -1.0, 1e-300, 1e300, 5e-324, 1e9]),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.text(max_size=5),
    st.booleans(),
)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    key=st.one_of(st.sampled_from(KEYS), st.text(max_size=12)),
    column=st.lists(values, min_size=1, max_size=3),
    real=st.sampled_from(sorted(REAL)),
    factors=st.lists(st.floats(min_value=0.2, max_value=5.0), min_size=1, max_size=3),
    hostile=st.booleans(),
    geometry=st.sampled_from(["krogh", "2d", "3d"]),
)
def test_hostile_columns_run_or_name_the_problem(key, column, real, factors, hostile, geometry):
    if not hostile:  # a plausible column: a default scaled by 0.2-5
        key, column = real, [REAL[real] * f for f in factors]
    try:
        batch = ParameterBatch(BASE, {key: column})
        record = run(batch, sites=["lung"], days=2.0, geometry=geometry, keep="series")
    except FieldsInputError as exc:
        event("refused")
        message = str(exc).replace(key, "")  # the key as given may hold any character
        assert message and "\n" not in message and "Traceback" not in message
        return
    event("ran")
    for i in range(batch.size):
        if i not in record.errors:
            assert np.isfinite(record.systemic["tumour_cells"][i]).all()
