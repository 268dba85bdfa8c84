"""The ``metrics`` table of a command run: where the metrics of your own training script come from.

A command config (``[base]`` or a variant) may declare, in any combination::

    [base.metrics]
    stdout = ['step (?P<step>\\d+): train loss (?P<train_loss>[0-9.]+)']  # or "auto"
    log = "{run_dir}/train.log"          # the same patterns, on a log file instead of the output
    file = "{run_dir}/results.json"      # or a list; .json, .jsonl or .csv
    wandb = true                         # the script logs to wandb itself

Whatever the source, the worker writes what it reads to the run's ``metrics.jsonl``
(:mod:`harness.worker.metric_sources`), so nothing downstream knows where a metric came from.
Everything that can be checked before a run starts is checked here, at the door: the regexes
compile and name at least one metric, file names end in a format harness reads, path
placeholders are ones the worker fills in, and no path inside ``{run_dir}`` names one of
harness's own files or leaves the run's folder.
"""

from __future__ import annotations

import posixpath
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.errors import SpecError, closest

AUTO = "auto"
METRICS_KEYS = ("stdout", "log", "file", "wandb")
FILE_FORMATS = (".json", ".jsonl", ".csv")
PATH_PLACEHOLDERS = ("run_dir", "seed", "variant")
STEP_GROUP = "step"
# A regex group name must be an identifier, so `val__loss` stands for the metric `val/loss`.
GROUP_SLASH = "__"


@dataclass(frozen=True, kw_only=True)
class MetricsConfig:
    """Where a command run's metrics come from (the ``metrics`` table, validated).

    Attributes:
        stdout: regexes applied to each line of output (or of ``log``), or "auto" for the
            built-in ``name: value`` patterns; None when not given.
        log: log files the script writes; the ``stdout`` patterns ("auto" when none) are
            applied to them instead of to the output. Paths may hold placeholders.
        file: results files (.json, .jsonl, .csv) read when the command has ended.
        wandb: the script logs to wandb itself; harness reads the values back from its files.
    """

    stdout: tuple[str, ...] | str | None = None
    log: tuple[str, ...] = ()
    file: tuple[str, ...] = ()
    wandb: bool = False

    @property
    def line_patterns(self) -> tuple[str, ...] | str | None:
        """The patterns for output or log lines: the ``stdout`` value, "auto" for a log alone."""
        if self.stdout is not None:
            return self.stdout
        return AUTO if self.log else None

    @property
    def parses_output(self) -> bool:
        """Whether the command's output itself is parsed (a ``log`` takes the patterns)."""
        return self.stdout is not None and not self.log

    @property
    def patterns_shown(self) -> str:
        """The line patterns as messages show them: "auto" or the quoted regexes."""
        patterns = self.line_patterns
        return "auto" if patterns == AUTO else ", ".join(repr(p) for p in patterns or ())


def parse_metrics(
    table: Any, *, where: str, params: Mapping[str, Any] | None = None
) -> MetricsConfig:
    """Validate a ``metrics`` table.

    Args:
        table: the table as written.
        where: its dotted key (``variants.a.metrics``), for errors.
        params: the config's ``params`` (their names are placeholders too).

    Returns:
        The typed sources.

    Raises:
        SpecError: an unknown key, a bad regex (invalid, or no named group), a file of an
            unknown format, an unknown placeholder, or no source at all; naming the key.
    """
    if not isinstance(table, Mapping):
        raise SpecError('must be a table such as { stdout = "auto" }', key=where)
    for key in table:
        if key not in METRICS_KEYS:
            suggestion = closest(key, METRICS_KEYS)
            raise SpecError(
                "unknown metrics source (sources: stdout, log, file, wandb)",
                key=f"{where}.{key}",
                suggestion=f"{where}.{suggestion}" if suggestion else None,
            )
    if not table:
        raise SpecError("declare at least one source: stdout, log, file or wandb", key=where)
    known = (*PATH_PLACEHOLDERS, *(params or {}))
    stdout = _patterns(table["stdout"], f"{where}.stdout") if "stdout" in table else None
    log = _paths(table.get("log", ()), f"{where}.log", known)
    files = _paths(table.get("file", ()), f"{where}.file", known)
    for path in files:
        if not path.lower().endswith(FILE_FORMATS):
            raise SpecError(
                f"{path!r}: harness reads .json, .jsonl and .csv results files",
                key=f"{where}.file",
            )
    _refuse_one_path_twice(log, files, where)
    wandb = table.get("wandb", False)
    if not isinstance(wandb, bool):
        raise SpecError("expected true or false", key=f"{where}.wandb")
    return MetricsConfig(stdout=stdout, log=log, file=files, wandb=wandb)


def compile_pattern(pattern: str, *, key: str, index: int = 0) -> re.Pattern[str]:
    """Compile one metrics regex, which must name at least one metric.

    Raises:
        SpecError: an invalid regex, or one without a named group other than ``step``.
    """
    try:
        compiled = re.compile(pattern)
    except re.error as error:
        raise SpecError(
            f"pattern {index + 1} is not a valid regex: {error} (in {pattern!r})", key=key
        ) from None
    if not [name for name in compiled.groupindex if name != STEP_GROUP]:
        raise SpecError(
            f"pattern {index + 1} ({pattern!r}) has no named group for a metric: name what to "
            "record, e.g. 'loss (?P<val_loss>[0-9.]+)'",
            key=key,
        )
    return compiled


def metric_name(group: str) -> str:
    """The metric a regex group names: ``val__loss`` is ``val/loss``."""
    return group.replace(GROUP_SLASH, "/")


def declared_metric_names(config: MetricsConfig) -> frozenset[str] | None:
    """The metrics these sources can report, or None when any name can come (auto, files,
    wandb)."""
    if config.file or config.wandb:
        return None
    return pattern_metric_names(config)


def pattern_metric_names(config: MetricsConfig) -> frozenset[str] | None:
    """The metrics the line patterns name (empty without patterns), or None for "auto"."""
    patterns = config.line_patterns
    if patterns == AUTO:
        return None
    names = {
        metric_name(group)
        for pattern in patterns or ()
        for group in re.compile(pattern).groupindex
        if group != STEP_GROUP
    }
    return frozenset(names)


def _patterns(value: Any, key: str) -> tuple[str, ...] | str:
    if value == AUTO:
        return AUTO
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(p, str) for p in value):
        raise SpecError(
            'expected "auto" or a list of regexes with named groups, e.g. '
            "['loss (?P<val_loss>[0-9.]+)']",
            key=key,
        )
    for index, pattern in enumerate(value):
        compile_pattern(pattern, key=key, index=index)
    return tuple(value)


def _paths(value: Any, key: str, known: tuple[str, ...]) -> tuple[str, ...]:
    paths = [value] if isinstance(value, str) else value
    if not isinstance(paths, list | tuple) or not all(
        isinstance(p, str) and p.strip() for p in paths
    ):
        raise SpecError("expected a path or a list of paths", key=key)
    for path in paths:
        _refuse_leaving_run_dir(path, key)
        for name in _placeholders(path, key):
            if name not in known:
                raise SpecError(
                    f"unknown placeholder {{{name}}} in {path!r} (known: "
                    f"{', '.join('{' + k + '}' for k in known)})",
                    key=key,
                    suggestion=closest(name, known),
                )
    return tuple(paths)


def _refuse_one_path_twice(log: tuple[str, ...], files: tuple[str, ...], where: str) -> None:
    """A path declared twice would report each of its metrics twice: refused here rather
    than on every run (docs/studies.md, "One source per metric")."""
    seen: dict[str, str] = {}
    for key, paths in (("log", log), ("file", files)):
        for path in paths:
            if path in seen:
                first = seen[path]
                raise SpecError(
                    f"{path!r} is declared twice ({where}.{first} and {where}.{key}): each of "
                    "its metrics would come from two sources; declare it once",
                    key=f"{where}.{key}",
                )
            seen[path] = key


def _refuse_leaving_run_dir(path: str, key: str) -> None:
    """A path inside ``{run_dir}`` may not leave the run's folder (``{run_dir}/../s1/...`` is
    another run's). Whether it names a file harness itself writes there is the store's to say
    (:func:`harness.run.metric_paths.refuse_harness_files`, before any run)."""
    placeholder = "{run_dir}"
    if not path.startswith(placeholder):
        return
    inside = posixpath.normpath(path[len(placeholder) :].lstrip("/") or ".")
    first = inside.split("/", 1)[0]
    if first == "..":
        raise SpecError(f"{path!r} leaves the run's folder; name a file inside it", key=key)


def _placeholders(text: str, key: str) -> list[str]:
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(text) if name]
    except ValueError as error:
        raise SpecError(f"{text!r}: {error} (write '{{{{' for a literal brace)", key=key) from None
    return [re.split(r"[.\[]", name, maxsplit=1)[0] for name in fields]
