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

from harness.errors import SpecError, closest
from harness.schema import from_mapping
from harness.study.metrics import parse_metrics
from harness.study.tables import deep_merge, nest

NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+$")
COMMAND_KEYS = ("command", "shell", "env", "params", "cwd", "metrics")
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
    if not NAME_PATTERN.match(name) or name in (".", ".."):  # it names a directory
        raise SpecError("variant names may use only letters, digits, '_', '.' and '-'", key=where)
    if not isinstance(overrides, Mapping):
        raise SpecError("a variant must be a table", key=where)
    if "command" in overrides:
        trainer_free = {k: v for k, v in base.items() if k not in BUILTIN_TABLES}
        resolved = deep_merge(trainer_free, overrides)
    else:
        resolved = deep_merge(base, overrides)
    kind = validate_config(resolved, where=where)
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
    if "command" in config:
        for key in config:
            if key not in COMMAND_KEYS:
                suggestion = closest(key, COMMAND_KEYS)
                raise SpecError(
                    "a command run takes only 'command', 'shell', 'env', 'params', 'cwd' "
                    "and 'metrics'",
                    key=f"{where}.{key}",
                    suggestion=f"{where}.{suggestion}" if suggestion else None,
                )
        if not isinstance(config["command"], str) or not config["command"].strip():
            raise SpecError("must be a non-empty string", key=f"{where}.command")
        if not isinstance(config.get("cwd", ""), str):
            raise SpecError("must be a directory path", key=f"{where}.cwd")
        if not isinstance(config.get("shell", False), bool):
            raise SpecError("expected true or false", key=f"{where}.shell")
        env = config.get("env", {})
        if not isinstance(env, Mapping) or not all(isinstance(v, str) for v in env.values()):
            raise SpecError("must be a table of strings", key=f"{where}.env")
        params = config.get("params", {})
        if not isinstance(params, Mapping):
            raise SpecError("must be a table of placeholder values", key=f"{where}.params")
        if "metrics" in config:
            parse_metrics(config["metrics"], where=f"{where}.metrics", params=params)
        return "command"
    from harness.training.config import RunConfig  # loads models: only for built-in runs

    from_mapping(RunConfig, config, where=where)
    return "builtin"


def config_hash(config: Mapping[str, Any]) -> str:
    """A stable 16-hex-digit hash of a resolved config (canonical JSON, sorted keys)."""
    canonical = json.dumps(jsonable(config), sort_keys=True, separators=(",", ":"))
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
