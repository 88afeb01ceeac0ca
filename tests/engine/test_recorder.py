"""Stored fields: frames written once into one array, which the output tree takes as a view."""

from __future__ import annotations

import numpy as np

import fields
from fields.engine.recorder import Frames, stacked


def test_frames_grow_past_their_capacity_and_keep_every_frame():
    frames = Frames(capacity=2)
    written = [np.full((3, 4), float(k)) for k in range(5)]
    for frame in written:
        frames.append(frame)
        frame[...] = -1.0  # the store holds a copy, not the caller's array
    assert frames.n == 5 and frames.array().shape == (5, 3, 4)
    np.testing.assert_array_equal(frames.array()[:, 0, 0], np.arange(5.0))
    assert [float(f[0, 0]) for f in frames.array()] == [0.0, 1.0, 2.0, 3.0, 4.0]
    np.testing.assert_array_equal(stacked(frames), stacked([f.copy() for f in frames.array()]))
    assert Frames(3).array().shape == (0,)


def test_a_run_stores_each_field_once():
    tree = fields.simulate(sites=["lung"], geometry="2d", days=60.0, output_every_days=30.0)
    niche = tree["lung"]["niche"]
    assert niche.dims == ("time", "y", "x") and niche.sizes["time"] == 3
    base = niche.values.base  # a view of the recorder's array, not a stacked copy of a list
    assert base is not None and base.shape[0] == 3
