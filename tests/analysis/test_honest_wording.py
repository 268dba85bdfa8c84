"""Issue 32, item 5: words that say what was shown.

A futility stop shows that the effect is unlikely to reach the margin (not that there is no
effect of the margin's size); "undecided (more seeds could decide)" is not printed once the
seed budget is spent (here: every seed of the budget was run, one of them lost); the error for
curves logged on different step grids says what to do.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analysis import AnalysisError
from analysis.group_sequential import GroupSequentialDesign
from analysis.group_sequential_report import group_sequential_compare
from analysis.over_steps import compare_over_steps
from analysis.sequential import sequential_compare
from harness.report.sequential_view import rows


def _table(diffs: list[float], *, lost_seed: int | None = None) -> pl.DataFrame:
    data = []
    for seed, diff in enumerate(diffs):
        base = 3.0 + 0.1 * seed
        data.append({"variant": "base", "seed": seed, "loss": base})
        if seed != lost_seed:
            data.append({"variant": "v", "seed": seed, "loss": base + diff})
    return pl.DataFrame(data)


def test_a_futility_stop_says_the_effect_is_unlikely_to_reach_the_margin():
    diffs = [0.02, -0.02, 0.01, -0.01, 0.0, 0.02, -0.03, 0.0]
    design = GroupSequentialDesign(max_seeds=10, margin=0.5)
    report = group_sequential_compare(_table(diffs), metric="loss", baseline="base", design=design)
    assert report.comparisons[0].result.stopped == "futility"
    verdict = rows(report)[0]["verdict"]
    assert "unlikely to reach the margin" in verdict
    assert "no effect" not in verdict


NOISE = [0.3, -0.5, 0.2, 0.4, -0.6, 0.1]


def test_group_sequential_budget_spent_with_a_lost_run_is_not_more_seeds_could_decide():
    lost = pl.DataFrame({"variant": ["v"], "seed": [5], "status": ["diverged"]})
    report = group_sequential_compare(
        _table(NOISE, lost_seed=5),
        metric="loss",
        baseline="base",
        design=GroupSequentialDesign(max_seeds=6, futility=False),
        lost=lost,
    )
    comparison = report.comparisons[0]
    assert comparison.result.verdict == "inconclusive" and not comparison.needs_seed
    assert "more seeds could decide" not in rows(report)[0]["verdict"]


def test_anytime_budget_spent_with_a_lost_run_is_not_more_seeds_could_decide():
    lost = pl.DataFrame({"variant": ["v"], "seed": [5], "status": ["diverged"]})
    report = sequential_compare(
        _table(NOISE, lost_seed=5), metric="loss", baseline="base", max_seeds=6, lost=lost
    )
    comparison = report.comparisons[0]
    assert comparison.result.verdict == "inconclusive" and not comparison.needs_seed
    assert "more seeds could decide" not in rows(report)[0]["verdict"]
    assert report.needs_seeds == ()


def test_curves_on_different_step_grids_get_an_error_that_says_what_to_do():
    data = [
        {"variant": name, "seed": seed, "step": step, "loss": 3.0 - 0.001 * step + 0.01 * seed}
        for seed in range(3)
        for name, steps in (("base", range(0, 1000, 100)), ("v", range(50, 1000, 100)))
        for step in steps
    ]
    with pytest.raises(AnalysisError) as error:
        compare_over_steps(
            pl.DataFrame(data), metric="loss", baseline="base", rng=np.random.default_rng(0)
        )
    message = str(error.value)
    assert "different steps" in message
    assert "same steps" in message and "--agg" in message
