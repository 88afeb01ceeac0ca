"""Quasi-steady factors as sums of kept linear responses, against full solves (2d, 3d)."""

from __future__ import annotations

import numpy as np
import pytest

import fields
from fields.engine import loop as engine
from fields.parameters import Parameters

#: the documented tolerance: the same linear systems, so round-off (LU) or the multigrid
#: tolerance (1e-12 relative residual per solve, 3d)
TOLERANCE = {"2d": 1e-10, "3d": 1e-9}
SMALL = {"geometry.domain_um": 300.0, "geometry.domain_3d_um": 120.0}
ANTI_VEGF = {  # vessels regress: the factors' sinks change at each window edge
    "interventions.anti_vegf.start_day": 200.0,
    "interventions.anti_vegf.end_day": 500.0,
    "interventions.vessel_normalisation.start_day": 250.0,
    "interventions.vessel_normalisation.end_day": 450.0,
}


def _trees(geometry: str, updates: dict, days: float):
    out = []
    for responses in (True, False):
        p = Parameters().with_updates({**SMALL, **updates, "transport.linear_responses": responses})
        out.append(
            fields.simulate(
                p,
                sites=["lung", "bone_marrow"],
                days=days,
                geometry=geometry,
                output_every_days=30.0,
            )
        )
    return out


@pytest.mark.parametrize(
    ("geometry", "updates", "days"),
    [("2d", {}, 1095.0), ("2d", ANTI_VEGF, 730.0), ("3d", ANTI_VEGF, 540.0)],
    ids=["2d-default", "2d-anti-vegf", "3d-anti-vegf"],
)
def test_responses_equal_full_solves(geometry, updates, days):
    kept, full = _trees(geometry, updates, days)
    worst = 0.0
    for node in full.subtree:
        for name, var in node.dataset.data_vars.items():
            a, b = var.values, kept[node.path].dataset[name].values
            if a.dtype.kind != "f" or not np.isfinite(a).any():
                continue
            scale = float(np.nanmax(np.abs(a)))
            if scale > 0.0:
                worst = max(worst, float(np.nanmax(np.abs(a - b))) / scale)
    print(f"\n{geometry} {sorted(updates) or 'default'}: largest difference {worst:.1e}")
    assert worst <= TOLERANCE[geometry]


def test_an_unchanged_field_costs_no_solve(monkeypatch):
    """Primary-derived LOX has plasma and uniform sources only: two responses per operator."""
    made = {}
    real = engine.Site

    def keep(name, *args):
        made[name] = real(name, *args)
        return made[name]

    monkeypatch.setattr(engine, "Site", keep)
    p = Parameters().with_updates({**SMALL, **ANTI_VEGF})
    record = engine.run(p, sites=["lung"], days=730.0, geometry="2d")
    ops = {key: op.operators[0] for key, op in made["lung"].ops.items()}  # the one run's solvers
    steps = int(record.steps[0])
    assert ops["slox"].response_solves <= 2 * 3  # three sinks: before, during, after therapy
    assert ops["vegf"].response_solves < 1.2 * steps  # the niche response, about once a step


def _operator():
    from fields.numerics.geometry import make_patch
    from fields.numerics.operator import DiffusionReactionOperator

    p = Parameters().with_updates({"geometry.domain_um": 200.0})
    patch = make_patch("2d", p.sites["lung"], p.geometry, seed=0)
    return DiffusionReactionOperator(patch.mesh, 100.0), patch.n_cells


def test_kept_hashes_follow_the_values_not_the_array():
    """A read-only field's hash is kept; a field changed in place, directly or through the
    array a read-only view looks at, is solved again, and each answer is the full solve."""
    op, n = _operator()
    sink = np.full(n, 1e-3)
    sink.flags.writeable = False
    rng = np.random.default_rng(1)

    def check(field) -> None:
        got = op.superpose(sink, [(1.0, "niche", field)])
        want = op.solve(sink, np.array(field))
        assert np.allclose(got, want, rtol=1e-12, atol=0.0)

    frozen = rng.uniform(0.0, 1.0, n)
    frozen.flags.writeable = False
    check(frozen)
    solves = op.response_solves
    check(frozen)  # the same read-only values: no new solve, no new hash
    assert op.response_solves == solves
    assert any(kept[0] is frozen for kept in op._known.values())

    loose = rng.uniform(0.0, 1.0, n)
    check(loose)
    loose *= 2.0  # changed in place: a new solve
    check(loose)
    assert op.response_solves == solves + 2

    view = loose[:]  # a read-only view of a writable array is not frozen
    view.flags.writeable = False
    check(view)  # the values just solved: kept
    assert op.response_solves == solves + 2
    loose += 1.0
    check(view)
    assert op.response_solves == solves + 3
