"""``harness study STUDY.toml``: run every variant across seeds; resumes where it stopped.

The flags become one :class:`harness.run.study.StudySettings`;
:func:`harness.run.study.run_study_file` runs the file in its shape (one study,
``--until-decided``, or phases in order).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from harness.commands._common import (
    add_format_argument,
    add_study_arguments,
    positive,
    study_source,
)
from harness.commands._executor import add_executor_arguments, executor_overrides

if TYPE_CHECKING:
    from harness.run.study import StudySettings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_study_arguments(parser)
    parser.add_argument(
        "--jobs",
        type=positive,
        default=None,
        help="runs at once (default: one per GPU, else one per CPU core)",
    )
    parser.add_argument(
        "--threads",
        type=positive,
        default=None,
        help="CPU threads per run (default: cores divided among jobs)",
    )
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    add_executor_arguments(parser)
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="start the study over; the old directory is moved aside",
    )
    parser.add_argument(
        "--retry-failed",
        action="store_true",
        help="rerun runs that failed (crashed or exited non-zero)",
    )
    adaptive = parser.add_argument_group("adaptive seeding (anytime-valid)")
    adaptive.add_argument(
        "--until-decided",
        action="store_true",
        help="after the study's seeds, add seeds only to comparisons that are "
        "still undecided, until decided or --max-seeds",
    )
    adaptive.add_argument(
        "--max-seeds",
        type=positive,
        default=None,
        help="a seed budget per variant for --until-decided: runs the group-sequential design "
        "(error spending over looks after every seed up to it, non-binding futility; "
        "docs/sequential.md). Without it the anytime-valid design runs, stopping at 10 seeds",
    )
    adaptive.add_argument(
        "--design",
        choices=("auto", "anytime-valid", "group-sequential"),
        default="auto",
        help="sequential design with --until-decided (default auto: group-sequential when "
        "--max-seeds is given, else anytime-valid)",
    )
    adaptive.add_argument(
        "--alpha",
        type=float,
        default=0.05,
        help="family-wise error level with --until-decided (default 0.05)",
    )
    adaptive.add_argument(
        "--margin",
        type=float,
        default=None,
        help="equivalence margin in metric units (enables 'equivalent'); with --max-seeds, "
        "the minimal effect of interest of the futility boundary (default: the effect the "
        "budget detects with 80%% power, in units of the seed noise)",
    )
    parser.add_argument("--no-wandb", action="store_true", help="do not log to wandb")
    parser.add_argument("--no-progress", action="store_true", help="no live progress display")
    # json: the summary as JSON on stdout; the table and progress go to stderr
    add_format_argument(parser, ("table", "json"))


def run(args: argparse.Namespace) -> int:
    from harness.run.study import run_study_file

    return run_study_file(study_settings(args))


def study_settings(args: argparse.Namespace) -> StudySettings:
    """The flags of :func:`add_arguments` as :class:`~harness.run.study.StudySettings`."""
    from harness.run.adaptive import AdaptiveSettings
    from harness.run.study import StudySettings

    until_decided = None
    if args.until_decided:
        until_decided = AdaptiveSettings(
            max_seeds=args.max_seeds if args.max_seeds is not None else 10,
            alpha=args.alpha,
            margin=args.margin,
            group_sequential=(
                args.design == "group-sequential"
                or (args.design == "auto" and args.max_seeds is not None)
            ),
        )
    return StudySettings(
        source=study_source(args),
        runs_dir=args.runs_dir,
        executor=executor_overrides(args),
        threads=args.threads,
        device=args.device,
        fresh=args.fresh,
        retry_failed=args.retry_failed,
        until_decided=until_decided,
        wandb=not args.no_wandb,
        progress=not args.no_progress,
        format=args.format,
    )
