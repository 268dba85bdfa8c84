"""Issue 32, item 3: lost runs count against whoever lost them, in every design.

A claim "X is better than Y" is re-tested with X's lost runs at the worst value of the table
(analysis.lost_runs.worst_case_stands). The sequential designs used to ask it of "better"
claims only, so a baseline that lost its worst runs made a variant look "worse" from its
survivors: the group-sequential design said "worse" in ~13 % of null studies at alpha 0.05.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from analysis import compare
from analysis.group_sequential import GroupSequentialDesign
from analysis.group_sequential_report import group_sequential_compare
from analysis.sequential import sequential_compare


def _baseline_loses_a_run() -> tuple[pl.DataFrame, pl.DataFrame]:
    """A variant clearly worse than the baseline's survivors; the baseline lost seed 8, and a
    third variant's run of 100 sets the table's worst value."""
    rows = []
    for seed in range(9):
        if seed != 8:
            rows.append({"variant": "base", "seed": seed, "loss": 3.0 + 0.01 * seed})
        rows.append({"variant": "v", "seed": seed, "loss": 3.1 + 0.01 * seed + 0.001 * (seed % 3)})
    rows.append({"variant": "other", "seed": 0, "loss": 100.0})
    lost = pl.DataFrame({"variant": ["base"], "seed": [8], "status": ["diverged"]})
    return pl.DataFrame(rows), lost


def test_anytime_design_withholds_worse_when_the_baseline_lost_runs():
    table, lost = _baseline_loses_a_run()
    clean = sequential_compare(table, metric="loss", baseline="base", variants=["v"])
    assert clean.comparisons[0].result.verdict == "worse"
    report = sequential_compare(table, metric="loss", baseline="base", variants=["v"], lost=lost)
    result = report.comparisons[0].result
    # the baseline's lost run at 100 on seed 8 (v ran 3.18 there): v is no longer shown worse
    assert result.verdict == "undecided" and result.withheld == "lost_runs"
    assert any("base lost 1 run" in w and "worst-case rule" in w for w in report.warnings)


def test_group_sequential_design_withholds_worse_when_the_baseline_lost_runs():
    table, lost = _baseline_loses_a_run()
    design = GroupSequentialDesign(max_seeds=10)
    clean = group_sequential_compare(
        table, metric="loss", baseline="base", design=design, variants=["v"]
    )
    assert clean.comparisons[0].result.verdict == "worse"
    report = group_sequential_compare(
        table, metric="loss", baseline="base", design=design, variants=["v"], lost=lost
    )
    result = report.comparisons[0].result
    assert result.verdict == "undecided" and result.withheld == "lost_runs"


def test_fixed_design_withholds_worse_when_the_baseline_lost_runs():
    table, lost = _baseline_loses_a_run()
    table = table.filter(pl.col("variant") != "other")
    worst = pl.DataFrame(
        [{"variant": "other", "seed": s, "loss": 100.0 + 0.01 * s} for s in range(9)]
    )
    table = pl.concat([table, worst])
    clean = compare(table, metric="loss", baseline="base")
    assert clean.comparisons[0].verdict == "worse"
    result = compare(table, metric="loss", baseline="base", lost=lost)
    assert result.comparisons[0].verdict != "worse"
    assert result.comparisons[0].withheld == "lost_runs"


def _null_study_baseline_loses_its_worst(
    rng: np.random.Generator, *, seeds: int, lost_runs: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Baseline and variant with the same distribution; the baseline's ``lost_runs`` worst
    (highest-loss) runs diverge and leave no value."""
    base = rng.normal(0.0, 1.0, seeds)
    variant = rng.normal(0.0, 1.0, seeds)
    gone = set(np.argsort(base)[-lost_runs:].tolist())
    rows = [{"variant": "v", "seed": s, "loss": float(variant[s])} for s in range(seeds)]
    rows += [{"variant": "base", "seed": s, "loss": float(base[s])} for s in range(seeds)
             if s not in gone]  # fmt: skip
    lost = pl.DataFrame(
        {"variant": ["base"] * len(gone), "seed": sorted(gone), "status": ["diverged"] * len(gone)}
    )
    return pl.DataFrame(rows), lost


def test_group_sequential_false_worse_rate_when_the_baseline_loses_its_worst_runs():
    # 300 seeded null studies, 10 seeds, the baseline's 3 worst runs lost. Before the fix the
    # design said "worse" in 13 % of them (39/300 with this seed); the bound is alpha plus
    # three Monte-Carlo standard errors.
    rng = np.random.default_rng(32)
    replicates, alpha = 300, 0.05
    design = GroupSequentialDesign(max_seeds=7, alpha=alpha)
    worse = 0
    for _ in range(replicates):
        table, lost = _null_study_baseline_loses_its_worst(rng, seeds=10, lost_runs=3)
        report = group_sequential_compare(
            table, metric="loss", baseline="base", design=design, lost=lost
        )
        worse += report.comparisons[0].result.verdict == "worse"
    assert worse / replicates <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / replicates)


def test_intervals_from_survivors_are_labelled_when_runs_were_lost():
    table, lost = _baseline_loses_a_run()
    report = sequential_compare(table, metric="loss", baseline="base", variants=["v"], lost=lost)
    entry = report.to_dict()["comparisons"][0]
    assert entry["survivors_only"] is True
    assert entry["baseline_lost_runs"] == 1
    clean = sequential_compare(table, metric="loss", baseline="base", variants=["v"])
    assert clean.to_dict()["comparisons"][0]["survivors_only"] is False
    fixed = compare(table, metric="loss", baseline="base", lost=lost).to_dict()
    by_variant = {c["variant"]: c for c in fixed["comparisons"]}
    assert by_variant["v"]["survivors_only"] is True
    assert any("surviving runs only" in w and "v" in w for w in fixed["warnings"])
    assert any("surviving runs only" in w for w in report.warnings)
    fixed_clean = compare(table, metric="loss", baseline="base").to_dict()
    assert all(c["survivors_only"] is False for c in fixed_clean["comparisons"])


def _factorial_table(lost_level: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A 2 x 2 on 8 seeds where A = 1 lowers the loss by 0.05; the cells at ``A = lost_level``
    lost seeds 4 to 7 (both B levels). The table's worst value is A = 0's run on seed 7."""
    rows, lost = [], []
    for seed in range(8):
        for a in (0, 1):
            for b in (0, 1):
                if a == lost_level and seed >= 4:
                    lost.append({"A": a, "B": b, "seed": seed})
                    continue
                noise = 0.01 * ((seed * 7 + a * 3 + b * 5) % 5 - 2)
                rows.append(
                    {"A": a, "B": b, "seed": seed, "y": 3.0 + 0.01 * seed - 0.05 * a + noise}
                )
    return pl.DataFrame(rows), pl.DataFrame(lost)


def test_factorial_main_effect_claims_survive_lost_runs_of_their_winning_level_only():
    from analysis.factorial import factorial

    table, lost = _factorial_table(lost_level=1)
    clean = factorial(table, factors={"A": [0, 1], "B": [0, 1]}, metric="y")
    assert clean.effect("A").verdict == "better"
    result = factorial(table, factors={"A": [0, 1], "B": [0, 1]}, metric="y", lost=lost)
    # A = 1 (the winning level) lost 8 runs; at the worst value each they undo the gain
    assert result.effect("A").verdict == "indistinguishable"
    assert result.effect("A").withheld == "lost_runs"
    assert result.to_dict()["survivors_only"] is True and result.lost_runs == 8
    # the same runs lost by the losing level (A = 0) cannot undo the claim
    table, lost = _factorial_table(lost_level=0)
    kept = factorial(table, factors={"A": [0, 1], "B": [0, 1]}, metric="y", lost=lost)
    assert kept.effect("A").verdict == "better" and kept.effect("A").withheld is None
