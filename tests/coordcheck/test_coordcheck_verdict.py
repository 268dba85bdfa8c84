"""The coordinate check's statistics on hand-made tables (analysis.coordcheck, no torch)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analysis.coordcheck import coord_check, per_seed_slopes, wider_is_better

WIDTHS = (64, 128, 256, 512)


Key = tuple[str, int | None, int]  # (activation, layer, step)


def table(exponents: dict[Key, float], *, noise: float = 0.0, seeds: int = 3) -> pl.DataFrame:
    """mean |x| = width ** exponent (default 0) × exp(noise), for q/k per layer and logits."""
    rng = np.random.default_rng(0)
    rows = []
    for activation, layers in (("q", (0, 1)), ("k", (0, 1)), ("logits", (None,))):
        for layer in layers:
            for step in range(4):
                exponent = exponents.get((activation, layer, step), 0.0)
                for seed in range(seeds):
                    for width in WIDTHS:
                        value = 0.3 * width**exponent * np.exp(noise * rng.standard_normal())
                        rows.append(
                            {"width": width, "seed": seed, "step": step, "value": value}
                            | {"activation": activation, "layer": layer}
                        )
    return pl.DataFrame(rows, schema_overrides={"layer": pl.Int64})


def test_the_slope_is_the_exponent_of_width() -> None:
    slopes = per_seed_slopes(table({("q", 1, 2): 0.5}))
    row = slopes.filter(
        (pl.col("activation") == "q") & (pl.col("layer") == 1) & (pl.col("step") == 2)
    )
    assert row["slope"].to_list() == pytest.approx([0.5] * 3)
    others = slopes.filter(
        ~((pl.col("activation") == "q") & (pl.col("layer") == 1) & (pl.col("step") == 2))
    )
    assert np.allclose(others["slope"].to_numpy(), 0.0)


def test_flat_activations_pass() -> None:
    result = coord_check(table({}, noise=0.02))
    assert result.passed and result.failures == ()
    assert set(result.slopes.filter(pl.col("judged"))["status"].to_list()) == {"ok"}


def test_one_growing_layer_fails_and_is_named_with_its_steps() -> None:
    result = coord_check(table({("k", 1, 2): 0.6, ("k", 1, 3): 0.6}, noise=0.02))
    assert not result.passed
    assert len(result.failures) == 1
    assert result.failures[0].startswith("k (layer 1) grows with width at steps 2, 3")
    # layer 0 of the same activation is fine: layers are judged separately, never averaged
    layer0 = result.slopes.filter((pl.col("activation") == "k") & (pl.col("layer") == 0))
    assert set(layer0.filter(pl.col("judged"))["status"].to_list()) == {"ok"}


def test_an_averaged_check_would_miss_what_per_layer_slopes_catch() -> None:
    """The public bug: one layer grows, another shrinks; their average is flat."""
    result = coord_check(table({("q", 0, 1): 0.6, ("q", 1, 1): -0.6}))
    assert {line.split(" with")[0] for line in result.failures} == {
        "q (layer 0) grows",
        "q (layer 1) shrinks",
    }


def test_model_level_activations_are_named_without_a_layer() -> None:
    result = coord_check(table({("logits", None, 3): -0.7}))
    assert result.failures == ("logits shrinks with width at steps 3; worst slope -0.70 at step 3",)


def test_step_zero_is_not_judged() -> None:
    result = coord_check(table({("q", 0, 0): 1.0}))
    assert result.passed
    assert result.slopes.filter(pl.col("step") == 0)["status"].to_list() == [""] * 5


def test_a_slope_within_seed_noise_does_not_fail() -> None:
    # a mean slope beyond the tolerance whose seeds disagree in sign: the interval spans 0
    rows = table({})
    per_seed = pl.col("seed").replace_strict({0: 1.5, 1: -0.3, 2: 0.3}, return_dtype=pl.Float64)
    target = (pl.col("activation") == "q") & (pl.col("layer") == 0) & (pl.col("step") == 1)
    rows = rows.with_columns(
        pl.when(target)
        .then(pl.col("value") * pl.col("width").cast(pl.Float64) ** per_seed)
        .otherwise(pl.col("value"))
        .alias("value")
    )
    result = coord_check(rows)
    row = result.slopes.filter(
        (pl.col("activation") == "q") & (pl.col("layer") == 0) & (pl.col("step") == 1)
    ).row(0, named=True)
    assert row["slope"] == pytest.approx(0.5) and row["ci_low"] < 0 < row["ci_high"]
    assert not result.failed and result.failures == ()
    # ... nor does it pass: its interval reaches far past the tolerance, so nothing is shown
    assert not result.passed and result.verdict == "INCONCLUSIVE"
    assert row["status"] == "uncertain"
    assert result.uncertain == (
        f"q (layer 0) not shown within tolerance at steps 1; widest interval "
        f"[{row['equiv_low']:+.2f}, {row['equiv_high']:+.2f}] at step 1",
    )


def test_absence_of_evidence_is_inconclusive_not_pass() -> None:
    """The reported case: 2 seeds, mean slope 1.13 with its 95 % interval [-0.15, 2.42]."""
    rows = table({}, seeds=2)
    per_seed = pl.col("seed").replace_strict({0: 1.03, 1: 1.23}, return_dtype=pl.Float64)
    target = (pl.col("activation") == "k") & (pl.col("layer") == 1) & (pl.col("step") == 2)
    rows = rows.with_columns(
        pl.when(target)
        .then(pl.col("value") * pl.col("width").cast(pl.Float64) ** per_seed)
        .otherwise(pl.col("value"))
        .alias("value")
    )
    result = coord_check(rows)
    row = result.slopes.filter(target).row(0, named=True)
    # mean 1.13, sd 0.1414: 1.13 ± 12.706 · 0.1 = [-0.141, 2.401]
    assert row["slope"] == pytest.approx(1.13)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((-0.1406, 2.4006), abs=1e-3)
    assert result.verdict == "INCONCLUSIVE" and not result.passed and not result.failed
    # every other slope is exactly 0 with no spread: shown flat even with 2 seeds
    others = result.slopes.filter(pl.col("judged") & ~target)
    assert set(others["status"].to_list()) == {"ok"}


def test_one_seed_cannot_pass() -> None:
    result = coord_check(table({}, noise=0.02, seeds=1))
    assert result.verdict == "INCONCLUSIVE"
    assert set(result.slopes.filter(pl.col("judged"))["status"].to_list()) == {"uncertain"}
    assert all(line.endswith("one seed: no interval") for line in result.uncertain)


def test_a_true_slope_at_the_tolerance_passes_at_most_alpha_of_the_time() -> None:
    """TOST: with every slope exactly at the tolerance, PASS is wrong; its rate is <= alpha
    (one slope: the 90 % interval's upper end is below 0.5 in 5 % of draws)."""
    rng = np.random.default_rng(7)
    sims, seeds = 4000, 3
    slopes = 0.5 + rng.normal(0.0, 0.1, (sims, seeds))
    from analysis.stats import mean_ci

    upper = mean_ci(slopes, alpha=2 * 0.05)["ci_high"]
    rate = float(np.mean(upper <= 0.5))
    assert rate <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / sims)
    # and the same rule on coord_check's own table: a slope 0.5 on one row does not pass
    rows = table({("q", 0, 2): 0.5}, noise=0.01)
    assert coord_check(rows).verdict in ("INCONCLUSIVE", "FAIL")


def test_the_tolerance_is_the_boundary() -> None:
    rows = table({("q", 0, 2): 0.3}, noise=0.01)
    assert coord_check(rows, tolerance=0.4).passed
    assert not coord_check(rows, tolerance=0.2).passed


def test_non_finite_values_fail() -> None:
    rows = table({}).with_columns(
        pl.when((pl.col("width") == 512) & (pl.col("step") == 3) & (pl.col("activation") == "q"))
        .then(float("nan"))
        .otherwise(pl.col("value"))
        .alias("value")
    )
    result = coord_check(rows)
    assert not result.passed
    assert any("not finite" in line for line in result.failures)


def test_activations_are_ordered_as_given() -> None:
    result = coord_check(table({}), order=("logits", "k", "q"))
    assert result.slopes["activation"].unique(maintain_order=True).to_list() == ["logits", "k", "q"]


def losses(per_doubling: float, *, noise: float = 0.002) -> pl.DataFrame:
    rng = np.random.default_rng(1)
    rows = [
        {"width": w, "seed": s, "loss": 3.0 + per_doubling * np.log2(w / 64)}
        for w in WIDTHS
        for s in range(3)
    ]
    for row in rows:
        row["loss"] += noise * rng.standard_normal()
    return pl.DataFrame(rows)


def test_wider_is_better_passes_when_loss_falls_or_stays_flat() -> None:
    assert wider_is_better(losses(-0.05)).passed
    assert wider_is_better(losses(0.0)).passed


def test_wider_is_better_fails_when_loss_rises_with_width() -> None:
    result = wider_is_better(losses(0.05))
    assert not result.passed
    assert result.slope == pytest.approx(0.05, abs=0.01)
    assert "rises" in result.reason
