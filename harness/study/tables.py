"""Nested config tables and their dotted keys: ``train.lr`` names ``{"train": {"lr": ...}}``.

The one place that merges tables, sets or reads a dotted key, turns ``KEY=VALUE`` text into a
key and a TOML value, and lists the dotted keys where two tables differ. ``--set``,
``[sweep]``, ``[search]`` trials, ``--transfer`` and the "config changed" refusals all use it.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Mapping
from typing import Any

from harness.errors import SpecError


def deep_merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` merged in: nested tables merge, everything else replaces."""
    merged = copy.deepcopy(dict(base))
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def set_dotted(table: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``dotted`` in ``table`` in place, creating the tables on the way.

    Raises:
        SpecError: a part of the path already holds a value that is not a table.
    """
    *parents, leaf = dotted.split(".")
    node = table
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise SpecError("cannot set a key inside a non-table value", key=dotted)
        node = child
    node[leaf] = value


def get_dotted(table: Mapping[str, Any], dotted: str) -> Any:
    """The value at ``dotted`` in ``table`` (KeyError when it is not there)."""
    node: Any = table
    for part in dotted.split("."):
        node = node[part]
    return node


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``{"train.lr": 1e-3}`` -> ``{"train": {"lr": 1e-3}}``: overrides that deep-merge."""
    nested: dict[str, Any] = {}
    for dotted, value in flat.items():
        set_dotted(nested, dotted, value)
    return nested


def parse_assignment(assignment: str, *, flag: str = "--set") -> tuple[str, Any]:
    """``"train.lr=3e-4"`` -> ``("train.lr", 0.0003)``.

    The value is read as a TOML value (``50``, ``3e-4``, ``true``, ``"x"``, ``[1, 2]``);
    anything that is not valid TOML is taken as a plain string, so ``name=plain`` works.

    Args:
        assignment: ``KEY=VALUE`` as typed on the command line.
        flag: the option it came from, for the error message.

    Returns:
        The dotted key and the value.

    Raises:
        SpecError: no ``=`` or no key.
    """
    key, sep, text = assignment.partition("=")
    key = key.strip()
    if not sep or not key:
        raise SpecError(f"{flag} takes KEY=VALUE, got {assignment!r}")
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = text
    return key, value


def changed_keys(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[str]:
    """The dotted keys whose values differ, sorted, each as ``key (old -> new)``.

    A key missing on one side reads as ``None`` there.
    """
    changed = []
    for key in sorted(set(old) | set(new)):
        path = f"{prefix}{key}"
        a, b = old.get(key), new.get(key)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            changed += changed_keys(a, b, f"{path}.")
        elif a != b:
            changed.append(f"{path} ({a!r} -> {b!r})")
    return changed
