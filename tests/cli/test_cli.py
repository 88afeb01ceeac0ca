"""The command line: run, plot, sites, and bad input (message, exit 2, no file)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fields.cli import main

FAST = ["--site", "lung", "--geometry", "krogh", "--days", "60", "--output-every", "30"]


def test_run_and_plot(tmp_path, capsys):
    out = tmp_path / "r.nc"
    assert (
        main(["run", *FAST, "--set", "primary.tvdt_days=80", "--seed", "3", "--out", str(out)]) == 0
    )
    assert out.is_file()
    png = tmp_path / "r.png"
    assert main(["plot", str(out), "--out", str(png)]) == 0
    assert png.stat().st_size > 10_000
    import xarray as xr

    tree = xr.open_datatree(out)
    assert tree.attrs["seed"] == 3
    assert '"tvdt_days": 80.0' in tree.attrs["parameters"]


def test_sites_table_has_units_and_sources(capsys):
    assert main(["sites"]) == 0
    text = capsys.readouterr().out
    for word in (
        "lung",
        "spleen",
        "capillary_spacing_um",
        "um",
        "kPa",
        "Sources",
        "Carreau",
        "Fidler IJ, Kripke ML (2015)",
    ):
        assert word in text


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--set", "primary.tvdt=3"], "primary.tvdt"),
        (["--set", "oxygen.diffusivity_um2_per_s=-1"], "oxygen.diffusivity_um2_per_s"),
        (["--set", "species.vegf.diffusivity_um2_per_s=nan"], "'nan'"),
        (["--set", "novalue"], "key=value"),
        (["--site", "heart"], "heart"),
        (["--geometry", "4d"], "4d"),
        (["--config", "BAD_TOML"], "not valid TOML"),
        (["--config", "MISSING"], "cannot read"),
    ],
)
def test_bad_input_exit_2_no_traceback_no_file(tmp_path, extra, fragment):
    bad = tmp_path / "bad.toml"
    bad.write_text("[primary\ntvdt_days = \n")
    extra = [
        str(bad) if e == "BAD_TOML" else str(tmp_path / "missing.toml") if e == "MISSING" else e
        for e in extra
    ]
    out = tmp_path / "out.nc"
    args = [
        "run",
        "--site",
        "lung",
        "--geometry",
        "krogh",
        "--days",
        "10",
        *extra,
        "--out",
        str(out),
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "fields.cli", *args], capture_output=True, text=True
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert fragment in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]


def test_plot_of_missing_or_bad_file(tmp_path):
    junk = tmp_path / "junk.nc"
    junk.write_bytes(b"not a netcdf")
    for target in (tmp_path / "nope.nc", junk):
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "fields.cli",
                "plot",
                str(target),
                "--out",
                str(tmp_path / "f.png"),
            ],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert not (tmp_path / "f.png").exists()


@pytest.mark.slow
def test_bench_quick_prints_both_tables_and_agrees():
    """`fields bench --quick` runs the harness end to end (timings are reported, not asserted)."""
    proc = subprocess.run(
        [sys.executable, "-m", "fields.cli", "bench", "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| ")]
    solver_rows = [r for r in rows if r.startswith(("| 2d", "| krogh"))]
    assert len(solver_rows) == 2
    for row in solver_rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert float(cells[6]) <= 1e-6  # max relative difference naive FiPy vs fields
        assert cells[5].endswith("x")
    assert any(r.startswith("| one krogh site") for r in rows)
    assert any(r.startswith("| LOD 20x20") for r in rows)  # the compiled limit, same run
    assert any(r.startswith("| 40-patient cohort") for r in rows)
    assert any(r.startswith("| small calibration") for r in rows)


def test_bench_unknown_case_is_an_input_error():
    proc = subprocess.run(
        [sys.executable, "-m", "fields.cli", "bench", "--only", "2d 7x7"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "--only = '2d 7x7' is not allowed" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_usage_errors_are_one_line_exit_2(capsys):
    """argparse's own errors (found by the slow fuzz: --set followed by '-x=1') are one line."""
    assert main(["run", "--set", "-5e286=1", "--out", "x.nc"]) == 2
    assert main(["no-such-command"]) == 2
    for line in capsys.readouterr().err.splitlines():
        assert line.startswith("fields: error: ") and "--help" in line
