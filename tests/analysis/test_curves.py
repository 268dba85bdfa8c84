"""analysis.curves: from logged curves to one value per run, and bands across seeds."""

from __future__ import annotations

import math

import polars as pl
import pytest

from analysis import AnalysisError, aggregate_curves, curve_bands, parse_agg


def curves() -> pl.DataFrame:
    rows = []
    for variant, shift in (("base", 0.0), ("v", 1.0)):
        for seed in (0, 1):
            for step in range(0, 50, 10):
                rows.append(
                    {
                        "variant": variant,
                        "seed": seed,
                        "step": step,
                        "train_loss": 10.0 - step / 10 + shift + seed,
                        # val_loss only every 20 steps; null elsewhere
                        "val_loss": (5.0 - step / 20 + shift) if step % 20 == 0 else None,
                    }
                )
    return pl.DataFrame(rows)


def value(table: pl.DataFrame, variant: str, seed: int, metric: str) -> float:
    row = table.filter((pl.col("variant") == variant) & (pl.col("seed") == seed))
    assert row.height == 1
    return float(row[metric][0])


def test_final_min_last_and_step() -> None:
    table = curves()
    final = aggregate_curves(table, "val_loss", "final")
    assert value(final, "base", 0, "val_loss") == 5.0 - 40 / 20  # last logged val step is 40
    lowest = aggregate_curves(table, "train_loss", "min")
    assert value(lowest, "v", 1, "train_loss") == 10.0 - 4 + 1 + 1
    last = aggregate_curves(table, "train_loss", "last:2")
    assert value(last, "base", 0, "train_loss") == pytest.approx((7.0 + 6.0) / 2)
    at_step = aggregate_curves(table, "val_loss", "step:20")
    assert value(at_step, "v", 0, "val_loss") == 5.0 - 1 + 1
    assert final.height == lowest.height == last.height == at_step.height == 4


def test_step_that_was_not_logged_names_the_nearest_steps() -> None:
    with pytest.raises(AnalysisError, match="nearest logged steps: 20, 40"):
        aggregate_curves(curves(), "val_loss", "step:30")


@pytest.mark.parametrize("text", ["median", "at:step=0", "last:0", "last:", "step:x", "final:3"])
def test_bad_aggregations(text: str) -> None:
    with pytest.raises(AnalysisError):
        parse_agg(text)


def test_parse_round_trip() -> None:
    for text in ("final", "min", "last:50", "step:1000"):
        assert str(parse_agg(text)) == text


def test_curve_bands_mean_and_t_interval() -> None:
    bands = curve_bands(curves(), "train_loss")
    row = bands.filter((pl.col("variant") == "base") & (pl.col("step") == 0)).row(0, named=True)
    # Two seeds: 10 and 11 -> mean 10.5, sd 0.7071, CI 10.5 ± 12.706 * 0.5
    assert row["n"] == 2 and row["mean"] == pytest.approx(10.5)
    assert row["ci_high"] - row["mean"] == pytest.approx(12.7062 * 0.5, rel=1e-4)
    single = curve_bands(curves().filter(pl.col("seed") == 0), "train_loss")
    assert single["ci_low"].null_count() == single.height
    assert not any(math.isnan(v) for v in single["mean"].to_list())


def grid_curves(base_every: int, variant_every: int, offset: int = 0) -> pl.DataFrame:
    """The same curve for both variants (with a dip at every odd multiple of 10 steps),
    logged every ``base_every`` steps by ``base`` and every ``variant_every`` by ``v``."""
    rows = []
    for variant, every, start in (("base", base_every, base_every + offset),
                                  ("v", variant_every, variant_every)):  # fmt: skip
        for seed in (0, 1):
            for step in range(start, 1001, every):
                dip = -0.5 if (step // 10) % 2 == 1 and step % 10 == 0 else 0.0
                loss = 5.0 - step / 1000 + dip + 0.1 * seed
                rows.append({"variant": variant, "seed": seed, "step": step, "loss": loss})
    return pl.DataFrame(rows)


def test_min_and_last_k_follow_the_steps_every_run_logged_not_the_logged_points() -> None:
    """Issue 32, item 1: identical curves logged every 10 and every 100 steps aggregate to
    the same values (the finer grid saw more dips and a shorter last-K window before)."""
    table = grid_curves(10, 100)
    for agg in ("min", "last:3"):
        values = aggregate_curves(table, "loss", agg)
        for seed in (0, 1):
            assert value(values, "base", seed, "loss") == pytest.approx(
                value(values, "v", seed, "loss")
            ), agg


def test_runs_on_one_grid_keep_every_logged_point() -> None:
    # different lengths on one grid (a run stopped early) are not a different grid
    table = grid_curves(10, 10).filter(~((pl.col("variant") == "v") & (pl.col("step") > 500)))
    lowest = aggregate_curves(table, "loss", "min")
    assert value(lowest, "base", 0, "loss") == pytest.approx(5.0 - 990 / 1000 - 0.5)


def test_grids_with_no_common_step_are_refused_with_what_to_do() -> None:
    table = grid_curves(10, 10, offset=-5)  # base at 5, 15, ...; v at 10, 20, ...
    with pytest.raises(AnalysisError, match=r"different steps.*same steps.*--agg"):
        aggregate_curves(table, "loss", "last:3")
