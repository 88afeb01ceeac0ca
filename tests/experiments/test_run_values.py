"""A batched sweep's outputs come straight from the batch arrays: the same as from each DataTree."""

from __future__ import annotations

import numpy as np

from fields.engine.loop import run
from fields.experiments import study_from_dict
from fields.experiments.outputs import run_outputs
from fields.experiments.run_values import RunValues
from fields.experiments.study import NEEDS_FIELDS, RUN_SCALARS
from fields.io.tree import build_tree
from fields.parameters.batch import ParameterBatch


def test_outputs_from_the_batch_equal_outputs_from_each_tree():
    study = study_from_dict(
        {
            "study": {
                "name": "views",
                "sites": ["lung", "bone_marrow"],
                "geometry": "krogh",
                "days": 5400.0,
                "output_every_days": 30.0,
                "outputs": [
                    *RUN_SCALARS,
                    *NEEDS_FIELDS,
                    "time_to_outgrowth_days",
                    "diameter_at_first_niche_mm",
                    "p_metastatic",
                    "dtc_proliferating_total",
                ],
            },
            "parameters": {
                "dtc": {"founding_per_day": 1e-6},
                "primary": {"resection_diameter_mm": 20.0},
            },
            "vary": {"primary.tvdt_days": {"values": [60.0, 120.0, 200.0]}},
        }
    )
    params = [study.parameters_for({"primary.tvdt_days": v}) for v in (60.0, 120.0, 200.0)]
    record = run(
        ParameterBatch.from_sets(params),
        sites=list(study.sites),
        days=[5400.0, 3600.0, 5400.0],  # one run with a shorter horizon
        geometry="krogh",
        output_every_days=30.0,
        store_fields=True,
        keep="series",
    )
    resected = 0
    for j, p in enumerate(params):
        direct = run_outputs(study, p, RunValues.from_batch(record, j))
        via_tree = run_outputs(study, p, RunValues.from_tree(build_tree(record.run_record(j))))
        assert direct.keys() == via_tree.keys() == set(study.outputs)
        for name in direct:
            assert np.array_equal(direct[name], via_tree[name], equal_nan=True), (j, name)
        resected += int(np.isfinite(direct["resection_day"]))
    assert resected >= 2
