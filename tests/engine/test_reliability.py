"""Reliability (issue 7): checkpoint and resume, atomic files, numerical guards, determinism."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import fields
from fields.cli import main

RUN = ["--site", "lung", "--site", "bone_marrow", "--geometry", "2d", "--output-every", "100"]
SMALL_2D = ["--set", "geometry.domain_um=400"]


def _without_created(tree: xr.DataTree) -> xr.DataTree:
    tree = tree.copy()
    tree.attrs.pop("created", None)
    return tree


def _assert_same_file(a: Path, b: Path) -> None:
    with xr.open_datatree(a) as ta, xr.open_datatree(b) as tb:
        xr.testing.assert_identical(_without_created(ta.load()), _without_created(tb.load()))


def test_resume_after_interruption_equals_uninterrupted_run(tmp_path, monkeypatch):
    """In process: interrupt at day ~700 (after checkpoints), resume, compare bit for bit."""
    p = fields.Parameters().with_updates({"geometry.domain_um": 300.0})
    kwargs = {"sites": ["lung", "liver"], "days": 1500, "geometry": "2d", "output_every_days": 100}
    reference = fields.simulate(p, **kwargs)
    ck = tmp_path / "run.ckpt"

    import fields.engine.loop as _  # noqa: F401  (the module, for the patch below)

    module = sys.modules["fields.engine.loop"]
    real = module.check_site_rows

    def interrupt(name, site, t_new, *args, **kw):
        if float(t_new.min()) > 700:
            raise KeyboardInterrupt
        return real(name, site, t_new, *args, **kw)

    monkeypatch.setattr(module, "check_site_rows", interrupt)
    with pytest.raises(KeyboardInterrupt):
        fields.simulate(p, checkpoint=ck, checkpoint_every_days=250, **kwargs)
    monkeypatch.setattr(module, "check_site_rows", real)
    assert ck.is_file()
    resumed = fields.simulate(p, checkpoint=ck, checkpoint_every_days=250, resume=True, **kwargs)
    xr.testing.assert_identical(_without_created(resumed), _without_created(reference))


def test_sigkill_during_run_then_resume_gives_identical_output(tmp_path):
    """Acceptance 1: SIGKILL `fields run` during a long run; `--resume` equals an uninterrupted run."""
    out_ref, out = tmp_path / "ref.nc", tmp_path / "resumed.nc"
    ck = tmp_path / "run.ckpt"
    args = [*RUN, *SMALL_2D, "--days", "7300"]
    cmd = [sys.executable, "-m", "fields.cli", "run", *args]
    proc = subprocess.Popen(
        [*cmd, "--checkpoint", str(ck), "--checkpoint-every", "500", "--out", str(out)],
        process_group=0,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not ck.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert ck.exists(), "no checkpoint before the kill"
    assert not out.exists(), "the run finished before it could be killed"
    resumed = subprocess.run(
        [*cmd, "--checkpoint", str(ck), "--checkpoint-every", "500", "--resume", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    reference = subprocess.run([*cmd, "--out", str(out_ref)], capture_output=True, timeout=300)
    assert reference.returncode == 0
    _assert_same_file(out, out_ref)


def test_resume_refuses_a_checkpoint_of_another_run(tmp_path, capsys):
    ck = tmp_path / "a.ckpt"
    base = ["run", "--site", "lung", "--geometry", "krogh", "--days", "400"]
    assert main([*base, "--checkpoint", str(ck), "--out", str(tmp_path / "a.nc")]) == 0
    code = main(
        [
            *base,
            "--set",
            "primary.tvdt_days=90",
            "--checkpoint",
            str(ck),
            "--resume",
            "--out",
            str(tmp_path / "b.nc"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "belongs to another run (differs in parameters" in err
    assert not (tmp_path / "b.nc").exists()
    ck.write_bytes(b"PK\x03\x04 truncated")
    code = main([*base, "--checkpoint", str(ck), "--resume", "--out", str(tmp_path / "c.nc")])
    assert code == 2 and "not a readable fields checkpoint" in capsys.readouterr().err


WRITER = """
import sys, time
import numpy as np, xarray as xr
from fields.io import write_netcdf
path = sys.argv[1]
big = np.random.default_rng(0).random((40, 200, 200))
version = 0
while True:
    version += 1
    tree = xr.DataTree(xr.Dataset({"big": (("t", "y", "x"), big + version)}, attrs={"version": version}))
    write_netcdf(tree, path)
    print(version, flush=True)
"""


def test_killed_writes_never_leave_a_truncated_file(tmp_path):
    """Acceptance 2: kill a writer at random moments; the final name always opens completely."""
    path = tmp_path / "result.nc"
    rng = np.random.default_rng(1)
    for _ in range(6):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            process_group=0,
        )
        proc.stdout.readline()  # one complete file exists; now kill during a later write
        time.sleep(float(rng.uniform(0.0, 0.4)))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        with xr.open_datatree(path) as tree:
            version = int(tree.attrs["version"])
            big = tree["big"].values
        assert big.shape == (40, 200, 200)
        expected = np.random.default_rng(0).random((40, 200, 200)) + version
        np.testing.assert_array_equal(big, expected)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "result.nc"]
    assert all(name.startswith(".result.nc.") for name in leftovers)  # temps only, never the name


def test_nan_stops_the_run_naming_site_variable_time_and_cause(monkeypatch):
    import fields.model.dtc as dtc

    real = dtc.rates

    def poisoned(*args, **kwargs):
        r = real(*args, **kwargs)
        r.founding[0] = np.nan
        return r

    monkeypatch.setattr(dtc, "rates", poisoned)
    with pytest.raises(fields.NumericalError) as err:
        fields.simulate(fields.Parameters(), sites=["liver"], days=200, geometry="krogh")
    text = str(err.value)
    assert "site liver" in text and "dtc_" in text and "at day" in text
    assert "likely cause" in text


def test_overflow_at_the_cli_is_one_message_exit_3_and_no_file(tmp_path):
    out = tmp_path / "r.nc"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fields.cli",
            "run",
            "--site",
            "lung",
            "--geometry",
            "krogh",
            "--days",
            "365",
            "--set",  # the fate rates' eigenvalues cancel to junk and e^{lambda t} overflows
            "dtc.reactivation_max_per_day=1e20",
            "--set",
            "dtc.dormancy_induction_max_per_day=1e20",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 3
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "dtc.reactivation_max_per_day" in lines[0]
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_same_inputs_give_bit_identical_files_with_seed_and_version(tmp_path):
    outs = [tmp_path / "a.nc", tmp_path / "b.nc"]
    for out in outs:
        assert (
            main(["run", *RUN, *SMALL_2D, "--days", "200", "--seed", "7", "--out", str(out)]) == 0
        )
    _assert_same_file(*outs)
    with xr.open_datatree(outs[0]) as tree:
        assert tree.attrs["seed"] == 7
        assert tree.attrs["fields_version"] == fields.__version__


def test_checkpoint_arguments_are_validated(tmp_path):
    with pytest.raises(fields.FieldsInputError, match="checkpoint_every_days = -1"):
        fields.simulate(
            sites=["lung"],
            geometry="krogh",
            days=10,
            checkpoint=tmp_path / "c",
            checkpoint_every_days=-1,
        )
    with pytest.raises(fields.FieldsInputError, match="give a checkpoint file"):
        fields.simulate(sites=["lung"], geometry="krogh", days=10, resume=True)
    with pytest.raises(fields.FieldsInputError, match="does not exist"):
        fields.simulate(sites=["lung"], geometry="krogh", days=10, checkpoint="/no/such/dir/c")


def test_memory_of_a_long_run_without_fields_does_not_grow_with_steps():
    """Python-level peak memory (tracemalloc, numpy included) of a 20-year run without fields is
    within 10 % of a 2-year run; whole-process figures are in benchmarks/README.md."""
    import gc
    import tracemalloc

    p = fields.Parameters()
    peaks = []
    # no garbage collection while traced: when a collection ran decided how much of a run's
    # setup garbage (reference cycles) counted in its peak, which made the test flaky in the
    # suite; without it, garbage made per step would pile up and fail the test
    gc.disable()
    try:
        for days in (730, 7300):
            gc.collect()
            tracemalloc.start()
            fields.simulate(
                p,
                sites=["lung"],
                days=days,
                geometry="krogh",
                store_fields=False,
                output_every_days=365,
            )
            peaks.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()
    finally:
        gc.enable()
    assert peaks[1] <= 1.10 * peaks[0], peaks
