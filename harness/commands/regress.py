"""``harness regress STUDY.toml --against REV``: the CI gate — is HEAD worse than REV?

HEAD means the committed HEAD, checked out in its own worktree: uncommitted changes are not
measured (a note says so when there are some) unless ``--working-tree`` is given, which runs the
command in the repository itself. The reference is REV, measured the same way, or stored
results (``--baseline-results DIR``, any study directory). Both are measured at the study's
seeds (or ``--seeds``) and compared paired by seed; see :mod:`harness.bisect.regress` for the
decision. Exit 1 only for a significant regression beyond ``--tolerance`` (or when HEAD's
command fails), else 0; 2 for bad input. The flags become one
:class:`harness.bisect.settings.RegressSettings` for :func:`harness.bisect.gate.regress_gate`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.commands._common import add_format_argument, add_study_arguments
from harness.commands.bisect import add_git_arguments, measure_settings, probability


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_study_arguments(parser)
    parser.add_argument("--against", metavar="REV", default=None, help="the reference revision")
    parser.add_argument(
        "--baseline-results",
        metavar="STUDY_DIR",
        type=Path,
        default=None,
        help="stored results to compare with instead of measuring --against",
    )
    parser.add_argument(
        "--baseline-variant",
        default=None,
        help="the variant of --baseline-results to use (default: the measured variant's name)",
    )
    parser.add_argument(
        "--tolerance",
        default="0",
        help="how much worse HEAD may be: metric units (0.01) or percent of the reference "
        "mean (1%%); default 0",
    )
    parser.add_argument("--alpha", type=probability, default=0.05, help="CI level 1 - alpha")
    parser.add_argument(
        "--working-tree",
        action="store_true",
        help="measure the working tree as it is (uncommitted changes included) instead of HEAD",
    )
    add_format_argument(parser, ("table", "json"), aliases={"text": "table"})
    add_git_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from harness.bisect.gate import regress_gate
    from harness.bisect.settings import RegressSettings

    settings = RegressSettings(
        measure=measure_settings(args),
        against=args.against,
        baseline_results=args.baseline_results,
        baseline_variant=args.baseline_variant,
        tolerance=args.tolerance,
        alpha=args.alpha,
        working_tree=args.working_tree,
        format=args.format,
    )
    return regress_gate(settings)
