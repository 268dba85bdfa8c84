"""Turn a ``name:command`` list (one ablation per line) into a study file.

Each line ``name:command`` becomes a command variant. A literal ``--seed N`` becomes the
``{seed}`` placeholder and ``--output X`` (or ``--out``, ``--output_dir``, ``--log_dir``) the
``{run_dir}`` placeholder, so every variant runs on the study's seeds and writes where harness
looks. Lines starting with ``#`` are comments; a comment just above a line describes it.
Variant names are sanitized before they become directory names.

``metrics`` ("auto") or ``metric_patterns`` (regexes) add a ``[base.metrics]`` table, so that
scripts which print their losses (as most do) report them without a change.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from analysis.verdict import Direction
from harness.errors import UserError
from harness.study.checks import receives_seed
from harness.study.metrics import AUTO, compile_pattern
from harness.study.sweep import sanitize_name

SEED_FLAGS = ("--seed",)
SAFE_ARG = re.compile(r"[\w@%+=:,./{}-]+")
BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
OUTPUT_FLAGS = ("--output", "--out", "--output_dir", "--output-dir", "--log_dir", "--log-dir")


@dataclass(frozen=True, kw_only=True)
class ImportedVariant:
    """One imported line: its sanitized name, command with placeholders, and what changed."""

    name: str
    original_name: str
    command: str
    comment: str = ""
    conversions: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ImportResult:
    variants: tuple[ImportedVariant, ...]
    warnings: tuple[str, ...] = field(default_factory=tuple)


def parse_command_list(text: str, *, source: str = "<input>") -> ImportResult:
    """Parse ``name:command`` lines.

    Raises:
        UserError: a line without ``name:``, an unparsable command, or no lines at all.
    """
    variants: list[ImportedVariant] = []
    warnings: list[str] = []
    comment = ""
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            comment = ""
            continue
        if stripped.startswith("#"):
            comment = stripped.lstrip("#").strip()
            continue
        name, sep, command = stripped.partition(":")
        if not sep or not name.strip() or not command.strip():
            raise UserError(f"{source}:{number}: expected 'name:command', got {stripped[:60]!r}")
        try:
            argv = shlex.split(command)
        except ValueError as error:
            raise UserError(f"{source}:{number}: cannot split the command: {error}") from None
        argv, conversions = _convert(argv)
        clean = sanitize_name(name.strip())
        if clean != name.strip():
            conversions.append(f"name {name.strip()!r} -> {clean!r}")
        if clean in seen:
            raise UserError(f"{source}:{number}: a second variant named '{clean}'")
        seen.add(clean)
        # the seed arrives as a placeholder however the script spells its flag
        # (--seed {seed}, --system.seed={seed}, seed={seed}) or through $HARNESS_SEED
        if not receives_seed({"command": join_command(argv)}):
            warnings.append(
                f"{clean}: no --seed flag; every seed runs the same command — "
                "pass the seed through $HARNESS_SEED"
            )
        variants.append(
            ImportedVariant(
                name=clean,
                original_name=name.strip(),
                command=join_command(argv),
                comment=comment,
                conversions=tuple(conversions),
            )
        )
        comment = ""
    if not variants:
        raise UserError(f"{source}: no 'name:command' lines found")
    return ImportResult(variants=tuple(variants), warnings=tuple(warnings))


def join_command(argv: list[str]) -> str:
    """``shlex.join``, except that placeholders like ``{seed}`` stay unquoted (still safe)."""
    return " ".join(arg if SAFE_ARG.fullmatch(arg) else shlex.quote(arg) for arg in argv)


def _convert(argv: list[str]) -> tuple[list[str], list[str]]:
    out: list[str] = []
    conversions: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        flag, eq, inline = arg.partition("=")
        if flag in SEED_FLAGS or flag in OUTPUT_FLAGS:
            placeholder = "{seed}" if flag in SEED_FLAGS else "{run_dir}"
            if eq:
                old, consumed = inline, 1
            elif i + 1 < len(argv):
                old, consumed = argv[i + 1], 2
            else:
                out.append(arg)
                i += 1
                continue
            out += [flag, placeholder]
            conversions.append(f"{flag} {old} -> {flag} {placeholder}")
            i += consumed
            continue
        out.append(arg)
        i += 1
    return out, conversions


def to_study_toml(
    result: ImportResult,
    *,
    name: str,
    seeds: int = 3,
    metric: str = "val_loss",
    direction: Direction = Direction.MINIMIZE,
    source: str = "",
    metrics: str | None = None,
    metric_patterns: tuple[str, ...] = (),
) -> str:
    """A study file for the imported variants (the first is the baseline).

    Args:
        result: the parsed command list.
        name: the study name.
        seeds: seeds per variant.
        metric: the study metric.
        direction: whether lower or higher is better.
        source: where the list came from, for the header comment.
        metrics: "auto" for a ``[base.metrics]`` table of the built-in output patterns.
        metric_patterns: regexes for that table instead (named groups are metrics).

    Returns:
        The study file's text.

    Raises:
        SpecError: a pattern that is not a valid regex or names no metric
            (key ``base.metrics.stdout``).
    """
    quote = json.dumps  # a JSON string is a valid TOML basic string
    lines = [
        f"# Imported from {source} by 'harness import-commands'."
        if source
        else "# Imported by 'harness import-commands'.",
        "[study]",
        f"name = {quote(sanitize_name(name))}",
        f"metric = {quote(metric)}",
        f"direction = {quote(direction)}",
        f"seeds = {seeds}",
        f"baseline = {quote(result.variants[0].name)}",
        "",
    ]
    lines += _metrics_table(metrics, metric_patterns)
    for variant in result.variants:
        if variant.comment:
            lines.append(f"# {variant.comment}")
        lines.append(f"[variants.{_table_key(variant.name)}]")
        lines.append(f"command = {quote(variant.command)}")
        lines.append("")
    return "\n".join(lines)


def _metrics_table(metrics: str | None, patterns: tuple[str, ...]) -> list[str]:
    if metrics is None and not patterns:
        return []
    if metrics is not None and metrics != AUTO:
        raise UserError(f"--metrics takes only 'auto', got {metrics!r}")
    if patterns:
        for index, pattern in enumerate(patterns):
            compile_pattern(pattern, key="base.metrics.stdout", index=index)
        stdout = "[" + ", ".join(_toml_string(p) for p in patterns) + "]"
        what = "the named groups of these patterns are metrics"
    else:
        stdout = _toml_string(AUTO)
        what = "'name: 1.23', 'name=1.23' and 'name 1.23' pairs; step/iter/iteration is the step"
    return [
        "# Metrics from what each command prints (its stdout and stderr):",
        f"# {what}.",
        "[base.metrics]",
        f"stdout = {stdout}",
        "",
    ]


def _toml_string(text: str) -> str:
    """A TOML literal string ('...', backslashes as written) when it can be one, else a basic
    (JSON-escaped) string."""
    if "'" not in text and "\n" not in text and "\r" not in text:
        return f"'{text}'"
    return json.dumps(text)


def _table_key(name: str) -> str:
    """``name`` as one TOML key: bare when it can be, quoted when it holds a dot (a sanitized
    name may: ``lr.1e-3``), which a bare key would split into nested tables."""
    return name if BARE_KEY.fullmatch(name) else json.dumps(name)


def default_study_name(path: Path) -> str:
    return sanitize_name(path.stem)
