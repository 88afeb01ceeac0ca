"""A batch checkpoints and resumes bit for bit; checkpoints of another batch or of an earlier
format are refused with one clear message (fields.engine.checkpoint)."""

from __future__ import annotations

import numpy as np
import pytest

from fields.core.errors import FieldsInputError
from fields.engine.loop import run
from fields.parameters import Parameters
from fields.parameters.batch import ParameterBatch
from tests.engine.checks import interrupt_after

SITES = ["lung", "liver", "kidney"]


def _batch() -> ParameterBatch:
    """Six runs that leave the batch at different times: own horizons, one early death."""
    base = Parameters().with_updates(
        {"interventions.anti_vegf.start_day": 300.0, "interventions.anti_vegf.end_day": 900.0}
    )
    return ParameterBatch(
        base,
        {
            "primary.tvdt_days": [60.0, 90.0, 120.0, 150.0, 80.0, 100.0],
            "lesions.tvdt_days": [46.0, 30.0, 80.0, 46.0, 10.0, 60.0],
            "dtc.founding_per_day": [2e-9, 1e-7, 1e-8, 5e-9, 1e-5, 2e-9],
            "interventions.anti_vegf.start_day": [300.0, 400.0, 200.0, 500.0, 300.0, 600.0],
        },
    )


KWARGS = {
    "sites": SITES,
    "days": [1440.0, 1800.0, 1080.0, 1800.0, 1800.0, 1440.0],
    "geometry": "krogh",
    "output_every_days": 60.0,
    "stop_at_death": True,
}


def _arrays(rec) -> dict[str, np.ndarray]:
    out = {
        "death_day": rec.death_day,
        "steps": rec.steps,
        "max_error": rec.max_error,
        **{f"outgrowth/{k}": v for k, v in rec.outgrowth.items()},
        **{f"systemic/{k}": v for k, v in rec.systemic.items()},
        **{f"density/{k}": v for k, v in rec.density.items()},
    }
    for site, series in rec.site_series.items():
        out.update({f"{site}/{k}": v for k, v in series.items()})
    return out


def test_interrupted_batch_resumes_bit_for_bit(tmp_path, monkeypatch):
    reference = run(_batch(), **KWARGS)
    ck = tmp_path / "batch.ckpt"
    interrupt_after(monkeypatch, 700.0)
    with pytest.raises(KeyboardInterrupt):
        run(_batch(), checkpoint=ck, checkpoint_every_days=180.0, **KWARGS)
    monkeypatch.undo()
    assert ck.is_file()
    resumed = run(_batch(), checkpoint=ck, checkpoint_every_days=180.0, resume=True, **KWARGS)
    assert np.isfinite(reference.death_day).sum() >= 1  # a run left the batch at its death
    a, b = _arrays(reference), _arrays(resumed)
    assert a.keys() == b.keys()
    for key in a:
        assert np.array_equal(a[key], b[key], equal_nan=True), key
    assert reference.errors == resumed.errors


def test_a_checkpoint_of_another_batch_is_refused(tmp_path):
    ck = tmp_path / "batch.ckpt"
    short = {**KWARGS, "days": 400.0}
    run(_batch(), checkpoint=ck, checkpoint_every_days=100.0, **short)
    other = ParameterBatch(Parameters(), {"primary.tvdt_days": [70.0, 80.0]})
    with pytest.raises(FieldsInputError, match=r"checkpoint = .* another batch .*varied"):
        run(other, checkpoint=ck, resume=True, **short)


def test_checkpoint_options_are_checked(tmp_path):
    with pytest.raises(FieldsInputError, match="checkpoint = None"):
        run(_batch(), resume=True, **KWARGS)
    with pytest.raises(FieldsInputError, match="does not exist"):
        run(_batch(), checkpoint=tmp_path / "no" / "x.ckpt", **KWARGS)


def test_a_checkpoint_of_the_per_run_engine_names_its_version(tmp_path):
    """A checkpoint in fields 0.2's per-run format is refused, naming the version that wrote it."""
    import json

    ck = tmp_path / "old.ckpt"
    header = {"format": "fields-checkpoint-5", "fields_version": "0.2.0", "run": "abc"}
    with open(ck, "wb") as handle:  # a file object: np.savez would add ".npz" to a name
        np.savez(handle, header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8))
    with pytest.raises(FieldsInputError, match=r"'fields-checkpoint-5' was written by fields 0\.2"):
        run(Parameters(), sites=["lung"], days=60.0, geometry="krogh", checkpoint=ck, resume=True)
