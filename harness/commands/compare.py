"""``harness compare [STUDY_DIR_OR_FILE] --metric val_loss``: variants against seed noise.

Effect sizes with CIs against the baseline, paired by seed when seeds are shared, one
multiplicity family for verdicts and tiers, and how many seeds would settle what is still
open. The statistics are in :mod:`analysis.compare` and docs/analysis.md. Never imports torch.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from harness.commands._common import add_runs_dir
from harness.errors import UserError

if TYPE_CHECKING:
    from analysis import ComparisonResult


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
        help="output format (default: a table in the terminal)",
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


def analyse(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """Load the input named by ``args`` and compare. Returns ``(inputs, result)``.

    Raises:
        UserError: unreadable input or anything :func:`analysis.compare` rejects.
    """
    from analysis import AnalysisError, compare
    from harness.report.load import default_metric, load_inputs, metric_table

    inputs = load_inputs(args.path, runs_dir=args.runs_dir)
    metric = default_metric(inputs, args.metric)
    table = metric_table(inputs, metric, args.agg)
    baseline = args.baseline or inputs.meta.get("baseline")
    if baseline is None and "variant" in table.columns and table.height:
        baseline = str(table["variant"][0])
        print(f"baseline: {baseline} (the first variant; pass --baseline)", file=sys.stderr)
    direction = args.direction or inputs.meta.get("direction") or "minimize"
    if direction not in ("minimize", "maximize"):
        raise UserError(f"direction must be 'minimize' or 'maximize', got {direction!r}")
    try:
        result: ComparisonResult = compare(
            table,
            metric=metric,
            baseline=baseline,
            alpha=args.alpha,
            paired=args.paired,
            margin=args.margin,
            direction=direction,  # type: ignore[arg-type]  # checked above
            correction=args.correction,
        )
    except AnalysisError as error:
        raise UserError(str(error)) from None
    return inputs, result


def run(args: argparse.Namespace) -> int:
    from harness.report.text import render

    _, result = analyse(args)
    render(result, args.format)
    return 0
