"""``harness compare [STUDY_DIR_OR_FILE] --metric val_loss``: variants against seed noise.

Effect sizes with CIs against the baseline, paired by seed when seeds are shared, one
multiplicity family for verdicts and tiers, and how many seeds would settle what is still
open. The statistics are in :mod:`analysis.compare` and docs/analysis.md. ``--sequential``
gives the anytime-valid verdicts of :mod:`analysis.sequential` instead (docs/sequential.md);
``--over-steps`` the paired differences at every logged step, with a simultaneous band
(:mod:`analysis.over_steps`, docs/analysis.md "Over training").
This module only turns flags into :class:`harness.report.comparison.CompareOptions`; loading
and comparing are in :mod:`harness.report.comparison`. Never imports torch.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from harness.commands._common import add_runs_dir
from harness.errors import UserError

if TYPE_CHECKING:
    from harness.report.comparison import CompareOptions


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
        help="how a curve becomes one value per run: final | min | last:K (mean of the last "
        "K logged values) | step:S (value at step S) (default: final)",
    )
    parser.add_argument("--baseline", default=None, help="reference variant (default: the study's)")
    parser.add_argument(
        "--direction",
        choices=("minimize", "maximize"),
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
        help="EMA weight in [0, 1) for differences over training (compare --over-steps, the "
        "report's curves): wandb's debiased exponential moving average (default 0: none)",
    )


def compare_options(args: argparse.Namespace) -> CompareOptions:
    """The options of :func:`add_analysis_arguments` as :class:`CompareOptions`."""
    from harness.report.comparison import CompareOptions

    if not 0.0 <= args.smoothing < 1.0:
        raise UserError(f"--smoothing must be in [0, 1), got {args.smoothing}")
    return CompareOptions(
        metric=args.metric,
        agg=args.agg,
        baseline=args.baseline,
        direction=args.direction,
        alpha=args.alpha,
        margin=args.margin,
        paired=args.paired,
        correction=args.correction,
        smoothing=args.smoothing,
    )


def run_sequential(args: argparse.Namespace) -> int:
    """``--sequential``: :func:`analysis.sequential_compare` on every non-baseline variant."""
    from rich.console import Console

    from harness.report.comparison import compare_sequential, prepare
    from harness.report.sequential_view import print_report

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
    options = compare_options(args)
    prepared = prepare(args.path, options, runs_dir=args.runs_dir)
    report = compare_sequential(prepared, options, max_seeds=args.max_seeds)
    out = sys.stdout
    console = Console(
        file=out,
        width=None if out.isatty() else 160,
        highlight=False,
        soft_wrap=args.format != "table",
    )
    print_report(report, console, fmt=args.format)
    return 0


def run_over_steps(args: argparse.Namespace) -> int:
    """``--over-steps``: :func:`analysis.compare_over_steps`, every variant against the
    baseline at every logged step."""
    from harness.report.comparison import prepare
    from harness.report.over_steps import over_steps_of, render

    conflicts = {
        "--sequential": args.sequential,
        "--max-seeds": args.max_seeds is not None,
        "--agg": args.agg != "final",
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
    options = compare_options(args)
    prepared = prepare(args.path, options, runs_dir=args.runs_dir)
    render(over_steps_of(prepared, options), args.format, step_axis=prepared.inputs.step_axis())
    return 0


def run(args: argparse.Namespace) -> int:
    from harness.report.comparison import compare_prepared, prepare
    from harness.report.factorial import compare_factorial, render_factorial
    from harness.report.text import render

    if args.over_steps:
        return run_over_steps(args)
    if args.sequential:
        return run_sequential(args)
    if args.max_seeds is not None:
        raise UserError("--max-seeds applies only with --sequential")
    options = compare_options(args)
    prepared = prepare(args.path, options, runs_dir=args.runs_dir)
    factorial = compare_factorial(prepared, options)  # None unless a [factors] study
    if factorial is not None:
        render_factorial(factorial, args.format)
        return 0
    result = compare_prepared(prepared, options)
    render(result, args.format)
    return 0
