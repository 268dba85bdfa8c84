"""Smoothing a curve over training steps, not over logged points (issue 32, item 1).

wandb's and TensorBoard's smoothing slider is an exponential moving average over *logged
points*: weight ``w`` per point. A run logged every 10 steps is then smoothed over ten times
fewer steps than one logged every 100, and two identical curves logged at different intervals
get different smoothed values (the coarser one lags more). Here the constant is a half-life in
steps, and the average is the continuous one of the curve drawn through the logged points:

    y(s) = integral of lambda·exp(-lambda·(s - u))·g(u) du,   lambda = ln 2 / half_life,

where ``g`` joins the logged points by straight lines. Every run's average starts at one
origin, the latest first logged step of the runs smoothed together (``y(origin) = g(origin)``,
``g`` interpolated there): a run logged from step 10 and one from step 100 both start at 100,
so neither carries a history the other cannot have; the points before the origin are left
out of the smoothed curves. Over a segment of ``d`` steps from ``x_prev`` to ``x`` this is
the recursion of Eckner (2019, "Algorithms for unevenly spaced time series", EMA with linear
interpolation):

    a = exp(-lambda·d),  v = (1 - a) / (lambda·d),
    y = a·y_prev + (v - a)·x_prev + (1 - v)·x,        y(origin) = g(origin).

A curve that is straight between the points of the coarser grid therefore gets exactly the same
smoothed values at those points whether it was logged every 10 steps or every 100; a curved one
differs by the error of linear interpolation (second order in the logging interval), not by a
lag proportional to it.

``--smoothing`` keeps wandb's spelling: a weight ``w`` in (0, 1) is the decay per logging
interval of the coarsest run compared (``half_life = interval·ln 2 / ln(1/w)`` steps: the same
for every run), and a number of at least 1 is the half-life in steps itself.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from analysis.compare import AnalysisError

if TYPE_CHECKING:
    import polars as pl

#: Marks the origin points :func:`smooth_over_steps` adds for a run that did not log there.
ADDED = "_added_origin"


@dataclass(frozen=True, kw_only=True)
class Smoothing:
    """The EMA applied to every run's curve, on the step axis.

    Attributes:
        half_life: steps after which a value's weight has halved.
        weight: the ``--smoothing`` weight it came from (None when given as a half-life).
        interval: the logging interval (steps) the weight is per: the coarsest run's.
    """

    half_life: float
    weight: float | None = None
    interval: int | None = None

    def describe(self) -> str:
        """In words, for the method paragraph."""
        source = (
            f" (weight {self.weight:g} per {self.interval}-step logging interval of the "
            "coarsest run)"
            if self.weight is not None
            else ""
        )
        return f"an EMA over steps with a half-life of {self.half_life:.4g} steps{source}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "ema_steps",
            "half_life_steps": self.half_life,
            "weight": self.weight,
            "interval": self.interval,
        }


def resolve_smoothing(logged: pl.DataFrame, value: float) -> Smoothing | None:
    """``--smoothing`` as a :class:`Smoothing` for these runs; None for 0 (no smoothing).

    Args:
        logged: one row per run and logged step (``variant``, ``seed``, ``step``): the runs to
            be smoothed, every one with the same constant.
        value: 0 for none; a weight in (0, 1) per logging interval of the coarsest run (wandb's
            slider, read on the step axis); or a half-life in steps (at least 1).

    Raises:
        AnalysisError: a negative or non-finite value.
    """
    import polars as pl

    if not math.isfinite(value) or value < 0.0:
        raise AnalysisError(
            f"--smoothing must be a weight in [0, 1) or a half-life in steps (>= 1), got {value}"
        )
    if value == 0.0:
        return None
    if value >= 1.0:
        return Smoothing(half_life=float(value))
    runs = logged.group_by("variant", "seed").agg(pl.col("step").unique().sort())
    interval = max((_typical_gap(steps) for steps in runs["step"].to_list()), default=0) or 1
    return Smoothing(
        half_life=interval * math.log(2.0) / math.log(1.0 / value), weight=value, interval=interval
    )


def smooth_over_steps(
    logged: pl.DataFrame, metric: str, smoothing: Smoothing | None
) -> pl.DataFrame:
    """Each run's curve smoothed by the step-axis EMA of the module docstring.

    Args:
        logged: one row per run and step (``variant``, ``seed``, ``step``, ``metric``), sorted
            by run and step (:func:`analysis.curves.logged_values`, one value per step).
        metric: the value column.
        smoothing: the constant; None leaves the curves as they are.

    Returns:
        ``logged`` from the origin on (the latest first step of its runs), with ``metric``
        smoothed within each (variant, seed).
    """
    import polars as pl

    if smoothing is None or logged.height == 0:
        return logged
    origin = logged.group_by("variant", "seed").agg(pl.col("step").min())["step"].max()
    logged = _with_origin(logged, metric, origin)
    rate = math.log(2.0) / smoothing.half_life
    steps = logged["step"].to_numpy().astype(np.float64)
    values = logged[metric].to_numpy().astype(np.float64)
    new_run = logged.select(
        (pl.col("variant") != pl.col("variant").shift(1))
        | (pl.col("seed") != pl.col("seed").shift(1))
    )[:, 0].fill_null(True)
    starts = np.flatnonzero(new_run.to_numpy())
    smoothed = np.empty_like(values)
    for start, end in itertools.pairwise([*starts.tolist(), values.size]):
        smoothed[start:end] = _ema_linear(steps[start:end], values[start:end], rate)
    return logged.with_columns(pl.Series(metric, smoothed)).filter(~pl.col(ADDED)).drop(ADDED)


def _with_origin(logged: pl.DataFrame, metric: str, origin: Any) -> pl.DataFrame:
    """``logged`` from step ``origin`` on, each run starting with a point at ``origin``: its
    logged value there, else its curve interpolated linearly between its neighbours (a run
    whose first logged step is ``origin`` has it already). The added points are marked so
    that they can be dropped again after smoothing (column :data:`ADDED`)."""
    import polars as pl

    keys = ["variant", "seed"]
    before = (
        logged.filter(pl.col("step") <= origin)
        .group_by(keys)
        .agg(pl.col("step").last().alias("s0"), pl.col(metric).last().alias("x0"))
    )
    after = (
        logged.filter(pl.col("step") >= origin)
        .group_by(keys)
        .agg(pl.col("step").first().alias("s1"), pl.col(metric).first().alias("x1"))
    )
    ends = before.join(after, on=keys).filter(pl.col("s0") < origin)
    weight = (pl.lit(origin) - pl.col("s0")) / (pl.col("s1") - pl.col("s0"))
    start = ends.select(
        *keys,
        pl.lit(origin).cast(logged.schema["step"]).alias("step"),
        (pl.col("x0") + weight * (pl.col("x1") - pl.col("x0"))).alias(metric),
    )
    kept = logged.filter(pl.col("step") >= origin).with_columns(pl.lit(False).alias(ADDED))
    start = start.select(logged.columns).with_columns(pl.lit(True).alias(ADDED))
    return (
        pl.concat([kept, start], how="vertical_relaxed")
        .with_columns(pl.col(metric).cast(pl.Float64))
        .sort(*keys, "step")
    )


def _ema_linear(steps: np.ndarray, values: np.ndarray, rate: float) -> np.ndarray:
    """Eckner's linear-interpolation EMA of one run (steps increasing)."""
    gaps = np.diff(steps) * rate
    decay = np.exp(-gaps)
    with np.errstate(divide="ignore", invalid="ignore"):
        # (1 - a)/(lambda·d) -> 1 as the gap -> 0; expm1 keeps it exact for small gaps.
        mean_weight = np.where(gaps > 0, -np.expm1(-gaps) / gaps, 1.0)
    out = np.empty_like(values)
    out[0] = current = values[0]
    for j in range(1, values.size):
        a, v = decay[j - 1], mean_weight[j - 1]
        current = a * current + (v - a) * values[j - 1] + (1.0 - v) * values[j]
        out[j] = current
    return out


def _typical_gap(steps: list[int]) -> int:
    """The most common gap between a run's logged steps (0 for a single step)."""
    gaps = [b - a for a, b in itertools.pairwise(steps)]
    return max(set(gaps), key=gaps.count) if gaps else 0
