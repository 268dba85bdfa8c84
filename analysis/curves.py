"""From logged curves to one value per run, and curve summaries across seeds.

A curves table is long: ``variant``, ``seed``, ``step`` and one column per metric, null where
a metric was not logged at that step (``harness.store.load_curves``, or any file with those
columns).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from analysis.compare import AnalysisError
from analysis.stats import t_quantile

if TYPE_CHECKING:
    import polars as pl

AGG_HELP = (
    "final | min | last:K (mean of the last K logged values; of the last K steps every run "
    "logged when runs log at different steps) | step:S (value at step S)"
)


@dataclass(frozen=True, kw_only=True)
class Aggregation:
    """How a curve becomes one number per run.

    Attributes:
        kind: ``final`` (last logged value), ``min`` (smallest value), ``last`` (mean of the
            last ``count`` logged values) or ``step`` (the value logged at ``step``).
        count: K for ``last:K``.
        step: S for ``step:S``.
    """

    kind: Literal["final", "min", "last", "step"]
    count: int | None = None
    step: int | None = None

    def __str__(self) -> str:
        if self.kind == "last":
            return f"last:{self.count}"
        if self.kind == "step":
            return f"step:{self.step}"
        return self.kind


def parse_agg(text: str) -> Aggregation:
    """Parse ``final``, ``min``, ``last:K`` or ``step:S``.

    Raises:
        AnalysisError: anything else.
    """
    text = text.strip()
    if text in ("final", "min"):
        return Aggregation(kind=text)  # type: ignore[arg-type]
    match = re.fullmatch(r"(last|step):(\d+)", text)
    if match:
        number = int(match.group(2))
        if match.group(1) == "last":
            if number < 1:
                raise AnalysisError("last:K needs K >= 1")
            return Aggregation(kind="last", count=number)
        return Aggregation(kind="step", step=number)
    raise AnalysisError(f"unknown aggregation {text!r}; use {AGG_HELP}")


def aggregate_curves(curves: pl.DataFrame, metric: str, agg: str | Aggregation) -> pl.DataFrame:
    """One row per run (``variant``, ``seed``, ``metric``) from a curves table.

    Only steps where the metric was logged (non-null, finite) count, in step order. When the
    runs log on different step grids (within the steps they all cover, their logged steps
    differ: one logs every 10 steps, another every 100), ``min`` and ``last:K`` are taken over
    the steps every run logged, so that a finer grid does not see more noise minima or a
    shorter window (issue 32); on one grid (runs of different lengths included) every logged
    point counts, as before.

    Args:
        curves: columns ``variant``, ``seed``, ``step``, ``metric``.
        metric: the metric column.
        agg: an :class:`Aggregation` or its text form.

    Raises:
        AnalysisError: a missing column, a bad aggregation, (``step:S``) runs that did not
            log the metric at step S, or (``min``, ``last:K``) runs on different step grids
            that share too few steps to align.
    """
    import polars as pl

    aggregation = parse_agg(agg) if isinstance(agg, str) else agg
    logged = logged_values(curves, metric)
    keys = ["variant", "seed"]
    if aggregation.kind == "final":
        expression = pl.col(metric).last()
    elif aggregation.kind == "min":
        logged = on_common_steps(logged, metric, needed=1, agg=str(aggregation))
        expression = pl.col(metric).min()
    elif aggregation.kind == "last":
        count = aggregation.count or 1
        logged = on_common_steps(logged, metric, needed=count, agg=str(aggregation))
        expression = pl.col(metric).tail(count).mean()
    else:
        at_step = logged.filter(pl.col("step") == aggregation.step)
        runs = logged.select(keys).unique()
        absent = runs.join(at_step.select(keys), on=keys, how="anti")
        if absent.height:
            steps = logged["step"].unique().sort()
            nearest = steps.filter(steps <= aggregation.step).tail(1).to_list()
            nearest += steps.filter(steps > aggregation.step).head(1).to_list()
            example = absent.sort(keys).row(0)
            raise AnalysisError(
                f"{absent.height} run(s) did not log {metric} at step {aggregation.step} "
                f"(e.g. {example[0]} seed {example[1]}); nearest logged steps: "
                f"{', '.join(map(str, nearest)) or 'none'}"
            )
        return at_step.select([*keys, metric])
    return logged.group_by(keys, maintain_order=True).agg(expression)


def on_common_steps(logged: pl.DataFrame, metric: str, *, needed: int, agg: str) -> pl.DataFrame:
    """``logged`` as it is when every run logs on one step grid, else only the steps every run
    logged: the alignment of runs with different logging intervals.

    Runs are on one grid when, within the steps they all cover (the latest first step to the
    earliest last step), each logged the same steps; a run that stopped early does not make
    a different grid.

    Args:
        logged: from :func:`logged_values`.
        metric: the value column (for the message).
        needed: the fewest common steps the aggregation needs.
        agg: the aggregation's text (for the message).

    Raises:
        AnalysisError: different grids with fewer than ``needed`` common steps, saying what
            to do.
    """
    import polars as pl

    runs = logged.group_by("variant", "seed", maintain_order=True).agg(pl.col("step"))
    grids = [set(steps) for steps in runs["step"].to_list()]
    if len(grids) < 2:
        return logged
    low = max(min(g) for g in grids)
    high = min(max(g) for g in grids)
    covered = [frozenset(s for s in g if low <= s <= high) for g in grids]
    if len(set(covered)) == 1:
        return logged
    common = sorted(set.intersection(*grids))
    if len(common) < needed:
        intervals = sorted({_interval(g) for g in grids})
        raise AnalysisError(
            f"runs log {metric} at different steps (every {', '.join(map(str, intervals))} "
            f"steps) and share {len(common)} step(s), too few for --agg {agg}: log it at the "
            "same steps in every run (one logging interval for every variant), or aggregate "
            "with --agg final or --agg step:S at a step every run logged"
        )
    return logged.filter(pl.col("step").is_in(common))


def _interval(steps: set[int]) -> int:
    """The most common gap between a run's logged steps (0 for a single step)."""
    ordered = sorted(steps)
    gaps = [b - a for a, b in itertools.pairwise(ordered)]
    return max(set(gaps), key=gaps.count) if gaps else 0


def logged_values(curves: pl.DataFrame, metric: str) -> pl.DataFrame:
    """The steps at which each run logged ``metric``: columns ``variant``, ``seed``, ``step``,
    ``metric`` (Float64), null and non-finite values dropped, sorted by run and step.

    Raises:
        AnalysisError: a missing column.
    """
    import polars as pl

    missing = [c for c in ("variant", "seed", "step", metric) if c not in curves.columns]
    if missing:
        raise AnalysisError(
            f"the curves table has no column {', '.join(missing)}; "
            f"columns: {', '.join(curves.columns)}"
        )
    value = pl.col(metric).cast(pl.Float64)
    return (
        curves.select("variant", "seed", "step", value)
        .filter(pl.col(metric).is_not_null() & pl.col(metric).is_finite())
        .sort("variant", "seed", "step")
    )


def smooth_ema(logged: pl.DataFrame, metric: str, weight: float) -> pl.DataFrame:
    """Each run's curve smoothed by the debiased exponential moving average of wandb's and
    TensorBoard's "exponential moving average" smoothing slider.

    Over a run's logged points ``x_1 .. x_t`` in step order the smoothed value is
    ``sum_j weight^(t-j) x_j / sum_j weight^(t-j)``: the plain EMA
    ``y_t = weight·y_(t-1) + (1 - weight)·x_t`` divided by ``1 - weight^t`` so that the first
    points are not pulled towards zero. It runs over logged points, not steps: a curve logged
    every 25 steps is smoothed over its 25-step points.

    Args:
        logged: from :func:`logged_values` (one row per run and step, sorted).
        metric: the value column.
        weight: the smoothing weight in [0, 1); 0 leaves the curves as they are.

    Returns:
        ``logged`` with ``metric`` smoothed within each (variant, seed).

    Raises:
        AnalysisError: a weight outside [0, 1).
    """
    import polars as pl

    if not 0.0 <= weight < 1.0:
        raise AnalysisError(f"the smoothing weight must be in [0, 1), got {weight}")
    if weight == 0.0:
        return logged
    # ewm_mean with adjust=True is exactly the debiased sum above, with alpha = 1 - weight.
    smoothed = pl.col(metric).ewm_mean(alpha=1.0 - weight, adjust=True).over("variant", "seed")
    return logged.with_columns(smoothed.alias(metric))


def curve_bands(curves: pl.DataFrame, metric: str, *, alpha: float = 0.05) -> pl.DataFrame:
    """Mean curve per variant with a t-based ``1 - alpha`` CI band across seeds.

    Returns:
        Columns ``variant``, ``step``, ``n``, ``mean``, ``sd``, ``ci_low``, ``ci_high``; the
        band is null at steps logged by fewer than 2 seeds.
    """
    import numpy as np
    import polars as pl

    bands = (
        curves.select("variant", "step", pl.col(metric).cast(pl.Float64))
        .filter(pl.col(metric).is_not_null() & pl.col(metric).is_finite())
        .group_by("variant", "step")
        .agg(
            pl.len().alias("n"),
            pl.col(metric).mean().alias("mean"),
            pl.col(metric).std().alias("sd"),
        )
        .sort("variant", "step")
    )
    n = bands["n"].to_numpy().astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        critical = np.where(n >= 2, t_quantile(1 - alpha / 2, n - 1), np.nan)
    half = pl.Series("half", critical) * bands["sd"] / pl.Series(np.sqrt(n))
    return bands.with_columns(
        (pl.col("mean") - half).alias("ci_low"), (pl.col("mean") + half).alias("ci_high")
    ).with_columns(pl.col("ci_low", "ci_high").fill_nan(None))
