"""Hostile input at the command line (issue 7): parameter files and --set values of any shape.

Whatever arrives (wrong types, huge and tiny numbers, NaN/Inf strings, unknown keys, deeply
nested garbage, non-UTF-8 bytes), `fields run` either runs or prints one clear message and exits
with 2 (or 3 when an accepted but extreme value breaks the numerics, which the guard reports):
never a traceback, never a file left behind. Valid inputs run one day of the Krogh lung.
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fields
from fields.cli import main

KEYS = [key for key, *_ in fields.Parameters().leaves()]
GROUPS = sorted({key.split(".")[0] for key in KEYS})

numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e-300, max_value=1e-300),
    st.sampled_from([0.0, -0.0, 1e308, -1e308, 5e-324, 1e-12, 1e12]),
    st.integers(min_value=-(10**30), max_value=10**30),
)
strings = st.one_of(
    st.sampled_from(["nan", "NaN", "inf", "-inf", "1e400", "none", "", " ", "0x10", "1_000"]),
    st.text(max_size=12),
)
leaf = st.one_of(numbers, strings, st.booleans())
garbage = st.recursive(
    leaf,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.text(max_size=6), children, max_size=3),
    ),
    max_leaves=12,
)
keys = st.one_of(st.sampled_from(KEYS), st.sampled_from(GROUPS), st.text(max_size=15))


def toml_value(value: object) -> str:
    """A TOML literal (inline tables for nested garbage)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON escapes are valid TOML basic-string escapes
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def toml_document(entries: list[tuple[str, object]]) -> str:
    return "\n".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in entries) + "\n"


def run_cli(tmp_path, capsys, extra: list[str]) -> tuple[int, str]:
    out = tmp_path / "out.nc"
    out.unlink(missing_ok=True)
    argv = ["run", "--site", "lung", "--geometry", "krogh", "--days", "1", "--no-fields"]
    code = main([*argv, *extra, "--out", str(out)])  # main() returns, it never exits
    err = capsys.readouterr().err
    # 2: rejected input; 3: an in-range but extreme value that made the run fail numerically
    # (the guard names site, variable, day and likely cause). Never a traceback.
    assert code in (0, 2, 3), err
    if code in (2, 3):
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("fields: error: "), err
        assert "Traceback" not in err
        assert not out.exists()
    if code == 3:
        assert "numerical failure" in err and "likely cause" in err
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.nc")]
    assert not leftovers
    return code, err


SETTINGS = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}


def _config_case(tmp_path, capsys, entries, nested_in):
    if nested_in is not None:
        entries = [(nested_in, dict(entries))]
    path = tmp_path / "p.toml"
    path.write_text(toml_document(entries), encoding="utf-8")
    run_cli(tmp_path, capsys, ["--config", str(path)])


def _set_case(tmp_path, capsys, pairs):
    extra: list[str] = []
    for key, value in pairs:
        extra += ["--set", f"{key}={value}"]
    run_cli(tmp_path, capsys, extra)


config_entries = st.lists(st.tuples(keys, garbage), max_size=4)
nesting = st.one_of(st.none(), st.sampled_from(GROUPS), st.text(max_size=5))
set_pairs = st.lists(
    st.tuples(keys, st.one_of(strings, numbers.map(repr), garbage.map(str))), max_size=3
)


@settings(max_examples=250, **SETTINGS)
@given(entries=config_entries, nested_in=nesting)
def test_fuzz_parameter_files(tmp_path, capsys, entries, nested_in):
    _config_case(tmp_path, capsys, entries, nested_in)


@settings(max_examples=200, **SETTINGS)
@given(pairs=set_pairs)
def test_fuzz_set_values(tmp_path, capsys, pairs):
    _set_case(tmp_path, capsys, pairs)


@settings(max_examples=60, **SETTINGS)
@given(data=st.binary(max_size=64))
def test_fuzz_raw_bytes_as_parameter_file(tmp_path, capsys, data):
    """Non-UTF-8 and arbitrary bytes: a clear message, never a traceback."""
    path = tmp_path / "p.toml"
    path.write_bytes(data)
    run_cli(tmp_path, capsys, ["--config", str(path)])


@pytest.mark.slow
@settings(max_examples=3000, **SETTINGS)
@given(entries=config_entries, nested_in=nesting, pairs=set_pairs)
def test_fuzz_files_and_set_many(tmp_path, capsys, entries, nested_in, pairs):
    _config_case(tmp_path, capsys, entries, nested_in)
    _set_case(tmp_path, capsys, pairs)
