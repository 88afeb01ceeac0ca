"""The package version, stored in every output and every store's fingerprint."""

__version__ = "0.2.0"
