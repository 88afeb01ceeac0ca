"""The bibliography: every source a default cites, with its full reference.

Sources cite entries by key in square brackets (``[klein2009] Table 1``); the entries live in
``data/references.toml`` and the documentation's references page is generated from them.
"""

from __future__ import annotations

import re
import tomllib
from functools import cache

from fields.parameters.datafiles import DATA

CITATION = re.compile(r"\[([a-z][a-z0-9_]*)\]")
FIELDS = ("authors", "year", "title", "journal", "volume", "pages", "doi")


@cache
def bibliography() -> dict[str, dict[str, str]]:
    """Key -> entry (authors, year, title, journal, volume, issue, pages, doi)."""
    with open(DATA / "references.toml", "rb") as handle:
        return tomllib.load(handle)


def cited_keys(text: str) -> list[str]:
    """Bibliography keys cited in a source text, in order."""
    return CITATION.findall(text)


def full_reference(key: str) -> str:
    """One entry as a citation line: authors (year). title. journal volume(issue):pages. doi (or PMID)."""
    e = bibliography()[key]
    issue = f"({e['issue']})" if e.get("issue") else ""
    where = f"{e['journal']} {e.get('volume', '')}{issue}"
    pages = f":{e['pages']}" if e.get("pages") else ""
    doi = f" doi:{e['doi']}" if e.get("doi") else ""
    doi = doi or (f" PMID:{e['pmid']}" if e.get("pmid") else "")
    return f"{e['authors']} ({e['year']}). {e['title']}. {where.strip()}{pages}.{doi}"
