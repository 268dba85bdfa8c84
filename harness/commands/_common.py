"""Arguments and helpers shared by several subcommands."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from harness.errors import UserError

if TYPE_CHECKING:
    from harness.study.source import StudySource


def add_study_arguments(parser: argparse.ArgumentParser) -> None:
    """The study file and the ways to override it: ``--set``, ``--seeds``, ``--runs-dir``."""
    parser.add_argument("study_file", metavar="STUDY.toml", help="the study file")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a key, e.g. --set base.train.steps=50 (repeatable)",
    )
    parser.add_argument(
        "--seeds",
        type=parse_seeds,
        default=None,
        help="a seed count (expanded to 0..N-1) or a list like 1,2,3",
    )
    add_runs_dir(parser)


def add_study_dir_argument(parser: argparse.ArgumentParser) -> None:
    """An optional study directory (or name under the runs root), and ``--runs-dir``."""
    parser.add_argument(
        "study_dir",
        nargs="?",
        default=None,
        help="a study directory or name (default: the most recent study)",
    )
    add_runs_dir(parser)


# The one --format vocabulary of every command that prints results; each offers the subset
# that applies to what it prints ("table" is always the default, for the terminal).
FORMATS = ("table", "json", "markdown", "csv")


def add_format_argument(
    parser: argparse.ArgumentParser,
    formats: Sequence[str] = ("table", "json"),
    *,
    aliases: Mapping[str, str] | None = None,
) -> None:
    """``--format`` with the formats of :data:`FORMATS` that apply, ``table`` by default.

    Args:
        parser: the command's parser.
        formats: the formats the command offers, a subset of :data:`FORMATS`.
        aliases: older names kept working, e.g. ``{"text": "table"}``; ``args.format`` holds
            the name they stand for.
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:  # a programming error, not bad input
        raise ValueError(f"not in the --format vocabulary: {unknown}")
    names = dict(aliases or {})
    parser.add_argument(
        "--format",
        type=lambda text: names.get(text, text),
        choices=tuple(formats),
        default="table",
        help=f"output format: {', '.join(formats)} (default: table)"
        + "".join(f"; '{old}' means '{new}'" for old, new in names.items()),
    )


def add_runs_dir(parser: argparse.ArgumentParser) -> None:
    # $HARNESS_RUNS_DIR is the default, read here so that argparse checks it like the flag.
    parser.add_argument(
        "--runs-dir",
        type=runs_dir_path,
        default=os.environ.get("HARNESS_RUNS_DIR"),
        help="root of the results store (default $HARNESS_RUNS_DIR or ./runs)",
    )


def runs_dir_path(text: str) -> str:
    """A runs root as given; an empty one (``--runs-dir ''``, ``HARNESS_RUNS_DIR=``) would
    put studies in the current directory, and is refused."""
    if not text.strip():
        raise argparse.ArgumentTypeError(
            "the runs root is empty (--runs-dir '' or HARNESS_RUNS_DIR=''), which would write "
            "studies into the current directory; name a folder, or unset HARNESS_RUNS_DIR to "
            "use ./runs"
        )
    return text


def parse_seeds(text: str) -> int | list[int]:
    try:
        if "," in text:
            return [int(part) for part in text.split(",") if part.strip()]
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a count or a list like 1,2,3: {text!r}"
        ) from None


def study_source(args: argparse.Namespace) -> StudySource:
    """The study file named on the command line, with its ``--set`` and ``--seeds``."""
    from harness.study.source import StudySource

    seeds = tuple(args.seeds) if isinstance(args.seeds, list) else args.seeds
    return StudySource(path=args.study_file, overrides=tuple(args.overrides), seeds=seeds)


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def require_columns(columns: Sequence[str], needed: Sequence[str], what: str) -> None:
    missing = [c for c in needed if c not in columns]
    if missing:
        raise UserError(f"{what} has no column(s) {', '.join(missing)}")
