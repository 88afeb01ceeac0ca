"""Virtual trials: arms on the same patients, hazard ratios, and the trial file's errors."""

from __future__ import annotations

import math
import re
import subprocess
import sys

import numpy as np
import pytest

from fields.core.errors import FieldsInputError
from fields.experiments.population.trial import trial
from fields.experiments.population.trial_file import load_trial

COHORT = """
[cohort]
name = "small"
patients = 60
seed = 3
sites = ["lung", "bone_marrow"]
follow_up_days = 3700
output_every_days = 60

[parameters]
primary.tvdt_days = 100.0
primary.resection_diameter_mm = 30.0

[sample."dissemination.shed_cells_per_g_per_day"]
distribution = "lognormal"
median = 1590.0
sigma = 1.73
source = "test design: the shipped cohort's spread of shedding"
"""

CHEMO = """"interventions.chemotherapy.start" = "resection"
"interventions.chemotherapy.start_day" = 0.0
"""

TRIAL = f"""
[trial]
name = "small"
cohort = "cohort.toml"
control = "control"

[arm.control]
description = "no adjuvant therapy"

[arm.placebo]
description = "chemotherapy without effect"
[arm.placebo.parameters]
{CHEMO}"interventions.chemotherapy.duration_days" = 168.0
"interventions.chemotherapy.efficacy" = 0.0

[arm.chemotherapy]
description = "six months of chemotherapy from resection"
[arm.chemotherapy.parameters]
{CHEMO}"interventions.chemotherapy.duration_days" = 168.0

[arm.kill_all]
description = "every dividing cell killed within hours, for ten years"
[arm.kill_all.parameters]
{CHEMO}"interventions.chemotherapy.duration_days" = 3700.0
"interventions.chemotherapy.kill_per_day" = 50.0

[[published]]
arm = "chemotherapy"
hazard_ratio = 0.77
low = 0.72
high = 0.83
population = "test"
source = "test"
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("trial")
    (path / "cohort.toml").write_text(COHORT)
    (path / "trial.toml").write_text(TRIAL)
    return path


@pytest.fixture(scope="module")
def paired(folder):
    return trial(folder / "trial.toml", workers=0, progress=False)


def test_a_placebo_arm_equals_the_control_and_gives_hr_1(paired):
    control, placebo = (paired.sel(arm=a) for a in ("control", "placebo"))
    np.testing.assert_array_equal(
        control["time_to_metastasis_days"].values, placebo["time_to_metastasis_days"].values
    )
    e = paired.sel(arm="placebo", endpoint="distant")
    assert float(e["hr"]) == pytest.approx(1.0, abs=1e-9)
    assert float(e["hr_low"]) <= 1.0 <= float(e["hr_high"])


def test_killing_every_dividing_cell_leaves_no_relapse(paired):
    """The bound: lesions below detection at resection all divide, so none is ever found."""
    kill = paired.sel(arm="kill_all")
    assert int(kill["metastasis_observed"].values.sum()) == 0
    assert float(kill["incidence"]) == 0.0
    control_events = int(paired["metastasis_observed"].sel(arm="control").sum())
    assert control_events > 5  # the bound is not empty
    assert math.isnan(float(paired.sel(arm="kill_all", endpoint="distant")["hr"]))


def test_chemotherapy_lowers_the_hazard_and_the_paired_design_narrows_its_ci(folder, paired):
    e = paired.sel(arm="chemotherapy", endpoint="distant")
    assert float(e["hr_high"]) < 1.0
    spec = load_trial(folder / "trial.toml")
    import dataclasses

    two = [a for a in spec.arms if a.name in ("control", "placebo", "chemotherapy")]
    alone = trial(
        dataclasses.replace(spec, design="independent", arms=tuple(two)), workers=0, progress=False
    )
    f = alone.sel(arm="chemotherapy", endpoint="distant")
    paired_width = math.log(float(e["hr_high"]) / float(e["hr_low"]))
    independent_width = math.log(float(f["hr_high"]) / float(f["hr_low"]))
    assert paired_width < independent_width
    g = alone.sel(arm="placebo", endpoint="distant")  # independent patients: a CI around 1
    assert float(g["hr_low"]) <= 1.0 <= float(g["hr_high"])


def test_published_effects_are_carried(paired):
    assert paired["published_hr"].values.tolist() == [0.77]
    assert paired["published_arm"].values.tolist() == ["chemotherapy"]


BAD = [
    (
        'description = "no adjuvant therapy"',
        'description = "x"\ncolour = "red"',
        "arm.control.colour",
    ),
    ('control = "control"', 'control = "nobody"', "trial.control = 'nobody'"),
    ('name = "small"', 'name = "small"\nsize = 3', "trial.size"),
    (
        '"interventions.chemotherapy.duration_days" = 168.0\n\n[arm.kill',
        '"interventions.chemotherapy.duration_days" = -5.0\n\n[arm.kill',
        "duration_days",
    ),
    (  # a window given both an end and a duration
        '"interventions.chemotherapy.duration_days" = 168.0\n\n[arm.kill',
        '"interventions.chemotherapy.duration_days" = 168.0\n'
        '"interventions.chemotherapy.end_day" = 100.0\n\n[arm.kill',
        "end_day",
    ),
    (  # a window that ends before it starts
        "[[published]]",
        '[arm.late]\ndescription = "x"\n[arm.late.parameters]\n'
        '"interventions.chemotherapy.start_day" = 100.0\n'
        '"interventions.chemotherapy.end_day" = 50.0\n[[published]]',
        "interventions.chemotherapy.end_day",
    ),
    ("hazard_ratio = 0.77", "hazard_ratio = 0.5", "published[0].low = 0.72"),
    ('arm = "chemotherapy"', 'arm = "surgery"', "published[0].arm = 'surgery'"),
    ('cohort = "cohort.toml"', 'cohort = "nope.toml"', "trial.cohort = 'nope.toml'"),
    ('control = "control"', 'control = "control"\ndesign = "x"', "trial.design = 'x'"),
    ("[[published]]", "[arm.lone]\n[[published]]", "arm.lone.description"),
]


@pytest.mark.parametrize(("old", "new", "message"), BAD)
def test_bad_trial_files_are_refused_by_name(tmp_path, old, new, message):
    assert old in TRIAL, old
    (tmp_path / "cohort.toml").write_text(COHORT)
    (tmp_path / "trial.toml").write_text(TRIAL.replace(old, new, 1))
    with pytest.raises(FieldsInputError, match=re.escape(message)):
        load_trial(tmp_path / "trial.toml")


def fields_trial(*args: object) -> subprocess.CompletedProcess:
    """``fields trial ARGS`` in a fresh interpreter."""
    command = [sys.executable, "-m", "fields.cli", "trial", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True)


def test_the_cli_refuses_a_bad_file_with_exit_2_and_writes_nothing(tmp_path):
    (tmp_path / "cohort.toml").write_text(COHORT)
    (tmp_path / "trial.toml").write_text(TRIAL.replace('control = "control"', 'control = "x"'))
    run = fields_trial(tmp_path / "trial.toml", "--out", tmp_path / "t.zarr")
    assert run.returncode == 2, run.stderr
    assert "trial.control = 'x'" in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort.toml", "trial.toml"]


def test_the_cli_writes_the_store_report_and_figure(folder, tmp_path):
    out = tmp_path / "t.zarr"
    run = fields_trial(folder / "trial.toml", "--out", out, "--patients", 4, "--workers", 0)
    assert run.returncode == 0, run.stderr
    assert out.is_dir() and out.with_suffix(".png").is_file() and out.with_suffix(".md").is_file()
    assert not (tmp_path / "t.zarr.arms").exists()  # the arms' stores go once the trial is written
    from fields.experiments.population.trial import open_trial

    ds = open_trial(out)
    assert ds.sizes["patient"] == 4 and str(ds["arm"].values[0]) == "control"
    again = fields_trial(folder / "trial.toml", "--out", out)
    assert again.returncode == 2 and "exists" in again.stderr


def test_the_summary_pairs_its_bootstrap_over_arms(paired):
    from fields.experiments.population.trial_report import report, summary

    s = summary(paired, resamples=50)
    control, placebo = s.sel(arm="control"), s.sel(arm="placebo")
    np.testing.assert_array_equal(control["value"].values, placebo["value"].values)
    np.testing.assert_array_equal(control["low"].values, placebo["low"].values)
    kill = s.sel(
        arm="kill_all", quantity=[q for q in s["quantity"].values if "relapse within" in q]
    )
    assert np.all(np.nan_to_num(kill["value"].values) == 0.0)
    shares = s.sel(arm="control", quantity=[q for q in s["quantity"].values if "first" in q])
    assert float(shares["value"].sum()) == pytest.approx(100.0)
    text = report(paired)
    assert "| chemotherapy | distant | 0.77 (0.72 - 0.83) |" in text


def test_a_sampled_efficacy_varies_by_patient_and_keeps_the_pairing(folder, tmp_path):
    """Per-patient efficacy drawn after the cohort's own numbers: every patient keeps its
    shedding in both arms, and the arm's patients differ in their efficacy."""
    from fields.experiments.population.cohort import cohort

    (tmp_path / "cohort.toml").write_text(COHORT)
    sampled = TRIAL.replace(
        "[[published]]",
        '[arm.chemotherapy.sample."interventions.chemotherapy.efficacy"]\n'
        'distribution = "uniform"\nlow = 0.0\nhigh = 1.0\nsource = "test design"\n\n'
        "[[published]]",
    )
    (tmp_path / "trial.toml").write_text(sampled)
    spec = load_trial(tmp_path / "trial.toml")
    arm = spec.arms[spec.names.index("chemotherapy")]
    assert list(arm.samples) == ["interventions.chemotherapy.efficacy"]
    treated = cohort(spec.arm_cohort(arm, 6), workers=0, progress=False)
    control = cohort(spec.arm_cohort(spec.arms[0], 6), workers=0, progress=False)
    key = "dissemination.shed_cells_per_g_per_day"
    np.testing.assert_array_equal(treated[key].values, control[key].values)
    efficacy = treated["interventions.chemotherapy.efficacy"].values
    assert efficacy.min() >= 0.0 and efficacy.max() <= 1.0 and np.unique(efficacy).size == 6


@pytest.mark.slow  # a cluster's start; the cohorts' own worker test runs in make test
def test_a_trial_does_not_depend_on_the_workers(folder):
    one = trial(folder / "trial.toml", workers=0, patients=8, progress=False)
    two = trial(folder / "trial.toml", workers=2, patients=8, progress=False)
    for name in ("time_to_metastasis_days", "metastasis_observed", "first_site"):
        np.testing.assert_array_equal(one[name].values, two[name].values)
