"""``harness compare [STUDY_DIR_OR_FILE] --metric val_loss``: variants against seed noise.

Effect sizes with CIs against the baseline, paired by seed when seeds are shared, one
multiplicity family for verdicts and tiers, and how many seeds would settle what is still
open. The statistics are in :mod:`analysis.compare` and docs/analysis.md. ``--sequential``
gives the anytime-valid verdicts of :mod:`analysis.sequential` instead (docs/sequential.md).
Never imports torch.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from harness.commands._common import add_runs_dir
from harness.errors import UserError

if TYPE_CHECKING:
    import polars as pl

    from analysis import ComparisonResult
    from harness.report.load import Inputs


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


@dataclass(kw_only=True)
class Prepared:
    """What the analysis runs on: the input, one row per run, and the resolved defaults."""

    inputs: Inputs
    table: pl.DataFrame
    metric: str
    baseline: str | None
    direction: str


def prepare(args: argparse.Namespace) -> Prepared:
    """Load the input named by ``args`` and resolve metric, baseline and direction.

    Raises:
        UserError: unreadable input, an unknown metric, a bad direction.
    """
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
    return Prepared(
        inputs=inputs, table=table, metric=metric, baseline=baseline, direction=direction
    )


def compare_prepared(prepared: Prepared, args: argparse.Namespace) -> ComparisonResult:
    """:func:`analysis.compare` with the options in ``args``.

    Raises:
        UserError: anything :func:`analysis.compare` rejects.
    """
    from analysis import AnalysisError, compare

    try:
        return compare(
            prepared.table,
            metric=prepared.metric,
            baseline=prepared.baseline,
            alpha=args.alpha,
            paired=args.paired,
            margin=args.margin,
            direction=prepared.direction,  # type: ignore[arg-type]  # checked in prepare
            correction=args.correction,
        )
    except AnalysisError as error:
        raise UserError(str(error)) from None


def analyse(args: argparse.Namespace) -> tuple[Inputs, ComparisonResult]:
    """Load the input named by ``args`` and compare. Returns ``(inputs, result)``.

    Raises:
        UserError: unreadable input or anything :func:`analysis.compare` rejects.
    """
    prepared = prepare(args)
    return prepared.inputs, compare_prepared(prepared, args)


def run_sequential(args: argparse.Namespace) -> int:
    """``--sequential``: :func:`analysis.sequential_compare` on every non-baseline variant."""
    import polars as pl
    from rich.console import Console

    from analysis import sequential_compare
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
    prepared = prepare(args)
    table = prepared.table
    variants = table["variant"].cast(str).unique(maintain_order=True).to_list()
    if prepared.baseline not in variants:
        raise UserError(
            f"baseline '{prepared.baseline}' has no runs with {prepared.metric} "
            f"(variants: {', '.join(variants)})"
        )
    others = [v for v in variants if v != prepared.baseline]
    if not others:
        raise UserError("--sequential needs at least one variant besides the baseline")
    try:
        report = sequential_compare(
            table.select(
                pl.col("variant").cast(pl.Utf8), pl.col("seed").cast(pl.Int64), prepared.metric
            ),
            metric=prepared.metric,
            baseline=str(prepared.baseline),
            alpha=args.alpha,
            margin=args.margin,
            direction=prepared.direction,  # type: ignore[arg-type]  # checked in prepare
            max_seeds=args.max_seeds,
            variants=others,
        )
    except ValueError as error:
        raise UserError(f"cannot compare sequentially: {error}") from None
    out = sys.stdout
    console = Console(
        file=out,
        width=None if out.isatty() else 160,
        highlight=False,
        soft_wrap=args.format != "table",
    )
    print_report(report, console, fmt=args.format)
    return 0


def run(args: argparse.Namespace) -> int:
    from harness.report.text import render

    if args.sequential:
        return run_sequential(args)
    if args.max_seeds is not None:
        raise UserError("--max-seeds applies only with --sequential")
    _, result = analyse(args)
    render(result, args.format)
    return 0
