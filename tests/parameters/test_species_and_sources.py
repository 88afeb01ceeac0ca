"""Species and sites are data; every default cites the bibliography."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest

import fields
from fields.parameters.references import bibliography, cited_keys
from fields.parameters.spec import CONFIDENCE

ROOT = Path(__file__).resolve().parents[2]
PLGF = ROOT / "tests" / "data" / "plgf.toml"
SMALL = {"geometry.domain_um": 200.0, "geometry.domain_3d_um": 100.0, "geometry.krogh_cells": 20}


@pytest.mark.parametrize("geometry", ["2d", "krogh", "3d"])
def test_a_new_factor_by_data_alone_runs_in_every_geometry(geometry):
    p = fields.load_parameters(PLGF).with_updates(
        {**SMALL, "primary.initial_cells": 1e9}  # a 12 mm primary: PlGF above its baseline
    )
    assert p.species_names == (*fields.SPECIES_NAMES, "plgf")
    tree = fields.simulate(p, sites=["lung"], days=60, geometry=geometry, output_every_days=30)
    plasma = tree["plasma_plgf"]
    assert plasma.attrs == {"units": "pg/mL", "long_name": "plasma PlGF concentration"}
    baseline = p.species["plgf"].plasma_baseline_pg_per_ml
    assert float(plasma[-1]) > baseline  # the primary secretes it
    tissue = tree["lung"]["plgf"]
    assert tissue.attrs["units"] == "pg/mL" and "PlGF" in tissue.attrs["long_name"]
    assert np.isfinite(tissue.values).all() and tissue.values.min() >= 0.0
    assert tissue.values.max() > 0.0
    assert tree.attrs["species"] == ",".join(p.species_names)


def test_the_new_factor_changes_the_niche_it_declares_a_response_for():
    base = fields.Parameters().with_updates({"primary.initial_cells": 3e10})
    with_plgf = fields.load_parameters(PLGF).with_updates({"primary.initial_cells": 3e10})
    kwargs = {"sites": ["lung"], "days": 30, "geometry": "krogh", "output_every_days": 30}
    a = float(fields.simulate(base, **kwargs)["lung"]["niche"].isel(time=-1).mean())
    b = float(fields.simulate(with_plgf, **kwargs)["lung"]["niche"].isel(time=-1).mean())
    assert b > a


def test_a_new_species_needs_every_required_key():
    with pytest.raises(fields.ParameterError) as err:
        fields.Parameters().with_updates({"species.il6.long_name": "IL-6"})
    text = str(err.value)
    assert "species.il6.long_name" in text and "diffusivity_um2_per_s" in text


def test_no_species_name_is_written_into_the_code():
    """The solver, output contract, guards and plots loop over the declared species."""
    offenders = []
    for path in (ROOT / "fields").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                words = node.value.replace(",", " ").split()
                if any(w in ("vegf", "tgfb", "plasma_vegf", "plasma_tgfb") for w in words):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    assert not offenders


def test_sites_and_species_come_from_data_files():
    data = ROOT / "fields" / "parameters" / "data"
    assert sorted(p.stem for p in (data / "sites").glob("*.toml")) == sorted(fields.SITE_NAMES)
    assert sorted(p.stem for p in (data / "species").glob("*.toml")) == sorted(fields.SPECIES_NAMES)


def test_every_default_has_a_source_citing_known_references_and_a_confidence():
    refs = bibliography()
    for key, value, unit, source, confidence in fields.Parameters().sourced_leaves():
        assert unit and source and len(source) > 5, key
        assert confidence in CONFIDENCE, (key, confidence)
        assert source.strip() != "assumed", f"{key}: 'assumed' needs a one-line reason"
        assert ".txt" not in source and "shared" not in source, (key, source)
        for cited in cited_keys(source):
            assert cited in refs, f"{key} cites unknown [{cited}]"
        if confidence in ("checked", "recalled"):
            assert cited_keys(source), f"{key}: a {confidence} value cites a reference"
        if isinstance(value, float):
            assert math.isfinite(value)


def test_bibliography_entries_are_complete():
    for key, entry in bibliography().items():
        for field in ("authors", "year", "title", "journal"):
            assert entry.get(field), (key, field)
        # a DOI, or a PubMed id, or the reason there is none (papers older than DOIs)
        assert entry.get("doi") or entry.get("pmid") or entry.get("no_doi"), key


def test_a_sourced_value_keeps_its_source_and_a_plain_one_is_marked_user():
    p = fields.load_parameters(PLGF)
    leaves = {k: (s, c) for k, _v, _u, s, c in p.sourced_leaves()}
    assert "[cechova2021]" in leaves["species.plgf.plasma_baseline_pg_per_ml"][0]
    q = p.with_updates({"primary.tvdt_days": 80.0})
    _source, confidence = {k: (s, c) for k, _v, _u, s, c in q.sourced_leaves()}["primary.tvdt_days"]
    assert confidence == "user"
    same = p.with_updates({"primary.tvdt_days": 150.0})  # the default: keeps its citation
    assert (
        "[klein2009]" in {k: s for k, _v, _u, s, _c in same.sourced_leaves()}["primary.tvdt_days"]
    )
