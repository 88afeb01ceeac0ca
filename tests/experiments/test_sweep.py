"""Sweeps: Dask LocalCluster equality, kill and resume, failure isolation, Sobol, seed claims."""

from __future__ import annotations

import dataclasses
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import xarray as xr

import fields
from fields.experiments import (
    STATUS_DONE,
    STATUS_FAILED,
    load_study,
    open_sweep,
    study_from_dict,
    sweep,
)

STUDIES = Path(__file__).resolve().parents[2] / "studies"

SMALL = {
    "study": {
        "name": "small",
        "sites": ["lung", "liver"],
        "geometry": "krogh",
        "days": 365.0,
        "output_every_days": 73.0,
        "outputs": ["time_to_outgrowth_days", "dtc_proliferating_total", "tumour_cells"],
    },
    "parameters": {"primary": {"initial_cells": 1e10}},
    "vary": {"primary.tvdt_days": {"values": [60.0, 90.0, 120.0, 150.0]}},
}


def _no_provenance(ds: xr.Dataset) -> xr.Dataset:
    return ds.drop_attrs()


def test_sweep_dataset_shape_coords_and_units():
    ds = sweep(study_from_dict(SMALL), workers=0, progress=False)
    assert dict(ds.sizes) == {"run": 4, "site": 2, "time": 6}
    assert list(ds["primary.tvdt_days"].values) == [60.0, 90.0, 120.0, 150.0]
    assert ds["primary.tvdt_days"].attrs["units"] == "day"
    assert ds["dtc_proliferating_total"].dims == ("run", "site", "time")
    assert ds["time_to_outgrowth_days"].dims == ("run", "site")
    for name in ds.data_vars:
        assert "long_name" in ds[name].attrs, name
    assert (ds["status"] == STATUS_DONE).all()
    # each run equals the same simulate() call (Krogh sweeps run as batches: to round-off)
    p = fields.Parameters().with_updates({"primary.initial_cells": 1e10, "primary.tvdt_days": 90.0})
    tree = fields.simulate(
        p, sites=["lung", "liver"], days=365, geometry="krogh", output_every_days=73
    )
    np.testing.assert_allclose(
        ds["dtc_proliferating_total"].sel(run=1, site="liver").values,
        tree["liver"]["dtc_proliferating_total"].values,
        rtol=1e-8,
    )


def test_two_worker_local_cluster_equals_one_worker_bit_for_bit(tmp_path):
    """Acceptance 1: a real dask.distributed.LocalCluster with 2 worker processes."""
    from dask.distributed import Client, LocalCluster

    study = study_from_dict(SMALL)
    results = {}
    for n in (1, 2):
        with (
            LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            assert len(client.scheduler_info()["workers"]) == n
            results[n] = sweep(study, store=tmp_path / f"w{n}.zarr", client=client, progress=False)
    xr.testing.assert_identical(_no_provenance(results[1]), _no_provenance(results[2]))
    reread = open_sweep(tmp_path / "w2.zarr")
    xr.testing.assert_identical(_no_provenance(reread), _no_provenance(results[2]))


def test_existing_cluster_by_scheduler_address(tmp_path):
    """`--scheduler ADDRESS` / client="tcp://...": an existing cluster, not a new one."""
    from dask.distributed import LocalCluster

    study = study_from_dict(SMALL)
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        by_address = sweep(study, client=cluster.scheduler_address, progress=False)
    in_process = sweep(study, workers=0, progress=False)
    xr.testing.assert_identical(_no_provenance(by_address), _no_provenance(in_process))


def test_unreachable_scheduler_is_an_input_error(tmp_path, capsys, monkeypatch):
    import importlib

    from fields.cli import main

    sweep_module = importlib.import_module(
        "fields.experiments.sweep"
    )  # the module, not fields.sweep
    monkeypatch.setattr(sweep_module, "CONNECT_TIMEOUT_S", 1.0)  # the answer does not change

    path = tmp_path / "s.toml"
    path.write_text('[study]\nname="s"\nsites=["lung"]\ngeometry="krogh"\ndays=30\n')
    code = main(
        ["sweep", str(path), "--out", str(tmp_path / "s.zarr"), "--scheduler", "tcp://127.0.0.1:9"]
    )
    assert code == 2
    assert "--scheduler = 'tcp://127.0.0.1:9' is not allowed" in capsys.readouterr().err
    assert not (tmp_path / "s.zarr").exists()  # nothing written before the cluster answered


def _write_study(tmp_path: Path, n_runs: int, days: float) -> Path:
    values = ", ".join(f"{60.0 + 10.0 * i:.1f}" for i in range(n_runs))
    text = f"""
[study]
name = "resume"
sites = ["lung"]
geometry = "krogh"
days = {days}
output_every_days = 365
outputs = ["time_to_outgrowth_days", "dtc_proliferating_total"]

[vary."primary.tvdt_days"]
values = [{values}]
"""
    path = tmp_path / "resume.toml"
    path.write_text(text)
    return path


def test_killed_sweep_resumes_with_every_run_exactly_once(tmp_path):
    """Acceptance 2: SIGKILL the whole `fields sweep` process group partway, then re-run."""
    study_path = _write_study(tmp_path, n_runs=12, days=3650.0)
    store = tmp_path / "resume.zarr"
    cmd = [sys.executable, "-m", "fields.cli", "sweep", str(study_path), "--out", str(store)]
    proc = subprocess.Popen(
        [*cmd, "--workers", "1"],
        process_group=0,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    done = 0
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
        if store.exists():
            try:
                import zarr

                done = int((zarr.open_group(str(store), mode="r")["status"][:] == 1).sum())
            except Exception:
                continue
            if done >= 2:
                break
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 2 <= done < 12, f"the sweep was not caught partway ({done} runs done)"
    partial = open_sweep(store)
    before = int((partial["status"] == STATUS_DONE).sum())
    assert before < 12

    rerun = subprocess.run([*cmd, "--workers", "1"], capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"({12 - before} run now" in rerun.stdout  # only the missing runs ran
    final = open_sweep(store)
    assert list(final["run"].values) == list(range(12))  # every run exactly once
    assert (final["status"] == STATUS_DONE).all()
    reference = sweep(load_study(study_path), workers=0, progress=False)
    for name in ("time_to_outgrowth_days", "dtc_proliferating_total"):
        np.testing.assert_array_equal(final[name].values, reference[name].values)


def test_failed_run_is_recorded_and_the_sweep_goes_on(tmp_path, monkeypatch, capsys):
    import fields.experiments.outputs as outputs
    from fields.cli import main

    real = outputs.run_outputs

    def flaky(study, params, tree):  # the outputs of every run, batched or not, pass here
        if params.primary.tvdt_days == 90.0:
            raise FloatingPointError("boom at tvdt 90")
        return real(study, params, tree)

    monkeypatch.setattr(outputs, "run_outputs", flaky)
    study_path = tmp_path / "small.toml"
    study_path.write_text(
        """
[study]
name = "flaky"
sites = ["lung"]
geometry = "krogh"
days = 60
outputs = ["dtc_proliferating_total"]
[vary."primary.tvdt_days"]
values = [60.0, 90.0, 120.0]
"""
    )
    store = tmp_path / "flaky.zarr"
    code = main(["sweep", str(study_path), "--out", str(store), "--workers", "0"])
    assert code == 1
    err = capsys.readouterr().err
    assert "1 runs failed" in err and "run 1: FloatingPointError: boom at tvdt 90" in err
    ds = open_sweep(store)
    assert list(ds["status"].values) == [STATUS_DONE, STATUS_FAILED, STATUS_DONE]
    assert np.isnan(ds["dtc_proliferating_total"].sel(run=1)).all()
    assert np.isfinite(ds["dtc_proliferating_total"].sel(run=2)).all()
    monkeypatch.setattr(outputs, "run_outputs", real)  # resume retries the failed run only
    assert main(["sweep", str(study_path), "--out", str(store), "--workers", "0"]) == 0
    assert "(1 run now" in capsys.readouterr().out


def test_store_of_another_study_is_refused(tmp_path, capsys):
    from fields.cli import main

    a = tmp_path / "a.toml"
    a.write_text(
        '[study]\nname="a"\nsites=["lung"]\ngeometry="krogh"\ndays=30\n'
        'outputs=["tumour_cells"]\n[vary."primary.tvdt_days"]\nvalues=[60.0]\n'
    )
    b = tmp_path / "b.toml"
    b.write_text(a.read_text().replace("60.0", "70.0"))
    store = tmp_path / "s.zarr"
    assert main(["sweep", str(a), "--out", str(store), "--workers", "0"]) == 0
    assert main(["sweep", str(b), "--out", str(store), "--workers", "0"]) == 2
    err = capsys.readouterr().err
    assert "holds another study" in err and "Traceback" not in err


def test_sobol_study_stores_indices_and_plots(tmp_path, capsys):
    from fields.cli import main

    path = tmp_path / "sobol.toml"
    path.write_text(
        """
[study]
name = "sob"
sites = ["lung"]
geometry = "krogh"
days = 365
output_every_days = 365
sampling = "sobol"
samples = 4
outputs = ["dtc_proliferating_total", "time_to_outgrowth_days"]
[parameters]
primary.initial_cells = 1e10
[vary."dissemination.shed_cells_per_g_per_day"]
distribution = "loguniform"
low = 1e2
high = 1e4
[vary."dtc.proliferating_death_per_day"]
distribution = "uniform"
low = 0.001
high = 0.01
[sensitivity]
outputs = ["dtc_proliferating_total"]
"""
    )
    store = tmp_path / "sob.zarr"
    assert main(["sweep", str(path), "--out", str(store), "--workers", "0"]) == 0
    ds = open_sweep(store)
    assert ds.sizes["run"] == 4 * (2 + 2)
    assert ds["sobol_S1"].dims == ("sobol_output", "parameter")
    assert list(ds["sobol_output"].values) == ["lung/log10_dtc_proliferating_total"]
    for name in ("sobol_S1", "sobol_S1_conf", "sobol_ST", "sobol_ST_conf"):
        assert np.isfinite(ds[name]).all()
        assert ds[name].attrs["units"] == "1"
    assert ds.attrs["study"] == "sob"
    assert (tmp_path / "sob_sobol.png").stat().st_size > 10_000


def _reduced(path: Path, **changes):
    return dataclasses.replace(load_study(path), **changes)


def test_lead_time_claim_direction_on_a_reduced_study():
    """Acceptance 3: time from resection to the first distant outgrowth is shorter after a T3
    (> 5 cm) than after a T1 (< 2 cm) resection (Klein 2009). The marrow: with the soil deciding,
    the commonest site, and the one a patient of median shedding grows a metastasis in."""
    study = study_from_dict(
        {
            "study": {
                "name": "lead_time_one_patient",
                "sites": ["bone_marrow"],
                "geometry": "krogh",
                "days": 9125.0,
                "output_every_days": 365.0,
                "outputs": ["time_resection_to_outgrowth_days"],
            },
            "vary": {"primary.resection_diameter_mm": {"values": [15.0, 60.0]}},
        }
    )
    ds = sweep(study, workers=0, progress=False)
    lead = ds["time_resection_to_outgrowth_days"].values
    t1 = lead[0] if math.isfinite(lead[0]) else math.inf
    assert math.isfinite(lead[1]) and lead[1] < t1


def test_primary_growth_claim_on_a_reduced_study():
    """Acceptance 3: TVDT 157 d, one cell -> 1e9 cells at 12.9 +/- 0.3 years."""
    from fields.experiments.varied import Varied

    study = _reduced(STUDIES / "primary_growth.toml", output_every_days=365.0)
    study = dataclasses.replace(study, varied=(Varied("primary.tvdt_days", values=(157.0,)),))
    ds = sweep(study, workers=0, progress=False)
    years = float(ds["time_to_1e9_cells_days"].values[0]) / 365.25
    assert abs(years - 12.9) <= 0.3


def test_a_2d_sweep_runs_as_batches_and_equals_its_runs_alone():
    """Grid studies run as batches too: every output, those read from the last stored fields
    included, equals what the runs give one by one (run_one)."""
    from fields.experiments.outputs import run_chunk, run_one

    spec = {
        "study": {
            **SMALL["study"],
            "geometry": "2d",
            "outputs": ["hypoxic_distance_um", "dtc_proliferating_total", "tumour_cells"],
        },
        "parameters": {"primary": {"initial_cells": 1e10}, "geometry": {"domain_um": 200.0}},
        "vary": {"sites.lung.capillary_spacing_um": {"values": [150.0, 200.0, 250.0]}},
    }
    study = study_from_dict(spec)
    design = study.design()
    together = run_chunk(study, [0, 1, 2], design)
    for i, got in enumerate(together):
        alone = run_one(study, i, design[i])
        assert got["ok"] and alone["ok"], (got, alone)
        assert got["values"].keys() == alone["values"].keys()
        for key, value in alone["values"].items():
            np.testing.assert_allclose(got["values"][key], value, rtol=1e-8, err_msg=key)
    ds = sweep(study, workers=0, progress=False)
    assert (ds["status"] == STATUS_DONE).all()
    assert np.isfinite(ds["hypoxic_distance_um"].sel(site="lung").values).all()
