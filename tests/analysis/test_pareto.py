"""The tier-based Pareto front: ties inside seed noise dominate nothing."""

from __future__ import annotations

import numpy as np
import polars as pl

from analysis import pareto_front
from analysis.pareto import dominators


def test_dominators_by_hand() -> None:
    ranks = {"a": [1, 2], "b": [2, 1], "c": [2, 2], "d": [1, 2]}
    out = dominators(ranks)
    assert out == {"a": (), "b": (), "c": ("a", "b", "d"), "d": ()}  # a and d tie: neither wins


def table(quality: dict[str, float], speed: dict[str, float], seeds: int = 5) -> pl.DataFrame:
    rng = np.random.default_rng(0)
    seed_effect = rng.normal(0, 0.3, seeds)
    rows = [
        {
            "variant": variant,
            "seed": seed,
            "val_loss": 3 + seed_effect[seed] + effect + rng.normal(0, 0.02),
            "tokens_per_s": speed[variant] * (1 + rng.normal(0, 0.005)),
            "peak_memory_mb": 800.0,
        }
        for variant, effect in quality.items()
        for seed in range(seeds)
    ]
    return pl.DataFrame(rows)


def test_a_difference_inside_seed_noise_dominates_nothing() -> None:
    # "tiny" is 0.001 better than "base" in loss (far inside the run noise) at the same speed:
    # a front on means would call "base" dominated; on tiers nobody is.
    frame = table({"base": 0.0, "tiny": -0.001}, {"base": 1000.0, "tiny": 1000.0})
    front = pareto_front(frame, metric="val_loss", costs={"tokens_per_s": "maximize"})
    assert set(front.optimal) == {"base", "tiny"}
    assert front.alpha_per_axis == 0.05 / 2


def test_separated_and_no_worse_dominates() -> None:
    frame = table(
        {"base": 0.0, "good": -0.3, "slow_good": -0.3, "bad": 0.3},
        {"base": 1000.0, "good": 1000.0, "slow_good": 600.0, "bad": 1400.0},
    )
    front = pareto_front(
        frame,
        metric="val_loss",
        costs={"tokens_per_s": "maximize", "peak_memory_mb": "minimize", "missing": "minimize"},
    )
    assert set(front.optimal) == {"good", "bad"}
    assert front.dominated_by["base"] == ("good",)
    assert front.dominated_by["slow_good"] == ("good",)
    assert front.optimal_by_cost["tokens_per_s"] == front.optimal
    assert [a.name for a in front.costs] == ["tokens_per_s", "peak_memory_mb"]
    assert (
        front.costs[1].tiers == (("base", "good", "slow_good", "bad"),)
        or len(front.costs[1].tiers) == 1
    )  # constant memory: one tier
    assert any("missing" in w for w in front.warnings)
    assert front.to_dict()["optimal"] == list(front.optimal)
