"""What ``harness compare`` and ``harness report`` share: load a study or results file, resolve
metric, baseline and direction, and run the comparison with the options the user chose.

The commands translate their flags into :class:`CompareOptions`; everything below works on it,
never on argparse. Imports nothing heavy at module level: ``harness compare`` stays fast and
never imports torch.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from analysis.verdict import Direction, as_direction
from harness.errors import UserError

if TYPE_CHECKING:
    import polars as pl

    from analysis import ComparisonResult, SequentialReport
    from harness.results.load import Inputs


@dataclass(frozen=True, kw_only=True)
class CompareOptions:
    """How to compare: the analysis options of ``harness compare`` and ``harness report``.

    Attributes:
        metric: the metric column; None for the study's (or a file's only metric).
        agg: how a curve becomes one value per run: ``final``, ``min``, ``last:K``, ``step:S``.
        baseline: the reference variant; None for the study's (else the first variant).
        direction: whether lower or higher is better; None for the study's, else minimize.
        alpha: family-wise error level of the whole comparison; CIs are ``1 - alpha``.
        margin: equivalence margin in metric units (enables the TOST ``equivalent`` verdict).
        paired: force the paired t-test (True) or Welch's (False); None decides by the seeds.
        correction: multiplicity correction, ``holm`` (family-wise) or ``bh`` (FDR).
        smoothing: EMA weight in [0, 1) applied to each run's curve before the differences
            over training (``compare --over-steps``, the report's panels); 0 for none.
    """

    metric: str | None = None
    agg: str = "final"
    baseline: str | None = None
    direction: Direction | None = None
    alpha: float = 0.05
    margin: float | None = None
    paired: bool | None = None
    correction: Literal["holm", "bh"] = "holm"
    smoothing: float = 0.0


@dataclass(frozen=True, kw_only=True)
class Prepared:
    """What the analysis runs on: the input, one row per run, and the resolved defaults.

    Attributes:
        inputs: the loaded study or results file.
        table: one row per run with the metric (aggregated from curves where needed).
        metric: the metric compared.
        baseline: the reference variant; None only for a table without variants.
        direction: whether lower or higher is better.
    """

    inputs: Inputs
    table: pl.DataFrame
    metric: str
    baseline: str | None
    direction: Direction


def prepare(path: str | None, options: CompareOptions, *, runs_dir: str | None = None) -> Prepared:
    """Load the input at ``path`` and resolve metric, baseline and direction.

    Args:
        path: a results file, a study directory, a study name under the runs root, or None
            for the most recently modified study.
        options: the comparison options (metric, agg, baseline and direction are used here).
        runs_dir: the runs root override.

    Returns:
        The prepared input. A baseline guessed as the first variant is said on stderr.

    Raises:
        UserError: unreadable input, an unknown metric, a bad direction.
    """
    from harness.results.load import default_metric, load_inputs, metric_table

    inputs = load_inputs(path, runs_dir=runs_dir)
    metric = default_metric(inputs, options.metric)
    table = metric_table(inputs, metric, options.agg)
    baseline = options.baseline or (inputs.meta.baseline if inputs.meta else None)
    if baseline is None and "variant" in table.columns and table.height:
        baseline = str(table["variant"][0])
        print(f"baseline: {baseline} (the first variant; pass --baseline)", file=sys.stderr)
    chosen = options.direction or (inputs.meta.direction if inputs.meta else Direction.MINIMIZE)
    try:
        direction = as_direction(chosen)
    except ValueError as error:
        raise UserError(str(error)) from None
    return Prepared(
        inputs=inputs, table=table, metric=metric, baseline=baseline, direction=direction
    )


def compare_prepared(prepared: Prepared, options: CompareOptions) -> ComparisonResult:
    """:func:`analysis.compare` on ``prepared`` with ``options``.

    Returns:
        The comparison of every variant against the baseline and of every pair.

    Raises:
        UserError: anything :func:`analysis.compare` rejects.
    """
    from analysis import AnalysisError, compare

    try:
        return compare(
            prepared.table,
            metric=prepared.metric,
            baseline=prepared.baseline,
            alpha=options.alpha,
            paired=options.paired,
            margin=options.margin,
            direction=prepared.direction,
            correction=options.correction,
            lost=prepared.inputs.statuses,
        )
    except AnalysisError as error:
        raise UserError(str(error)) from None


def compare_sequential(
    prepared: Prepared, options: CompareOptions, *, max_seeds: int | None
) -> SequentialReport:
    """:func:`analysis.sequential_compare` of every variant of ``prepared`` against the baseline.

    Args:
        prepared: the input, from :func:`prepare`.
        options: the comparison options (alpha and margin are used; the sequential test is
            paired by seed and splits alpha over the comparisons, so ``paired`` and
            ``correction`` do not apply).
        max_seeds: a comparison still undecided at this many paired seeds is inconclusive;
            None for no budget.

    Returns:
        The anytime-valid report.

    Raises:
        UserError: the baseline has no runs, there is nothing to compare it with, or the
            table cannot be compared sequentially.
    """
    import polars as pl

    from analysis import sequential_compare

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
    recorded = _recorded_group_sequential(prepared, others)
    if recorded is not None:
        return recorded
    try:
        return sequential_compare(
            table.select(
                pl.col("variant").cast(pl.Utf8), pl.col("seed").cast(pl.Int64), prepared.metric
            ),
            metric=prepared.metric,
            baseline=str(prepared.baseline),
            alpha=options.alpha,
            margin=options.margin,
            direction=prepared.direction,
            max_seeds=max_seeds,
            variants=others,
            lost=prepared.inputs.statuses,
        )
    except ValueError as error:
        raise UserError(f"cannot compare sequentially: {error}") from None


def _recorded_group_sequential(prepared: Prepared, others: list[str]) -> SequentialReport | None:
    """The group-sequential report of a study whose ``--until-decided`` run stored that design
    and its looks (``harness.store.SequentialLooks``); None for any other input, which gets
    the anytime-valid design. The stored design (alpha, budget, margin) is the one decided
    on, so it is used as stored."""
    import polars as pl

    from analysis.group_sequential import GroupSequentialDesign
    from analysis.group_sequential_report import group_sequential_compare
    from harness.store import read_sequential_looks

    meta = prepared.inputs.meta
    if prepared.inputs.study_dir is None or (meta is not None and prepared.metric != meta.metric):
        return None  # the stored design decided on the study's own metric only
    record = read_sequential_looks(prepared.inputs.study_dir)
    if record is None or record.design != "group-sequential":
        return None
    try:
        design = GroupSequentialDesign.from_dict(dict(record.settings))
        return group_sequential_compare(
            prepared.table.select(
                pl.col("variant").cast(pl.Utf8), pl.col("seed").cast(pl.Int64), prepared.metric
            ),
            metric=prepared.metric,
            baseline=str(prepared.baseline),
            design=design,
            looks=record.looks,
            direction=prepared.direction,
            variants=[v for v in record.looks if v in others] or others,
            lost=prepared.inputs.statuses,
        )
    except (TypeError, ValueError) as error:
        raise UserError(f"cannot redo the stored group-sequential design: {error}") from None
