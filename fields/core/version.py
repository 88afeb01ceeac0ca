"""The package version, stored in every output and every store's fingerprint. The same number
is the version in ``pyproject.toml``, ``CITATION.cff``, the docs and the changelog's newest
entry (tests/test_version.py)."""

__version__ = "0.3.0"
