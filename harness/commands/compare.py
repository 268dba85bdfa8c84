"""``harness compare [STUDY_DIR_OR_FILE] --metric val_loss``: variants against seed noise.

Effect sizes with CIs against the baseline, paired by seed when seeds are shared, one
multiplicity family for verdicts and tiers, and how many seeds would settle what is still
open. The statistics are in :mod:`analysis.compare` and docs/analysis.md. ``--sequential``
gives the anytime-valid verdicts of :mod:`analysis.sequential` instead (docs/sequential.md);
``--over-steps`` the paired differences at every logged step, with a simultaneous band
(:mod:`analysis.over_steps`, docs/analysis.md "Over training").
This module only turns flags into one :class:`harness.report.comparison_view.CompareSettings`
(its :class:`harness.results.comparison.CompareOptions` shared with ``harness report``) for
:func:`harness.report.comparison_view.show_comparison`; loading and comparing are in
:mod:`harness.results.comparison`. Never imports torch.
"""

from __future__ import annotations

import argparse
import math
from typing import TYPE_CHECKING

from analysis.verdict import Direction
from harness.commands._common import add_runs_dir
from harness.errors import UserError

if TYPE_CHECKING:
    from harness.report.comparison_view import CompareSettings
    from harness.results.comparison import CompareOptions


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "path",
        nargs="?",
        default=None,
        metavar="STUDY_DIR_OR_FILE",
        help="a study directory or name, or a CSV/parquet/JSONL table with variant, seed and "
        "metric columns (default: the most recently modified study)",
    )
    add_analysis_arguments(parser)
    parser.add_argument(
        "--format",
        choices=("table", "markdown", "json", "csv"),
        default="table",
        help="output format (default: a table in the terminal; csv not with --sequential)",
    )
    parser.add_argument(
        "--sequential",
        action="store_true",
        help="anytime-valid sequential verdicts (confidence sequences, valid however often "
        "seeds were added and looked at): better / worse / equivalent / undecided",
    )
    parser.add_argument(
        "--max-seeds",
        type=int,
        default=None,
        help="with --sequential: a comparison still undecided at this many paired seeds is "
        "'inconclusive' (default: no budget, it stays 'undecided')",
    )
    parser.add_argument(
        "--over-steps",
        action="store_true",
        help="the paired difference from the baseline at every logged step of --metric, with "
        "pointwise CIs, a band simultaneous over the steps, the step from which it separates "
        "(separated_from) and how early gaps predict the final one",
    )
    add_runs_dir(parser)


def add_analysis_arguments(parser: argparse.ArgumentParser) -> None:
    """The options shared by ``compare`` and ``report``. Imports nothing heavy: ``--help``
    stays fast."""
    parser.add_argument("--metric", default=None, help="metric column (default: the study's)")
    parser.add_argument(
        "--agg",
        default="final",
        help="how a curve becomes one value per run: final | min | mean (over the steps every "
        "run logged) | last:K (mean of the last K logged values) | step:S (value at step S) "
        "(default: final)",
    )
    parser.add_argument(
        "--at",
        default=None,
        metavar="step=N|tokens=N",
        help="compare at matched compute instead of at the end: each run's value last logged "
        "at or before step N (or N tokens, from a cumulative 'tokens' metric in the curves); "
        "runs that never reached N are refused",
    )
    parser.add_argument("--baseline", default=None, help="reference variant (default: the study's)")
    parser.add_argument(
        "--direction",
        choices=[direction.value for direction in Direction],
        default=None,
        help="whether lower or higher is better (default: the study's, else minimize)",
    )
    parser.add_argument(
        "--alpha",
        type=float,
        default=0.05,
        help="family-wise error level for the whole report; CIs are 1 - alpha (default 0.05)",
    )
    parser.add_argument(
        "--margin",
        type=float,
        default=None,
        help="equivalence margin in metric units: enables the 'equivalent' verdict (TOST)",
    )
    design = parser.add_mutually_exclusive_group()
    design.add_argument(
        "--paired",
        dest="paired",
        action="store_const",
        const=True,
        default=None,
        help="force the paired t-test by seed",
    )
    design.add_argument(
        "--unpaired",
        dest="paired",
        action="store_const",
        const=False,
        help="force Welch's unpaired t-test",
    )
    parser.add_argument(
        "--correction",
        choices=("holm", "bh"),
        default="holm",
        help="multiplicity correction: holm (family-wise error, default) or bh (FDR)",
    )
    parser.add_argument(
        "--smoothing",
        type=float,
        default=0.0,
        help="EMA of each curve before the differences over training (compare --over-steps, "
        "the report's curves), on the step axis: a weight in (0, 1) per logging interval of "
        "the coarsest run (wandb's slider), or a half-life in steps (>= 1); the same for every "
        "run whatever its logging interval (default 0: none)",
    )


def compare_options(args: argparse.Namespace) -> CompareOptions:
    """The options of :func:`add_analysis_arguments` as :class:`CompareOptions`."""
    from harness.results.comparison import CompareOptions

    if not math.isfinite(args.smoothing) or args.smoothing < 0.0:
        raise UserError(
            "--smoothing must be a weight in [0, 1) or a half-life in steps (>= 1), "
            f"got {args.smoothing}"
        )
    return CompareOptions(
        metric=args.metric,
        agg=_aggregation(args),
        baseline=args.baseline,
        direction=None if args.direction is None else Direction(args.direction),
        alpha=args.alpha,
        margin=args.margin,
        paired=args.paired,
        correction=args.correction,
        smoothing=args.smoothing,
    )


def _aggregation(args: argparse.Namespace) -> str:
    """``--agg``, or ``--at AXIS=N`` as the aggregation ``at:AXIS=N``
    (:func:`analysis.curves.value_at`)."""
    if getattr(args, "at", None) is None:
        return str(args.agg)
    from analysis import AnalysisError, parse_agg

    if args.agg != "final":
        raise UserError(
            f"--at {args.at} and --agg {args.agg} both say which value of a curve to compare; "
            "pass one"
        )
    text = f"at:{args.at.strip()}"
    try:
        parse_agg(text)
    except AnalysisError as error:
        raise UserError(f"--at {args.at}: {error}; write --at step=N or --at tokens=N") from None
    return text


def check_sequential(args: argparse.Namespace) -> None:
    """``--sequential``'s flags: the sequential test is paired by seed and splits alpha over
    the comparisons (Bonferroni)."""
    if args.format == "csv":
        raise UserError("--sequential writes table, markdown or json, not csv")
    if args.paired is False:
        raise UserError("--sequential is paired by seed; --unpaired does not apply")
    if args.correction != "holm":
        raise UserError(
            "--sequential splits alpha over the comparisons (Bonferroni); drop --correction"
        )
    if args.max_seeds is not None and args.max_seeds < 2:
        raise UserError("--max-seeds must be at least 2")


def check_over_steps(args: argparse.Namespace) -> None:
    """``--over-steps``' flags: paired by seed at every logged step, one band per variant."""
    conflicts = {
        "--sequential": args.sequential,
        "--max-seeds": args.max_seeds is not None,
        "--agg": args.agg != "final",
        "--at": getattr(args, "at", None) is not None,
        "--margin": args.margin is not None,
        "--unpaired": args.paired is False,
        "--correction": args.correction != "holm",
    }
    given = [flag for flag, present in conflicts.items() if present]
    if given:
        raise UserError(
            f"{', '.join(given)} do(es) not apply with --over-steps (paired by seed at every "
            "logged step; one simultaneous band per variant, Bonferroni over variants)"
        )


def compare_settings(args: argparse.Namespace) -> CompareSettings:
    """The flags of :func:`add_arguments` as one
    :class:`~harness.report.comparison_view.CompareSettings`.

    Raises:
        UserError: flags that do not go together.
    """
    from harness.report.comparison_view import CompareSettings, CompareView

    view: CompareView
    if args.over_steps:
        check_over_steps(args)
        view = "over_steps"
    elif args.sequential:
        check_sequential(args)
        view = "sequential"
    else:
        if args.max_seeds is not None:
            raise UserError("--max-seeds applies only with --sequential")
        view = "fixed"
    return CompareSettings(
        path=args.path,
        runs_dir=args.runs_dir,
        options=compare_options(args),
        view=view,
        max_seeds=args.max_seeds,
        format=args.format,
    )


def run(args: argparse.Namespace) -> int:
    from harness.report.comparison_view import show_comparison

    return show_comparison(compare_settings(args))
