"""Exceptions: bad user input (CLI exit code 2) and numerical failure (CLI exit code 3)."""

from __future__ import annotations


class FieldsInputError(ValueError):
    """Bad user input: an unknown key, an invalid value, an unknown site, a malformed file."""


class ParameterError(FieldsInputError):
    """A parameter key or value that is not allowed."""

    def __init__(self, key: str, value: object, allowed: str, *, unknown: bool = False) -> None:
        self.key = key
        self.value = value
        self.allowed = allowed
        if unknown:
            text = f"unknown parameter key '{key}' (given {value!r}): allowed is {allowed}"
        else:
            text = f"parameter '{key}' = {value!r} is not allowed: {allowed}"
        super().__init__(text)


class NumericalError(RuntimeError):
    """A run produced NaN, Inf or a value out of its bounds (the CLI maps this to exit code 3)."""
