"""Nested config tables and their dotted keys: ``train.lr`` names ``{"train": {"lr": ...}}``.

The one place that merges tables, sets or reads a dotted key, turns ``KEY=VALUE`` text into a
key and a TOML value, and lists the dotted keys where two tables differ. ``--set``,
``[sweep]``, ``[search]`` trials, ``--transfer`` and the "config changed" refusals all use it.

A dotted key is read exactly as TOML reads one: parts are bare (``A-Za-z0-9_-``) or quoted, so
``sweep.parameters."model.nanohead_proportion"`` is three parts, the last holding a dot.
"""

from __future__ import annotations

import copy
import json
import re
import tomllib
from collections.abc import Mapping, Sequence
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


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")

# Far deeper than any config (``variants.a.model.attention.x`` is five), far shallower than
# Python's recursion limit, which merging and copying tables would otherwise reach.
MAX_DEPTH = 64


def check_depth(table: Mapping[str, Any]) -> None:
    """Refuse tables nested deeper than :data:`MAX_DEPTH` (walked without recursion).

    Raises:
        SpecError: naming the start of the deepest key and the limit.
    """
    stack: list[tuple[list[str], Any]] = [([], table)]
    while stack:
        parts, node = stack.pop()
        if len(parts) > MAX_DEPTH:
            raise SpecError(
                f"nested more than {MAX_DEPTH} tables deep; no config key is that deep",
                key=format_key(parts[:4]) + ".…",
            )
        if isinstance(node, Mapping):
            stack.extend(([*parts, str(key)], value) for key, value in node.items())
        elif isinstance(node, list):
            stack.extend(([*parts, f"[{index}]"], value) for index, value in enumerate(node))


def split_key(dotted: str) -> list[str]:
    """The parts of a dotted key, read as TOML reads a key: ``a."b.c"`` -> ``["a", "b.c"]``.

    Args:
        dotted: a TOML key; parts bare (``A-Za-z0-9_-``) or quoted (``"..."``, ``'...'``).

    Returns:
        The parts, unquoted.

    Raises:
        SpecError: ``dotted`` is not a valid TOML key.
    """
    bare_parts = dotted.split(".")
    if all(_BARE_KEY.fullmatch(part) for part in bare_parts):  # the common case, no parsing
        return bare_parts
    try:
        node: Any = tomllib.loads(f"{dotted} = 0")
    except tomllib.TOMLDecodeError:
        raise SpecError(
            "not a valid key: write parts that hold a dot or other characters in quotes, "
            'e.g. sweep.parameters."model.n_layer"',
            key=dotted,
        ) from None
    parts = []
    while isinstance(node, dict) and len(node) == 1:
        part, node = next(iter(node.items()))
        parts.append(part)
    if node != 0 or not parts:  # "a = 1 \n b" and the like: more than one key
        raise SpecError("not a single key", key=dotted)
    return parts


def format_key(parts: Sequence[str]) -> str:
    """The dotted key of ``parts``, each bare when it can be and quoted otherwise (as TOML
    writes it): ``["a", "b.c"]`` -> ``a."b.c"``; :func:`split_key` reads it back."""
    return ".".join(
        part if _BARE_KEY.fullmatch(part) else json.dumps(part, ensure_ascii=False)
        for part in parts
    )


def set_dotted(table: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``dotted`` (a TOML key, see :func:`split_key`) in ``table`` in place, creating the
    tables on the way.

    Raises:
        SpecError: a part of the path already holds a value that is not a table, or
            ``dotted`` is not a valid key.
    """
    *parents, leaf = split_key(dotted)
    node = table
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise SpecError("cannot set a key inside a non-table value", key=dotted)
        node = child
    node[leaf] = value


def get_dotted(table: Mapping[str, Any], dotted: str) -> Any:
    """The value at ``dotted`` (a TOML key) in ``table`` (KeyError when it is not there)."""
    node: Any = table
    for part in split_key(dotted):
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

    The key is read as a TOML key (quoted parts may hold dots and ``=``:
    ``sweep.parameters."model.n_layer"=[2, 4]``). The value is read as a TOML value (``50``,
    ``3e-4``, ``true``, ``"x"``, ``[1, 2]``); anything that is not valid TOML is taken as a
    plain string, so ``name=plain`` works.

    Args:
        assignment: ``KEY=VALUE`` as typed on the command line.
        flag: the option it came from, for the error message.

    Returns:
        The dotted key (as :func:`format_key` writes it, for :func:`set_dotted`) and the value.

    Raises:
        SpecError: no ``=``, no key, or a key that is not a valid TOML key.
    """
    split = _key_end(assignment)
    key, text = assignment[:split].strip(), assignment[split + 1 :]
    if split == len(assignment) or not key:
        raise SpecError(f"{flag} takes KEY=VALUE, got {assignment!r}")
    try:
        key = format_key(split_key(key))
    except SpecError as error:
        raise SpecError(f"{flag}: {error.message}", key=key) from None
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = text
    return key, value


def _key_end(assignment: str) -> int:
    """The index of the ``=`` that ends the key (the first outside quotes), or the length."""
    quote = ""
    escaped = False
    for index, char in enumerate(assignment):
        if quote:
            if escaped:
                escaped = False
            elif char == "\\" and quote == '"':
                escaped = True
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "=":
            return index
    return len(assignment)


def changed_keys(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[str]:
    """The dotted keys whose values differ, sorted, each as ``key (old -> new)``.

    A key missing on one side reads as ``None`` there.
    """
    changed = []
    for key in sorted(set(old) | set(new)):
        path = f"{prefix}{format_key([key])}"
        a, b = old.get(key), new.get(key)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            changed += changed_keys(a, b, f"{path}.")
        elif a != b:
            changed.append(f"{path} ({a!r} -> {b!r})")
    return changed
