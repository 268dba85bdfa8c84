"""``harness bisect --good REV --bad REV STUDY.toml``: find the commit that made a metric worse.

Each commit is checked out into its own git worktree (never the user's checkout) and the
study's command variant runs there across seeds; each probe is compared with the good endpoint,
paired by seed, and gets more seeds until it is clearly good or clearly bad. See
:mod:`harness.bisect.search` for the algorithm and its error control. Exit codes: 0 when the
first bad commit is found, 1 when not (endpoints not confirmed, or ambiguous because of
untestable commits), 2 for bad input. The flags become one
:class:`harness.bisect.settings.BisectSettings` for :func:`harness.bisect.first_bad.find_first_bad`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from harness.commands._common import (
    add_format_argument,
    add_study_arguments,
    positive,
    study_source,
)

if TYPE_CHECKING:
    from harness.bisect.settings import MeasureSettings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_study_arguments(parser)
    parser.add_argument(
        "--good", required=True, metavar="REV", help="a commit without the regression"
    )
    parser.add_argument(
        "--bad", default="HEAD", metavar="REV", help="a commit with it (default: HEAD)"
    )
    parser.add_argument(
        "--max-seeds",
        type=positive,
        default=32,
        help="most seeds one decision may use; the seed count doubles up to it (default 32)",
    )
    parser.add_argument(
        "--alpha",
        type=probability,
        default=0.05,
        help="family-wise error level of the whole bisect (default 0.05)",
    )
    parser.add_argument(
        "--margin",
        type=float,
        default=None,
        help="a commit worse than good by less than this is good (default: half the "
        "endpoints' regression)",
    )
    add_format_argument(parser, ("table", "json"))
    add_git_arguments(parser)


def add_git_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared with ``harness regress``: what is measured, in which repository, and
    how earlier measurements are reused."""
    parser.add_argument("--metric", default=None, help="the metric (default: the study's)")
    parser.add_argument(
        "--variant",
        default=None,
        help="the study's command variant to measure (default: the study's baseline)",
    )
    parser.add_argument(
        "--repo", default=".", help="the git repository (default: the current directory's)"
    )
    parser.add_argument(
        "--worktree-dir",
        type=Path,
        default=None,
        help="where commits are checked out (default <repo>/.git/harness-worktrees; "
        "removed afterwards)",
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="move earlier measurements aside instead of reusing them",
    )
    parser.add_argument(
        "--retry-failed",
        action="store_true",
        help="rerun measurements that failed before (default: a failure is cached too)",
    )
    parser.add_argument(
        "--no-wandb",
        action="store_true",
        help="do not log to wandb (default: as the study's [wandb] says, a run per tested commit)",
    )


def probability(text: str) -> float:
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def run(args: argparse.Namespace) -> int:
    from harness.bisect.first_bad import find_first_bad
    from harness.bisect.settings import BisectSettings

    settings = BisectSettings(
        measure=measure_settings(args),
        good=args.good,
        bad=args.bad,
        max_seeds=args.max_seeds,
        alpha=args.alpha,
        margin=args.margin,
        format=args.format,
    )
    return find_first_bad(settings)


def measure_settings(args: argparse.Namespace) -> MeasureSettings:
    """The flags of :func:`add_git_arguments` (and the study's) as
    :class:`~harness.bisect.settings.MeasureSettings`."""
    from harness.bisect.settings import MeasureSettings

    return MeasureSettings(
        source=study_source(args),
        runs_dir=args.runs_dir,
        metric=args.metric,
        variant=args.variant,
        repo=args.repo,
        worktree_dir=args.worktree_dir,
        fresh=args.fresh,
        retry_failed=args.retry_failed,
        wandb=not args.no_wandb,
    )
