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
    "final | min | mean | last:K (mean of the last K logged values; of the last K steps every "
    "run logged when runs log at different steps) | step:S (value at step S) | at:step=N or "
    "at:tokens=N (value last logged at or before step N, or N tokens: matched compute)"
)
#: The axes ``at:AXIS=N`` matches runs on: ``step``, or ``tokens`` (a cumulative ``tokens``
#: metric in the curves).
AT_AXES = ("step", "tokens")


@dataclass(frozen=True, kw_only=True)
class Aggregation:
    """How a curve becomes one number per run.

    Attributes:
        kind: ``final`` (last logged value), ``min`` (smallest value), ``mean`` (mean over the
            steps every run logged), ``last`` (mean of the last ``count`` logged values),
            ``step`` (the value logged at ``step``) or ``at`` (the value last logged at or
            before ``at`` on the ``axis``: matched compute).
        count: K for ``last:K``.
        step: S for ``step:S``.
        axis: ``step`` or ``tokens`` for ``at:AXIS=N``.
        at: N for ``at:AXIS=N``.
    """

    kind: Literal["final", "min", "mean", "last", "step", "at"]
    count: int | None = None
    step: int | None = None
    axis: str | None = None
    at: int | None = None

    def __str__(self) -> str:
        if self.kind == "last":
            return f"last:{self.count}"
        if self.kind == "step":
            return f"step:{self.step}"
        if self.kind == "at":
            return f"at:{self.axis}={self.at}"
        return self.kind


def parse_agg(text: str) -> Aggregation:
    """Parse ``final``, ``min``, ``mean``, ``last:K``, ``step:S`` or ``at:AXIS=N``.

    Raises:
        AnalysisError: anything else.
    """
    text = text.strip()
    if text in ("final", "min", "mean"):
        return Aggregation(kind=text)  # type: ignore[arg-type]
    at = re.fullmatch(r"at:(\w+)=([0-9_,]+)", text)
    if at:
        if at.group(1) not in AT_AXES:
            raise AnalysisError(
                f"unknown axis {at.group(1)!r} in {text!r}; match runs at step=N or tokens=N"
            )
        number = int(at.group(2).replace("_", "").replace(",", ""))
        if number < 1:
            raise AnalysisError(f"{text!r}: N must be at least 1")
        return Aggregation(kind="at", axis=at.group(1), at=number)
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
    point counts, as before. ``mean`` is always over the steps every run logged (the same
    stretch of training for every run). ``final`` is each run's last logged value; when runs
    on different grids end at different steps only because of their grids (the ends lie
    within the coarsest logging interval of each other), it is the value at the last step
    every run logged (:func:`on_last_common_step`). ``at:AXIS=N`` is :func:`value_at`.

    Args:
        curves: columns ``variant``, ``seed``, ``step``, ``metric``.
        metric: the metric column.
        agg: an :class:`Aggregation` or its text form.

    Raises:
        AnalysisError: a missing column, a bad aggregation, (``step:S``) runs that did not
            log the metric at step S, (``min``, ``last:K``, ``mean``) runs on different step
            grids that share too few steps to align, or (``at``) runs that never reached N.
    """
    import polars as pl

    aggregation = parse_agg(agg) if isinstance(agg, str) else agg
    if aggregation.kind == "at":
        at = value_at(curves, metric, axis=aggregation.axis or "step", at=aggregation.at or 0)
        return at.drop("at_step")
    logged = logged_values(curves, metric)
    keys = ["variant", "seed"]
    if aggregation.kind == "final":
        logged = on_last_common_step(logged, metric)
        expression = pl.col(metric).last()
    elif aggregation.kind == "mean":
        logged = on_every_runs_steps(logged, metric)
        expression = pl.col(metric).mean()
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


def on_every_runs_steps(logged: pl.DataFrame, metric: str) -> pl.DataFrame:
    """``logged`` at the steps every run logged: the same stretch of training for every run,
    whatever its logging interval or length (what ``mean`` averages over).

    Raises:
        AnalysisError: no step that every run logged, saying what to do.
    """
    import polars as pl

    runs = logged.group_by("variant", "seed", maintain_order=True).agg(pl.col("step"))
    grids = [set(steps) for steps in runs["step"].to_list()]
    if len(grids) < 2:
        return logged
    common = set.intersection(*grids)
    if not common:
        ends = sorted({max(g) for g in grids})
        raise AnalysisError(
            f"no step at which every run logged {metric} (runs log every "
            f"{', '.join(map(str, sorted({_interval(g) for g in grids})))} steps and end at "
            f"steps {', '.join(map(str, ends))}), so --agg mean would average different "
            "stretches of training: log it at the same steps in every run, or compare with "
            "--agg final or --at step=N"
        )
    return logged.filter(pl.col("step").is_in(sorted(common)))


def on_last_common_step(logged: pl.DataFrame, metric: str) -> pl.DataFrame:
    """``logged`` up to the last step every run logged, when the runs end at different steps
    only because they log on different grids (one every 30 steps ends at 990, one every 100
    at 1000): then each run's last value is at that step, the same training for every run.

    Runs on one grid that end at different steps trained for different lengths: that is left
    as it is (``final`` is the end of training; ``harness compare`` says the amounts differ
    and offers ``--at step=N``), as are runs whose ends differ by more than the coarsest
    logging interval.

    Raises:
        AnalysisError: the grids share no step within that interval of the ends.
    """
    import polars as pl

    runs = logged.group_by("variant", "seed", maintain_order=True).agg(pl.col("step"))
    grids = [set(steps) for steps in runs["step"].to_list()]
    if len(grids) < 2:
        return logged
    ends = [max(g) for g in grids]
    coarsest = max(_interval(g) for g in grids)
    if len(set(ends)) == 1 or max(ends) - min(ends) > coarsest:
        return logged
    low, high = max(min(g) for g in grids), min(ends)
    covered = {frozenset(s for s in g if low <= s <= high) for g in grids}
    if len(covered) == 1:
        return logged  # one grid: runs of different lengths
    last = max(set.intersection(*grids), default=None)
    if last is None or min(ends) - last > coarsest:
        raise AnalysisError(
            f"runs log {metric} at different steps (every "
            f"{', '.join(map(str, sorted({_interval(g) for g in grids})))} steps) and end at "
            f"different steps ({min(ends)} to {max(ends)}) with no recent step in common, so "
            "their last values are at different points of training: log it at the same steps "
            "in every run, or compare with --at step=N (the value last logged at or before N)"
        )
    return logged.filter(pl.col("step") <= last)


def value_at(curves: pl.DataFrame, metric: str, *, axis: str, at: int) -> pl.DataFrame:
    """One row per run: the value of ``metric`` last logged at or before step ``at`` (or, on the
    ``tokens`` axis, at or before the last step at which the run had seen at most ``at``
    tokens): the comparison at matched compute.

    A run that never reached ``at`` (its last step, or its largest ``tokens``, is smaller) is
    refused rather than compared at less training.

    Args:
        curves: columns ``variant``, ``seed``, ``step``, ``metric`` (and ``tokens`` for the
            tokens axis: cumulative tokens, logged with the step).
        metric: the metric column.
        axis: ``step`` or ``tokens``.
        at: N.

    Returns:
        Columns ``variant``, ``seed``, ``metric``, and ``at_step``: the step each value was
        logged at.

    Raises:
        AnalysisError: no ``tokens`` column for the tokens axis, runs that never reached N,
            or runs that logged the metric only after N.
    """
    import polars as pl

    keys = ["variant", "seed"]
    if axis == "tokens" and "tokens" not in curves.columns:
        raise AnalysisError(
            "--at tokens=N needs a 'tokens' metric in the curves (the tokens seen so far, "
            f"logged with the step); found: {', '.join(curves.columns)}; use --at step=N"
        )
    logged = logged_values(curves, metric)
    if axis == "step":
        reach = curves.group_by(keys).agg(pl.col("step").max().cast(pl.Float64).alias("reached"))
        limits = reach.with_columns(pl.lit(at, dtype=pl.Int64).alias("limit"))
    else:
        tokens = logged_values(curves, "tokens")
        reach = tokens.group_by(keys).agg(pl.col("tokens").max().alias("reached"))
        limits = reach.join(
            tokens.filter(pl.col("tokens") <= at)
            .group_by(keys)
            .agg(pl.col("step").max().alias("limit")),
            on=keys,
            how="left",
        )
    unit = "steps" if axis == "step" else "tokens"
    uncounted = logged.select(keys).unique().join(reach, on=keys, how="anti").sort(keys)
    if uncounted.height:
        example = uncounted.row(0)
        raise AnalysisError(
            f"{uncounted.height} run(s) logged {metric} but no {axis} (e.g. {example[0]} seed "
            f"{example[1]}), so how far they got is unknown: log it in every run, or use "
            "--at step=N"
        )
    short = reach.filter(pl.col("reached") < at).sort(keys)
    if short.height:
        fewest = int(reach["reached"].min())  # type: ignore[arg-type]
        example = short.row(0)
        raise AnalysisError(
            f"{short.height} run(s) never reached {at:,} {unit} (e.g. {example[0]} seed "
            f"{example[1]} stopped at {int(example[2]):,}), and comparing them at less "
            f"training would not match compute: compare at --at {axis}={fewest} or below "
            "(the most every run reached), or at the end (--agg final)"
        )
    joined = logged.join(limits.select([*keys, "limit"]), on=keys, how="left").filter(
        pl.col("step") <= pl.col("limit")
    )
    values = joined.group_by(keys, maintain_order=True).agg(
        pl.col(metric).last(), pl.col("step").last().alias("at_step")
    )
    missing = reach.select(keys).join(values.select(keys), on=keys, how="anti").sort(keys)
    if missing.height:
        example = missing.row(0)
        raise AnalysisError(
            f"{missing.height} run(s) logged no {metric} at or before {at:,} {unit} (e.g. "
            f"{example[0]} seed {example[1]}): pick a later N, or a metric logged earlier"
        )
    return values


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
