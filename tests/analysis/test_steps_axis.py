"""Smoothing and aggregation follow steps, not logged points (issue 32, items 1 and 7)."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from analysis import AnalysisError, aggregate_curves, compare_over_steps
from analysis.curves import logged_values, parse_agg, value_at
from analysis.smoothing import resolve_smoothing, smooth_over_steps


def knots_curve(steps: np.ndarray) -> np.ndarray:
    """A falling curve, straight between multiples of 100 (what a 100-step grid can hold)."""
    knots = np.arange(0, 1001, 100)
    return np.interp(steps, knots, 3.0 + np.exp(-knots / 300))


def two_grids(
    curve=knots_curve, seeds: int = 3, fine: int = 10, coarse: int = 100, end: int = 1000
) -> pl.DataFrame:
    """Identical curves: ``base`` logged every ``fine`` steps, ``v`` every ``coarse``."""
    frames = []
    for variant, every in (("base", fine), ("v", coarse)):
        steps = np.arange(0, end + 1, every)
        for seed in range(seeds):
            frames.append(
                pl.DataFrame(
                    {"variant": variant, "seed": seed, "step": steps, "loss": curve(steps) + seed}
                )
            )
    return pl.concat(frames)


def test_identical_curves_logged_every_10_and_100_steps_smooth_to_the_same_values() -> None:
    # Before: the EMA ran over logged points (weight 0.6 per point), so the 100-step grid was
    # smoothed over ten times more training and lagged: differences of about 0.03 at step 100.
    curves = two_grids()
    result = compare_over_steps(
        curves, metric="loss", baseline="base", smoothing=0.6, rng=np.random.default_rng(0)
    )
    diffs = [row.diff for row in result.steps]
    assert [row.step for row in result.steps] == list(range(0, 1001, 100))
    assert max(abs(d) for d in diffs) < 1e-12
    assert result.smoothed is not None and result.smoothed.interval == 100
    assert "half-life of 135.7 steps" in result.method()


def test_a_straight_line_gets_the_continuous_emas_lag() -> None:
    # y' = lambda (x - y), y(0) = x(0), x = 5 - b s: y(s) = x(s) + b tau (1 - exp(-s / tau)),
    # tau = half_life / ln 2 (exact: the interpolation between points is the line itself).
    steps = np.array([0, 7, 10, 35, 100, 101, 250, 600])
    curves = pl.DataFrame({"variant": "a", "seed": 0, "step": steps, "loss": 5 - 0.002 * steps})
    logged = logged_values(curves, "loss")
    smoothed = smooth_over_steps(logged, "loss", resolve_smoothing(logged, 80.0))["loss"]
    tau = 80.0 / math.log(2.0)
    expected = 5 - 0.002 * steps + 0.002 * tau * (1 - np.exp(-steps / tau))
    assert smoothed.to_numpy() == pytest.approx(expected, abs=1e-12)


def test_a_weight_is_per_logging_interval_of_the_coarsest_run() -> None:
    logged = logged_values(two_grids(fine=10, coarse=50), "loss")
    smoothing = resolve_smoothing(logged, 0.5)
    assert smoothing is not None
    assert (smoothing.half_life, smoothing.interval, smoothing.weight) == (50.0, 50, 0.5)
    assert resolve_smoothing(logged, 0.0) is None
    assert resolve_smoothing(logged, 300.0).half_life == 300.0  # type: ignore[union-attr]
    with pytest.raises(AnalysisError, match="half-life in steps"):
        resolve_smoothing(logged, -1.0)


def test_final_of_grids_that_end_apart_is_read_at_the_last_common_step() -> None:
    # Every 30 steps ends at 990, every 100 at 1000: the last values are 10 steps of training
    # apart. Before, final compared them as they were (3.0369 against 3.0357 at seed 0).
    curves = two_grids(curve=lambda s: 3.0 + np.exp(-s / 300), fine=30, coarse=100)
    table = aggregate_curves(curves, "loss", "final").sort("variant", "seed")
    by_variant = table.group_by("variant").agg(pl.col("loss").sort_by("seed")).sort("variant")
    base, variant = by_variant["loss"].to_list()
    assert base == pytest.approx(variant, abs=1e-12)  # both at step 900
    assert base[0] == pytest.approx(3.0 + math.exp(-3.0))


def test_final_of_runs_of_different_lengths_on_one_grid_is_the_end_of_training() -> None:
    curves = pl.concat(
        [two_grids(fine=100, coarse=100, end=1000).filter(pl.col("variant") == "base"),
         two_grids(fine=100, coarse=100, end=600).filter(pl.col("variant") == "v")]
    )  # fmt: skip
    ends = aggregate_curves(curves, "loss", "final").join(
        curves.group_by("variant", "seed").agg(pl.col("step").max()), on=["variant", "seed"]
    )
    assert set(ends.filter(pl.col("variant") == "v")["step"].to_list()) == {600}
    assert set(ends.filter(pl.col("variant") == "base")["step"].to_list()) == {1000}


def test_mean_is_over_the_steps_every_run_logged() -> None:
    curves = two_grids(curve=lambda s: s / 100.0, fine=10, coarse=100, seeds=1)
    table = aggregate_curves(curves, "loss", "mean")
    assert table["loss"].to_list() == [5.0, 5.0]  # both over 0, 100, ..., 1000
    disjoint = two_grids(fine=30, coarse=70, seeds=1, end=200).filter(pl.col("step") > 0)
    with pytest.raises(AnalysisError, match="no step at which every run logged loss"):
        aggregate_curves(disjoint, "loss", "mean")


def test_at_step_takes_the_value_last_logged_at_or_before_n() -> None:
    curves = pl.concat(
        [two_grids(curve=lambda s: s / 100.0, fine=10, coarse=100, seeds=2, end=2000)
         .filter(pl.col("variant") == "base"),
         two_grids(curve=lambda s: s / 100.0, fine=10, coarse=100, seeds=2, end=1200)
         .filter(pl.col("variant") == "v")]
    )  # fmt: skip
    at = value_at(curves, "loss", axis="step", at=1150).sort("variant", "seed")
    assert at["at_step"].to_list() == [1150, 1150, 1100, 1100]
    assert at["loss"].to_list() == [11.5, 12.5, 11.0, 12.0]
    assert aggregate_curves(curves, "loss", parse_agg("at:step=1150")).columns == [
        "variant",
        "seed",
        "loss",
    ]
    with pytest.raises(AnalysisError, match=r"2 run\(s\) never reached 1,500 steps .* v seed 0 "):
        value_at(curves, "loss", axis="step", at=1500)
    with pytest.raises(AnalysisError, match="--at step=1200 or below"):
        aggregate_curves(curves, "loss", "at:step=1500")


def test_at_tokens_matches_runs_on_the_tokens_they_saw() -> None:
    # base sees 1000 tokens a step, v 2000: at 400k tokens base is at step 400, v at step 200.
    rows = []
    for variant, per_step in (("base", 1000), ("v", 2000)):
        for seed in range(2):
            for step in range(0, 501, 50):
                rows.append(
                    {"variant": variant, "seed": seed, "step": step,
                     "tokens": float(step * per_step), "loss": 10.0 - step / 100 + seed}
                )  # fmt: skip
    curves = pl.DataFrame(rows)
    at = value_at(curves, "loss", axis="tokens", at=400_000).sort("variant", "seed")
    assert at["at_step"].to_list() == [400, 400, 200, 200]
    with pytest.raises(AnalysisError, match="never reached 600,000 tokens"):
        value_at(curves, "loss", axis="tokens", at=600_000)
    untracked = curves.with_columns(
        pl.when(pl.col("variant") == "v").then(None).otherwise(pl.col("tokens")).alias("tokens")
    )
    with pytest.raises(
        AnalysisError, match=r"2 run\(s\) logged loss but no tokens \(e.g. v seed 0"
    ):
        value_at(untracked, "loss", axis="tokens", at=10)
    with pytest.raises(AnalysisError, match="needs a 'tokens' metric"):
        value_at(curves.drop("tokens"), "loss", axis="tokens", at=10)
    with pytest.raises(AnalysisError, match="unknown axis 'flops'"):
        parse_agg("at:flops=10")


def test_runs_that_start_logging_at_different_steps_smooth_from_one_origin() -> None:
    # Every 30 steps from 30, every 100 from 100, a straight line: both EMAs start at step 100
    # (the 30-step run's value there interpolated between 90 and 120), so they agree exactly
    # at every common step. Before, the 30-step run carried its history from step 30 and,
    # with a long half-life, stayed above the other for the whole run.
    frames = []
    for variant, every in (("base", 30), ("v", 100)):
        steps = np.arange(every, 1001, every)
        frames.append(
            pl.DataFrame({"variant": variant, "seed": 0, "step": steps, "loss": 5 - steps / 500})
        )
    logged = logged_values(pl.concat(frames), "loss")
    smoothed = smooth_over_steps(logged, "loss", resolve_smoothing(logged, 0.9))
    base = smoothed.filter(pl.col("variant") == "base")
    assert base["step"].to_list() == list(range(120, 1000, 30))  # no point before 100, none added
    paired = base.join(smoothed.filter(pl.col("variant") == "v"), on=["seed", "step"])
    assert paired["step"].to_list() == [300, 600, 900]
    assert (paired["loss"] - paired["loss_right"]).abs().max() < 1e-12
