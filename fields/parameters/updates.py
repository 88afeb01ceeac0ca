"""Dotted-key updates of the plain parameter tree, with the provenance of every changed value."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from typing import Any

from fields.core.errors import FieldsInputError, ParameterError
from fields.parameters.collections import COLLECTIONS
from fields.parameters.datafiles import USER, Provenance, is_sourced, unpack


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested/dotted mapping -> {dotted key: leaf value}; sourced tables stay whole."""
    if not isinstance(values, Mapping):
        raise FieldsInputError(f"expected a table of parameters, got {values!r}")
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if not isinstance(key, str) or not key:
            raise ParameterError(f"{prefix}{key}", value, "a non-empty text key")
        full = f"{prefix}{key}"
        if isinstance(value, Mapping) and not is_sourced(value):
            flat.update(flatten(value, full + "."))
        else:
            flat[full] = value
    return flat


class _NewMember(dict):
    """A site or species declared by the updates themselves: any of its schema's keys may be set."""


def _open(parts: list[str], node: Any = None) -> bool:
    """May a new key be added below this path? (a new site or species, a new per-species rate)"""
    if isinstance(node, _NewMember):
        return True
    if len(parts) == 1:
        return parts[0] in COLLECTIONS
    if len(parts) == 3 and parts[0] in COLLECTIONS:
        schema = {f.name: f for f in dataclasses.fields(COLLECTIONS[parts[0]])}
        f = schema.get(parts[2])
        return f is not None and f.metadata.get("kind") is dict
    return False


def apply_updates(
    tree: dict[str, Any], provenance: dict[str, Provenance], updates: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Provenance]]:
    """Set every dotted key of ``updates`` in ``tree`` (in place) and record where each changed
    value comes from. A value equal to the current one keeps its source. A new site or species
    must come with every required key."""
    flat = flatten(updates)
    existing = {name: set(tree[name]) for name in COLLECTIONS}
    for key, raw in flat.items():
        if is_sourced(raw):
            value, origin = unpack(raw, key)
        else:
            value, origin = raw, Provenance("set by the user (no source given)", USER)
        if set_dotted(tree, key, value) or is_sourced(raw):
            provenance[key] = origin
    for name, before in existing.items():
        for member in set(tree[name]) - before:
            _check_new_member(name, member, tree[name][member], flat, sorted(before))
    return tree, provenance


def _check_new_member(
    collection: str, member: str, values: dict[str, Any], given: Mapping[str, Any], known: list
) -> None:
    """A typo names the existing members; a real new member lists the keys it still needs."""
    required = [
        f.name
        for f in dataclasses.fields(COLLECTIONS[collection])
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    missing = [name for name in required if name not in values]
    if not missing:
        return
    first = next(k for k in given if k.startswith(f"{collection}.{member}."))
    guess = difflib.get_close_matches(member, known, n=1)
    hint = f" (did you mean '{guess[0]}'?)" if guess else ""
    raise ParameterError(
        first,
        given[first],
        f"a key of a declared member of '{collection}' ({', '.join(known)}){hint}, or a new "
        f"member declared with every required key ({', '.join(missing)} missing)",
        unknown=True,
    )


def set_dotted(tree: dict[str, Any], key: str, value: Any) -> bool:
    """Set ``tree[key]``; True if the value changed. Unknown keys name what is allowed."""
    parts = key.split(".")
    node: Any = tree
    for depth, part in enumerate(parts):
        if not isinstance(node, dict):
            _raise_unknown(key, parts[:depth], node, value)
        if part not in node:
            if not _open(parts[:depth], node):
                _raise_unknown(key, parts[:depth], node, value)
            if depth < len(parts) - 1:
                node[part] = _NewMember() if depth == 1 else {}
        if depth == len(parts) - 1:
            _check_not_a_group(key, parts, node.get(part), value)
            changed = part not in node or node[part] != value or type(node[part]) is not type(value)
            node[part] = value
            return changed
        node = node[part]
    return True


def _check_not_a_group(key: str, parts: list[str], current: Any, value: Any) -> None:
    """A group (a parameter group, a site, a species) takes a table, never a single value."""
    member = len(parts) <= 2 and parts[0] in COLLECTIONS
    per_species_table = len(parts) == 3 and _open(parts)  # validated as a table of numbers
    if (isinstance(current, dict) or member) and not per_species_table:
        keys = f" with keys {', '.join(current)}" if isinstance(current, dict) else ""
        raise ParameterError(key, value, f"a table; '{key}' is a group{keys}")


def get_dotted(tree: dict[str, Any], key: str) -> Any:
    """Value at a dotted key of the plain tree."""
    node: Any = tree
    walked: list[str] = []
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            _raise_unknown(key, walked, node)
        node = node[part]
        walked.append(part)
    return node


def _raise_unknown(key: str, walked: list[str], node: Any, value: Any = None) -> None:
    if isinstance(node, dict):
        options = sorted(node)
        prefix = ".".join(walked)
        full = [f"{prefix}.{o}" if prefix else o for o in options]
        guess = difflib.get_close_matches(key, full, n=1)
        hint = f" (did you mean '{guess[0]}'?)" if guess else ""
        where = f"under '{prefix}'" if prefix else "at the top level"
        if walked == ["sites"]:
            allowed = "one of " + ", ".join(options)
            raise ParameterError(key, value, f"a site name, {allowed}{hint}", unknown=True)
        raise ParameterError(key, value, f"a key {where}: {', '.join(options)}{hint}", unknown=True)
    raise ParameterError(
        key, value, f"nothing: '{'.'.join(walked)}' is a value, not a group", unknown=True
    )
