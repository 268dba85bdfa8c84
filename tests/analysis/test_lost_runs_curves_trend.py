"""Lost runs count against whoever lost them in the curves over training and the sweep trend
too (issue 32, item 3): the one worst-case rule (:func:`analysis.lost_runs.worst_case_stands`),
both directions, and survivors-only results labelled."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analysis import compare_over_steps, sweep_trends
from analysis.lost_runs import impute_worst, worst_case_stands
from analysis.verdict import Direction

STEPS = np.arange(0, 11)


def curves_with_lost_baseline_runs(side: str = "base") -> tuple[pl.DataFrame, pl.DataFrame]:
    """8 seeds, the variant 0.3 worse than the baseline at every step on the runs that
    finished; ``side`` lost seeds 5-7. What the lost runs would have shown is unknown: had
    the baseline's been bad, "worse" would be their doing, which is what the rule guards
    against (the false-claim rate is measured in benchmarks/lost_runs_curves_trend.py)."""
    rng = np.random.default_rng(4)
    rows, statuses = [], []
    for seed in range(8):
        offset = 0.2 * seed
        variant = 3 + np.exp(-STEPS / 3) + offset + rng.normal(0, 0.01, STEPS.size)
        baseline = variant - 0.3 + rng.normal(0, 0.02, STEPS.size)
        for name, curve in (("v", variant), ("base", baseline)):
            lost = seed >= 5 and name == side
            statuses.append((name, seed, "diverged" if lost else "done"))
            if not lost:
                rows += [(name, seed, int(s), float(x)) for s, x in zip(STEPS, curve, strict=True)]
    curves = pl.DataFrame(rows, schema=["variant", "seed", "step", "loss"], orient="row")
    return curves, pl.DataFrame(statuses, schema=["variant", "seed", "status"], orient="row")


def test_a_separation_the_baselines_lost_runs_made_is_withheld() -> None:
    curves, statuses = curves_with_lost_baseline_runs()
    rng = np.random.default_rng(0)
    survivors = compare_over_steps(curves, metric="loss", baseline="base", rng=rng)
    assert survivors.variants[0].separated_side == "worse"  # what was said before
    ruled = compare_over_steps(curves, metric="loss", baseline="base", rng=rng, lost=statuses)
    v = ruled.variants[0]
    assert (v.separated_from, v.separated_side, v.withheld) == (None, None, "lost_runs")
    assert v.survivors_only and v.to_dict()["survivors_only"] is True
    assert any("lost run of the baseline base counts as the worst" in w for w in ruled.warnings)
    assert any("surviving runs only" in w for w in ruled.warnings)


def test_a_separation_that_survives_the_rule_stands_and_is_labelled() -> None:
    # The variant is the one that lost runs, and it is worse: its losses cannot help its
    # opponent's claim (the loser's lost runs are left out), so "worse" stands.
    curves, statuses = curves_with_lost_baseline_runs(side="v")
    ruled = compare_over_steps(
        curves, metric="loss", baseline="base", rng=np.random.default_rng(0), lost=statuses
    )
    v = ruled.variants[0]
    assert v.separated_side == "worse" and v.withheld is None and v.survivors_only


def test_imputation_fills_a_lost_runs_whole_curve_with_the_worst_per_step() -> None:
    values = np.full((2, 3, 4), 1.0)
    values[0, 2] = np.nan
    lost = np.array([[False, False, True], [False, False, False]])
    worst = np.array([5.0, 6.0, 7.0, 8.0])
    imputed = impute_worst(values, lost, 0, worst)
    assert imputed[0, 2].tolist() == [5.0, 6.0, 7.0, 8.0]
    assert np.isfinite(imputed).all() and (imputed[1] == 1.0).all()
    seen: list[np.ndarray] = []
    assert worst_case_stands(
        values, lost, winner=1, loser=0, worst=worst, holds=lambda x: seen.append(x) or False
    )
    assert not seen  # the winner lost nothing: its claim stands as it is


def sweep(lost_at_low: bool) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    """Loss at lr = 1, 2, 3 on 6 seeds; seeds 4 and 5 lost their lr = 1 runs, whose loss
    would have been high: the survivors show an increasing loss (lr = 1 looks best)."""
    rng = np.random.default_rng(2)
    rows, statuses = [], []
    for seed in range(6):
        for j, lr in enumerate((1.0, 2.0, 3.0)):
            name = f"lr{lr:g}"
            lost = lost_at_low and seed >= 4 and j == 0
            statuses.append((name, seed, "diverged" if lost else "done"))
            if not lost:
                rows.append((name, seed, 3.0 + seed + 0.1 * lr + float(rng.normal(0, 0.005))))
    table = pl.DataFrame(rows, schema=["variant", "seed", "loss"], orient="row")
    points = {f"lr{lr:g}": {"train.lr": lr} for lr in (1.0, 2.0, 3.0)}
    return table, pl.DataFrame(statuses, schema=["variant", "seed", "status"], orient="row"), points


@pytest.mark.parametrize("direction", [Direction.MINIMIZE, Direction.MAXIMIZE])
def test_a_trend_made_by_lost_runs_at_its_better_end_is_withheld(direction: Direction) -> None:
    table, statuses, points = sweep(lost_at_low=True)
    if direction == Direction.MAXIMIZE:  # accuracy that falls with lr: lr = 1 still best
        table = table.with_columns(-pl.col("loss"))
    (survivors,) = sweep_trends(table, metric="loss", points=points)
    assert survivors.verdict in ("increasing", "decreasing")  # what was said before
    (ruled,) = sweep_trends(table, metric="loss", points=points, direction=direction, lost=statuses)
    assert (ruled.verdict, ruled.withheld, ruled.survivors_only) == (
        "no trend detected",
        "lost_runs",
        True,
    )
    assert ruled.label() == "train.lr †" and ruled.to_dict()["withheld"] == "lost_runs"


def test_a_trend_whose_lost_runs_are_at_its_worse_end_stands() -> None:
    table, statuses, points = sweep(lost_at_low=True)
    # Read as accuracy (higher is better), "increasing" favours lr = 3: lr = 1's lost runs are
    # the loser's, left out, and the trend stands.
    (ruled,) = sweep_trends(
        table, metric="loss", points=points, direction=Direction.MAXIMIZE, lost=statuses
    )
    assert ruled.verdict == "increasing" and ruled.withheld is None and ruled.survivors_only
    table, statuses, points = sweep(lost_at_low=False)
    (clean,) = sweep_trends(table, metric="loss", points=points, lost=statuses)
    assert clean.verdict == "increasing" and not clean.survivors_only
