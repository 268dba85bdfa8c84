"""Differences from the baseline over training: :func:`analysis.compare_over_steps` on a
study's curves, for ``harness compare --over-steps`` (one metric) and the report's panels
(every metric with a curve). :mod:`harness.report.over_steps` renders them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

    from analysis import ComparisonResult, OverStepsResult
    from harness.results.comparison import CompareOptions, Prepared


def over_steps_of(prepared: Prepared, options: CompareOptions) -> OverStepsResult:
    """:func:`analysis.compare_over_steps` on the curves of ``prepared`` (from
    :func:`harness.results.comparison.prepare`), with its metric, baseline and direction.

    Raises:
        UserError: no curves, a metric logged at one step only, or anything the analysis
            rejects.
    """
    import numpy as np

    from analysis import AnalysisError, compare_over_steps
    from harness.errors import UserError

    curves = prepared.inputs.curves()
    if curves is None:
        raise UserError(
            f"--over-steps needs curves: a study directory, or a file with a 'step' column "
            f"({prepared.inputs.source} has one value per run)"
        )
    if prepared.baseline is None:
        raise UserError("--over-steps needs a baseline: pass --baseline")
    if prepared.metric not in curves.columns:
        raise UserError(f"no curve of {prepared.metric} in {prepared.inputs.source}")
    try:
        result = compare_over_steps(
            curves,
            metric=prepared.metric,
            baseline=prepared.baseline,
            alpha=options.alpha,
            direction=prepared.direction,
            smoothing=options.smoothing,
            # Sign patterns are enumerated up to 12 seeds; a fixed generator makes the draw
            # beyond that reproducible.
            rng=np.random.default_rng(0),
            lost=prepared.inputs.statuses,
        )
    except AnalysisError as error:
        raise UserError(str(error)) from None
    if max(v.n_steps for v in result.variants) < 2:
        raise UserError(
            f"{prepared.metric} was logged at one step only: there is no curve to compare; pick "
            "a metric logged during training (e.g. --metric train_loss) or, for the built-in "
            "trainer, validate during training with --set base.train.eval_interval=N"
        )
    return result


def report_results(
    result: ComparisonResult,
    curves: pl.DataFrame,
    metrics: list[str],
    *,
    smoothing: float,
    lost: pl.DataFrame | None = None,
) -> dict[str, OverStepsResult]:
    """:func:`analysis.compare_over_steps` for each of ``metrics`` that has a curve of at least
    two steps for the baseline and every compared variant; the others are left out. ``lost``:
    every planned run's status, for the worst-case rule for lost runs."""
    import numpy as np

    from analysis import AnalysisError, compare_over_steps

    variants = [v.variant for v in result.variants if v.variant != result.baseline]
    found = {}
    for metric in metrics:
        try:
            over = compare_over_steps(
                curves,
                metric=metric,
                baseline=result.baseline,
                alpha=result.alpha,
                direction=result.direction,
                smoothing=smoothing,
                variants=variants,
                rng=np.random.default_rng(0),
                lost=lost,
            )
        except AnalysisError:
            continue
        if over.variants and min(v.n_steps for v in over.variants) >= 2:
            found[metric] = over
    return found
