"""A command run's settings, read once into a frozen value.

A resolved config with a ``command`` key is an external command. Its keys are ``command``,
``shell``, ``env``, ``params``, ``cwd``, ``metrics`` and ``timeout``; :func:`parse_command_config`
checks them all (when the study is read, naming the key that is wrong) and gives the
:class:`CommandConfig` the worker runs: the same function reads a run's ``config.json`` there,
so a command's settings are parsed once per process and then passed as they are.
"""

from __future__ import annotations

import re
import shlex
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.errors import SpecError, closest
from harness.limits import TIMEOUT_KEY, DurationError, RunLimits
from harness.study.env_table import check_env_value
from harness.study.metrics import PATH_PLACEHOLDERS, MetricsConfig, parse_metrics
from harness.study.shell_placeholders import UnsafePlaceholder, fill_shell_placeholders
from harness.study.tables import format_key

COMMAND_KEYS = ("command", "shell", "env", "params", "cwd", "metrics", TIMEOUT_KEY)
# A name as a placeholder spells it ({lr}, {seed:03d}, {cfg.lr}); a field such as {"lr": 1}
# (JSON in a command) or {print $1} (awk) is no placeholder and is left as written.
PLACEHOLDER_NAME = re.compile(r"[A-Za-z_]\w*")


@dataclass(frozen=True, kw_only=True)
class CommandConfig:
    """A command run's settings, validated.

    Attributes:
        command: the command line, with ``{seed}``, ``{run_dir}``, ``{variant}`` and
            ``{param}`` placeholders.
        shell: run it through the shell (placeholder values quoted), else split it into
            arguments.
        env: environment variables the study sets for it.
        params: values for ``{name}`` placeholders.
        cwd: the directory it runs in; None for the worker's.
        metrics: where its metrics come from; None when the command writes ``metrics.jsonl``
            itself.
        limits: its time limit and how much of its output the record keeps.
    """

    command: str
    shell: bool = False
    env: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    cwd: str | None = None
    metrics: MetricsConfig | None = None
    limits: RunLimits = field(default_factory=RunLimits)

    @property
    def logs_to_wandb(self) -> bool:
        """Whether the script logs to wandb itself (``metrics.wandb = true``)."""
        return self.metrics is not None and self.metrics.wandb


def is_command(config: Mapping[str, Any]) -> bool:
    """Whether a resolved config describes an external command (it has a ``command`` key)."""
    return "command" in config


def parse_command_config(
    config: Mapping[str, Any], *, where: str, other_keys: bool = False
) -> CommandConfig:
    """Check a command run's config and read it into a :class:`CommandConfig`.

    Args:
        config: a resolved (base or variant) config with a ``command`` key.
        where: its dotted key (``variants.a``), for errors.
        other_keys: let keys that are no command setting pass (a planned run's config, which
            its driver may have tagged: ``harness bisect`` adds the commit as ``git``); a
            study's own config is read with False, so a typo is an error.

    Returns:
        The typed settings.

    Raises:
        SpecError: an unknown key, or a value of the wrong kind, naming the key.
    """
    if not other_keys:
        _check_keys(config, where)
    if not isinstance(config["command"], str) or not config["command"].strip():
        raise SpecError("must be a non-empty string", key=f"{where}.command")
    if not isinstance(config.get("cwd", ""), str):
        raise SpecError("must be a directory path", key=f"{where}.cwd")
    if not isinstance(config.get("shell", False), bool):
        raise SpecError("expected true or false", key=f"{where}.shell")
    if not config.get("shell", False):
        try:
            shlex.split(config["command"])  # how the worker splits it into arguments
        except ValueError as error:  # "No closing quotation", "No escaped character"
            raise SpecError(
                f"cannot be split into arguments: {str(error).lower()} (unbalanced quotes?)",
                key=f"{where}.command",
            ) from None
    env = config.get("env", {})
    if not isinstance(env, Mapping) or not all(isinstance(v, str) for v in env.values()):
        raise SpecError("must be a table of strings", key=f"{where}.env")
    for name in env:
        if not name or "=" in name:  # the OS reads NAME=VALUE: such a name cannot be set
            raise SpecError(
                "an environment variable name must be non-empty and without '='",
                key=f"{where}.env.{format_key([name])}",
            )
        check_env_value(name, env[name], key=f"{where}.env.{format_key([name])}")
    params = config.get("params", {})
    if not isinstance(params, Mapping):
        raise SpecError("must be a table of placeholder values", key=f"{where}.params")
    if config.get("shell", False):
        _check_shell_placeholders(config["command"], params, where)
    metrics = (
        parse_metrics(config["metrics"], where=f"{where}.metrics", params=params)
        if "metrics" in config
        else None
    )
    try:
        limits = RunLimits.of_config(config)
    except DurationError as error:
        raise SpecError(str(error), key=f"{where}.{TIMEOUT_KEY}") from None
    return CommandConfig(
        command=config["command"],
        shell=config.get("shell", False),
        env=env,
        params=params,
        cwd=config.get("cwd") or None,
        metrics=metrics,
        limits=limits,
    )


def _check_keys(config: Mapping[str, Any], where: str) -> None:
    """Every key of a command config is a command setting; a typo is named, with the closest."""
    for key in config:
        if key not in COMMAND_KEYS:
            suggestion = closest(key, COMMAND_KEYS)
            raise SpecError(
                "a command run takes only 'command', 'shell', 'env', 'params', 'cwd', "
                "'metrics' and 'timeout'",
                key=f"{where}.{key}",
                suggestion=f"{where}.{suggestion}" if suggestion else None,
            )


def _check_shell_placeholders(command: str, params: Mapping[str, Any], where: str) -> None:
    """Refuse a ``shell = true`` command with a placeholder where its value could not be
    quoted safely (inside backquotes, ``${...}``, a comment...), naming the placeholder and
    showing the safe form; quoted placeholders (``'{lr}'``) are fine, harness fills them in
    as one word."""
    names = {**params, "seed": 0, "run_dir": "", "variant": ""}
    try:
        fill_shell_placeholders(command, {name: "0" for name in names})
    except UnsafePlaceholder as error:
        raise SpecError(str(error), key=f"{where}.command") from None


def check_placeholders(config: Mapping[str, Any], *, where: str) -> None:
    """Every ``{name}`` in a resolved run's command is a placeholder it has a value for: a typo
    (``{lr_}``, ``{sed}``) would otherwise reach the script as written and cost a whole study.

    Only a resolved variant is checked: a base may leave ``params`` to its variants.
    ``${NAME}`` (a shell variable) and fields that are no name (JSON, awk) are left alone, as
    the worker leaves them; a line the formatter cannot read (a lone brace) is too.

    Args:
        config: a command config, already checked by :func:`parse_command_config`.
        where: its dotted key (``variants.a``), for errors.

    Raises:
        SpecError: an unknown placeholder, naming the closest known one and how to write a
            literal brace.
    """
    known = (*PATH_PLACEHOLDERS, *config.get("params", {}))
    key = f"{where}.command"
    try:
        fields = list(string.Formatter().parse(config["command"]))
    except ValueError:
        return
    for literal, field_name, _, _ in fields:
        if not field_name or literal.endswith("$"):
            continue
        name = re.split(r"[.\[]", field_name, maxsplit=1)[0]
        if PLACEHOLDER_NAME.fullmatch(name) and name not in known:
            raise SpecError(
                f"unknown placeholder {{{name}}} in the command (known: "
                f"{', '.join('{' + k + '}' for k in known)}; write '{{{{' and '}}}}' for a "
                "literal brace)",
                key=key,
                suggestion=closest(name, known),
            )
