"""What a run keeps: stored fields are written once, into the record's arrays, and the output
tree takes them as views."""

from __future__ import annotations

import fields


def test_a_run_stores_each_field_once():
    tree = fields.simulate(sites=["lung"], geometry="2d", days=60.0, output_every_days=30.0)
    niche = tree["lung"]["niche"]
    assert niche.dims == ("time", "y", "x") and niche.sizes["time"] == 3
    base = niche.values.base  # a view of the record's (runs, time, cells) array, not a copy
    assert base is not None and base.shape[1] == 3
