"""One version everywhere: pyproject.toml, fields.__version__, CITATION.cff, the changelog's
newest entry (the docs take fields.__version__), and a distribution name that is not the
unrelated ``fields`` package of the package index."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import fields

ROOT = Path(__file__).resolve().parents[1]


def test_the_version_agrees_everywhere():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["version"] == fields.__version__
    citation = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    assert re.search(r"^version: (\S+)$", citation, re.M).group(1) == fields.__version__
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    newest = re.search(r"^## (\d+\.\d+\.\d+) \((\d{4}-\d{2}-\d{2})\)$", changelog, re.M)
    assert newest is not None and newest.group(1) == fields.__version__
    released = re.search(r"^date-released: (\S+)$", citation, re.M).group(1)
    assert released == newest.group(2)


def test_the_distribution_name_is_not_the_unrelated_fields_package():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["name"] == "fields-niche"
