"""``[sweep]``: expand a grid (or a zipped list) over config keys into named variants.

::

    [sweep]
    kind = "grid"                                  # or "zip": the lists walked in step
    [sweep.parameters]
    "model.nanohead_proportion" = [0.0, 0.2, 0.4]

gives the variants ``nanohead_proportion-0.0``, ``nanohead_proportion-0.2`` ... Each is the base
with those keys set; they join any variants written out under ``[variants]``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from typing import Any

from harness.errors import SpecError, closest
from harness.study.tables import get_dotted, set_dotted

SWEEP_KEYS = ("kind", "parameters", "name")


def expand_sweep(sweep: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The variants of a ``[sweep]`` table: name -> nested overrides.

    Raises:
        SpecError: unknown keys, empty or mismatched lists, clashing names.
    """
    for key in sweep:
        if key not in SWEEP_KEYS:
            raise SpecError(
                "unknown key", key=f"sweep.{key}", suggestion=_in_sweep(closest(key, SWEEP_KEYS))
            )
    kind = sweep.get("kind", "grid")
    if kind not in ("grid", "zip"):
        raise SpecError(f"must be 'grid' or 'zip', got {kind!r}", key="sweep.kind")
    parameters = sweep.get("parameters")
    if not isinstance(parameters, Mapping) or not parameters:
        raise SpecError("needs a table of 'dotted.key' = [values]", key="sweep.parameters")
    for key, values in parameters.items():
        if not isinstance(values, list) or not values:
            raise SpecError("must be a non-empty list of values", key=f"sweep.parameters.{key}")
    keys = list(parameters)
    lists = [parameters[k] for k in keys]
    if kind == "zip":
        if len({len(v) for v in lists}) != 1:
            raise SpecError("'zip' needs lists of equal length", key="sweep.parameters")
        combos = list(zip(*lists, strict=True))
    else:
        combos = list(itertools.product(*lists))
    labels = _short_labels(keys)
    variants: dict[str, dict[str, Any]] = {}
    for combo in combos:
        name = "_".join(f"{label}-{_format(v)}" for label, v in zip(labels, combo, strict=True))
        name = sanitize_name(name)
        if name in variants:
            raise SpecError(f"two sweep points are both named '{name}'", key="sweep.parameters")
        overrides: dict[str, Any] = {}
        for key, value in zip(keys, combo, strict=True):
            set_dotted(overrides, key, value)
        variants[name] = overrides
    return variants


def swept_values(sweep: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """For the report: variant name -> {dotted key: value} of every sweep point."""
    keys = list(sweep["parameters"])
    return {
        name: {key: get_dotted(overrides, key) for key in keys}
        for name, overrides in expand_sweep(sweep).items()
    }


def sanitize_name(name: str) -> str:
    """A variant name safe as a directory name: letters, digits, ``_ . -``; nothing else."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "variant"
    return cleaned


def _short_labels(keys: list[str]) -> list[str]:
    """The last path component of each key, or the whole key where that would be ambiguous."""
    last = [k.split(".")[-1] for k in keys]
    return [short if last.count(short) == 1 else key for short, key in zip(last, keys, strict=True)]


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _in_sweep(key: str | None) -> str | None:
    return f"sweep.{key}" if key else None
