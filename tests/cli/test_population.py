"""The population commands: cohort, calibrate, their figures, and bad input (exit 2, no file)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from fields.cli import main

DATA = Path(__file__).resolve().parents[1] / "data"
SMALL = str(DATA / "cohort_small.toml")


def test_cohort_then_survival_figure(tmp_path, capsys):
    store = tmp_path / "c.zarr"
    assert main(["cohort", SMALL, "--out", str(store), "--workers", "0", "--patients", "6"]) == 0
    text = capsys.readouterr().out
    assert "small: 6 patients" in text and "metastatic at diagnosis" in text
    assert "target T1/T2: percent metastatic at diagnosis" in text
    # running again resumes: nothing left to run
    assert main(["cohort", SMALL, "--out", str(store), "--workers", "0", "--patients", "6"]) == 0
    assert "(0 run now" in capsys.readouterr().out
    png = tmp_path / "mfs.png"
    assert main(["plot", str(store), "--output", "mfs", "--by", "t_stage", "--out", str(png)]) == 0
    assert png.stat().st_size > 10_000
    bad = tmp_path / "bad.png"
    assert main(["plot", str(store), "--by", "colour", "--out", str(bad)]) == 2
    assert main(["plot", str(store), "--output", "sobol", "--out", str(bad)]) == 2
    assert not bad.exists()


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--patients", "0"], "--patients = 0"),
        (["--set", "primary.tvdt_days=80"], "it is sampled"),
        (["--set", "primary.colour=1"], "primary.colour"),
        (
            ["--set", "dissemination.transpulmonary_passage=-1"],
            "dissemination.transpulmonary_passage",
        ),
        (["--workers", "-1"], "--workers = -1"),
    ],
)
def test_bad_cohort_input_exit_2_no_store(tmp_path, capsys, extra, fragment):
    store = tmp_path / "c.zarr"
    assert main(["cohort", SMALL, "--out", str(store), *extra]) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err and err.count("\n") == 1
    assert not store.exists()


def test_bad_cohort_files_and_stores(tmp_path, capsys):
    assert main(["cohort", str(tmp_path / "none.toml"), "--out", str(tmp_path / "c.zarr")]) == 2
    broken = tmp_path / "broken.toml"
    broken.write_text("[cohort\nname = 1")
    assert main(["cohort", str(broken), "--out", str(tmp_path / "c.zarr")]) == 2
    assert main(["cohort", SMALL, "--out", str(tmp_path / "c.nc")]) == 2
    assert not list(tmp_path.glob("c.*"))


def test_calibrate_writes_posterior_figure_and_report(tmp_path, capsys):
    (tmp_path / "cohort.toml").write_text(Path(SMALL).read_text())
    (tmp_path / "fit.toml").write_text(
        textwrap.dedent("""
        [calibration]
        name = "tiny"
        cohort = "cohort.toml"
        pool = 12
        seed = 2
        population_size = 10
        generations = 1
        min_effective_size = 1

        [proposal."dtc.founding_per_day"]
        distribution = "loguniform"
        low = 1e-8
        high = 1e-4
        source = "test"

        [parameter."dtc.founding_per_day".median]
        distribution = "loguniform"
        low = 1e-7
        high = 1e-5
        source = "test"
        """)
    )
    out = tmp_path / "fit.nc"
    assert main(["calibrate", str(tmp_path / "fit.toml"), "--out", str(out), "--workers", "0"]) == 0
    assert out.is_file() and out.with_suffix(".png").is_file() and out.with_suffix(".md").is_file()
    assert "dtc.founding_per_day.median" in out.with_suffix(".md").read_text()
    png = tmp_path / "again.png"
    assert main(["plot", str(out), "--out", str(png)]) == 0 and png.is_file()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--out", "fit.txt"], "--out = 'fit.txt'"),
        (["--out", "fit.nc", "--pool", "0"], "--pool = 0"),
        (["--out", "fit.nc", "--check", "-1"], "--check = -1"),
        (["--out", "fit.nc", "--refine", "-3"], "--refine = -3"),
        (["--out", "missing/fit.nc"], "does not exist"),
    ],
)
def test_bad_calibrate_input_exit_2_no_file(tmp_path, monkeypatch, capsys, args, fragment):
    monkeypatch.chdir(tmp_path)
    studies = Path(__file__).resolve().parents[2] / "studies"
    assert main(["calibrate", str(studies / "lead_time_calibration.toml"), *args]) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err
    assert not list(tmp_path.iterdir())
