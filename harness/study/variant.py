"""One variant of a study: its overrides on ``[base]``, resolved and validated.

A variant (or the base) whose resolved config has a ``command`` key is an external command;
otherwise it is the built-in trainer, whose config is validated against
``harness.training.config.RunConfig``. Study variants, sweep points, search trials and phases
are all built by :func:`resolve_variant`, so each is checked the same way.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from harness.errors import SpecError
from harness.limits import TIMEOUT_KEY
from harness.schema import from_mapping
from harness.study.command_config import check_placeholders, is_command, parse_command_config
from harness.study.tables import deep_merge, format_key, nest

# \A...\Z, not ^...$: "$" also matches before a final newline, and "b\n" names a directory.
NAME_PATTERN = re.compile(r"\A[A-Za-z0-9_.-]+\Z")
BUILTIN_TABLES = ("model", "data", "train")

Kind = Literal["builtin", "command"]


@dataclass(frozen=True, kw_only=True)
class VariantSpec:
    """One variant: its own overrides and the config resolved from them.

    Attributes:
        name: the variant name (also a directory name).
        overrides: the variant's table as written in the study file.
        config: ``[base]`` deep-merged with ``overrides``: what a run of this variant uses.
        kind: "builtin" for the built-in trainer, "command" for an external command.
    """

    name: str
    overrides: Mapping[str, Any]
    config: Mapping[str, Any]
    kind: Kind

    @property
    def config_hash(self) -> str:
        return config_hash(self.config)


def resolve_variant(name: str, base: Mapping[str, Any], overrides: Any) -> VariantSpec:
    """The variant ``name``: ``base`` deep-merged with ``overrides``, validated.

    A variant that brings its own ``command`` replaces the base's built-in trainer, so the
    base's ``model``/``data``/``train`` tables do not reach it.

    Args:
        name: the variant name; it becomes a directory name.
        base: the study's ``[base]`` table.
        overrides: the variant's table, as written.

    Returns:
        The resolved variant.

    Raises:
        SpecError: a bad name, a non-table, or an invalid resolved config, naming the key
            ``variants.<name>.<key>``.
    """
    where = f"variants.{name}"
    if not NAME_PATTERN.fullmatch(name) or name in (".", ".."):  # it names a directory
        raise SpecError(
            "variant names may use only letters, digits, '_', '.' and '-'",
            # a name with a newline or another control character is shown escaped
            key=where if name.isprintable() else f"variants.{format_key([name])}",
        )
    if not isinstance(overrides, Mapping):
        raise SpecError("a variant must be a table", key=where)
    if "command" in overrides:
        trainer_free = {k: v for k, v in base.items() if k not in BUILTIN_TABLES}
        resolved = deep_merge(trainer_free, overrides)
    else:
        resolved = deep_merge(base, overrides)
    kind = validate_config(resolved, where=where)
    if kind == "command":
        check_placeholders(resolved, where=where)
    return VariantSpec(name=name, overrides=overrides, config=resolved, kind=kind)


def derive_variant(
    name: str, base: Mapping[str, Any], parent: VariantSpec, params: Mapping[str, Any]
) -> VariantSpec:
    """The variant ``name``: ``parent`` with the dotted ``params`` set (``{"train.lr": 1e-3}``).

    It is resolved exactly like a variant of a study file (``base`` deep-merged with the
    parent's overrides and then the parameters), so a search trial's config is a study config.

    Raises:
        SpecError: as :func:`resolve_variant`.
    """
    return resolve_variant(name, base, deep_merge(parent.overrides, nest(params)))


def validate_config(config: Mapping[str, Any], *, where: str) -> Kind:
    """Check a (base or resolved variant) config and say which kind of run it describes."""
    _check_no_nul(config, where)
    if is_command(config):
        parse_command_config(config, where=where)
        return "command"
    from harness.training.config import RunConfig  # loads models: only for built-in runs

    from_mapping(RunConfig, config, where=where)
    return "builtin"


def _check_no_nul(value: Any, where: str) -> None:
    """No NUL character in any key or string: the OS ends a path, an argument or an
    environment entry at the first one, so the run would fail (or see a cut value)."""
    if isinstance(value, str):
        if "\0" in value:
            raise SpecError("contains a NUL character (\\u0000)", key=where)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            path = f"{where}.{format_key([str(key)])}"
            if "\0" in str(key):
                raise SpecError("a key contains a NUL character (\\u0000)", key=path)
            _check_no_nul(item, path)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_no_nul(item, f"{where}[{index}]")


def config_hash(config: Mapping[str, Any]) -> str:
    """A stable 16-hex-digit hash of a resolved config (canonical JSON, sorted keys).

    The ``timeout`` is left out: a time limit does not change what a run computes, so raising
    it and resuming (``--retry-failed`` for the runs that timed out) is no config conflict.
    """
    hashed = {k: v for k, v in config.items() if k != TIMEOUT_KEY}
    canonical = json.dumps(jsonable(hashed), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def jsonable(value: Any) -> Any:
    """``value`` with TOML dates and times as ISO strings and tuples as lists."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime.date | datetime.time):  # TOML dates and times
        return value.isoformat()
    return value
