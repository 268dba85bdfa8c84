"""The coordinate check's statistics on hand-made tables (analysis.coordcheck, no torch)."""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl
import pytest

from analysis.coordcheck import (
    DEFAULT_TOLERANCE,
    CoordCheckResult,
    blocked_slope,
    coord_check,
    per_seed_slopes,
    seeds_to_decide,
    wider_is_better,
)
from harness.coordcheck.output import more_seeds_hint, seeds_to_decide_check
from harness.coordcheck.settings import CoordCheckSettings, default_settings, look_schedule
from harness.errors import UserError

WIDTHS = (64, 128, 256, 512)
STEPS = 4


Key = tuple[str, int | None]  # (activation, layer)


def table(
    exponents: dict[Key, float],
    *,
    noise: float = 0.0,
    seeds: int = 3,
    rng: np.random.Generator | None = None,
) -> pl.DataFrame:
    """mean |x| = width ** exponent (default 0) × exp(noise), for q/k per layer and logits,
    every step alike."""
    rng = rng or np.random.default_rng(0)
    rows = []
    for activation, layers in (("q", (0, 1)), ("k", (0, 1)), ("logits", (None,))):
        for layer in layers:
            exponent = exponents.get((activation, layer), 0.0)
            for seed in range(seeds):
                for width in WIDTHS:
                    value = 0.3 * width**exponent * np.exp(noise * rng.standard_normal())
                    for step in range(STEPS):
                        rows.append(
                            {"width": width, "seed": seed, "step": step, "value": value}
                            | {"activation": activation, "layer": layer}
                        )
    return pl.DataFrame(rows, schema_overrides={"layer": pl.Int64})


def test_blocked_slope_matches_r_lm_with_seed_intercepts() -> None:
    """R 4.2: w <- rep(c(64,128,256,512), times=3); seed <- factor(rep(0:2, each=4));
    y <- c(-1.20,-1.15,-1.02,-0.98, -0.70,-0.71,-0.55,-0.49, -1.00,-0.93,-0.90,-0.74);
    summary(lm(y ~ seed + log(w)))$coefficients["log(w)", ] gives estimate 0.1149347049242,
    std. error 0.0130530907228; df.residual 8."""
    y = np.array(
        [[-1.20, -1.15, -1.02, -0.98], [-0.70, -0.71, -0.55, -0.49], [-1.00, -0.93, -0.90, -0.74]]
    )
    slope, se, df = blocked_slope(y, np.log(np.array(WIDTHS, dtype=float)))
    assert slope == pytest.approx(0.1149347049242, rel=1e-10)
    assert se == pytest.approx(0.0130530907228, rel=1e-10)
    assert df == 8


def test_the_slope_is_the_exponent_of_width() -> None:
    slopes = per_seed_slopes(table({("q", 1): 0.5}))
    row = slopes.filter((pl.col("activation") == "q") & (pl.col("layer") == 1))
    assert row["slope"].to_list() == pytest.approx([0.5] * 3 * STEPS)
    result = coord_check(table({("q", 1): 0.5}, noise=0.01))
    exponent = result.exponents.filter((pl.col("activation") == "q") & (pl.col("layer") == 1))
    assert exponent["slope"].item() == pytest.approx(0.5, abs=0.03)


def test_flat_activations_pass() -> None:
    result = coord_check(table({}, noise=0.02))
    assert result.verdict == "PASS" and result.failures == ()
    assert set(result.exponents["status"].to_list()) == {"ok"}


def test_one_growing_layer_fails_and_is_named() -> None:
    result = coord_check(table({("k", 1): 0.6}, noise=0.02))
    assert result.verdict == "FAIL"
    assert len(result.failures) == 1
    assert result.failures[0].startswith("k (layer 1) grows with width: exponent +0.6")
    # layer 0 of the same activation is fine: layers are judged separately, never averaged
    layer0 = result.exponents.filter((pl.col("activation") == "k") & (pl.col("layer") == 0))
    assert layer0["status"].to_list() == ["ok"]


def test_an_averaged_check_would_miss_what_per_layer_exponents_catch() -> None:
    """The public bug: one layer grows, another shrinks; their average is flat."""
    result = coord_check(table({("q", 0): 0.6, ("q", 1): -0.6}, noise=0.01))
    assert {line.split(" with")[0] for line in result.failures} == {
        "q (layer 0) grows",
        "q (layer 1) shrinks",
    }


def test_model_level_activations_are_named_without_a_layer() -> None:
    result = coord_check(table({("logits", None): -0.7}, noise=0.01))
    assert len(result.failures) == 1
    assert result.failures[0].startswith("logits shrinks with width: exponent -0.7")


def test_steps_before_the_first_judged_step_are_not_judged() -> None:
    rows = table({}, noise=0.01).with_columns(
        pl.when(pl.col("step") < 2)
        .then(pl.col("value") * pl.col("width").cast(pl.Float64) ** 1.5)
        .otherwise(pl.col("value"))
        .alias("value")
    )
    assert coord_check(rows, first_step=2).verdict == "PASS"
    assert coord_check(rows, first_step=1).verdict == "FAIL"


def test_an_estimate_beyond_the_tolerance_that_is_not_shown_beyond_it_is_inconclusive() -> None:
    """Exponent exactly 0.45 plus a curvature (+0.3, -0.3, -0.3, +0.3 on log mean|x| over the
    four widths, orthogonal to the line): residual sd 0.367 on 8 df, standard error 0.137 —
    neither inside 0.35 nor shown beyond it."""
    target = (pl.col("activation") == "q") & (pl.col("layer") == 0)
    bend = pl.col("width").replace_strict({64: 0.3, 128: -0.3, 256: -0.3, 512: 0.3})
    rows = table({("q", 0): 0.45}).with_columns(
        pl.when(target)
        .then(pl.col("value") * bend.cast(pl.Float64).exp())
        .otherwise(pl.col("value"))
        .alias("value")
    )
    result = coord_check(rows, tolerance=0.35)
    row = result.exponents.filter(target).row(0, named=True)
    assert row["slope"] == pytest.approx(0.45)
    assert row["se"] == pytest.approx(np.sqrt(3 * 4 * 0.09 / 8 / (3 * 5 * np.log(2) ** 2)))
    assert row["status"] == "uncertain"
    assert result.verdict == "INCONCLUSIVE" and not result.passed and not result.failed
    assert result.uncertain[0].startswith("q (layer 0) not shown within tolerance: exponent +0.45")


def test_the_tolerance_is_the_boundary() -> None:
    rows = table({("q", 0): 0.2}, noise=0.01)
    assert coord_check(rows, tolerance=0.3).passed
    assert coord_check(rows, tolerance=0.1).failed


def test_non_finite_and_zero_values_fail() -> None:
    for bad in (float("nan"), 0.0):
        rows = table({}).with_columns(
            pl.when(
                (pl.col("width") == 512) & (pl.col("step") == 3) & (pl.col("activation") == "q")
            )
            .then(bad)
            .otherwise(pl.col("value"))
            .alias("value")
        )
        result = coord_check(rows)
        assert result.verdict == "FAIL"
        assert any("not finite" in line for line in result.failures)


def test_activations_are_ordered_as_given() -> None:
    result = coord_check(table({}), order=("logits", "k", "q"))
    assert result.exponents["activation"].unique(maintain_order=True).to_list() == [
        "logits",
        "k",
        "q",
    ]


def sequential_verdicts(exponents: dict[Key, float], *, noise: float, sims: int) -> list[str]:
    """The verdicts of ``sims`` simulated checks that add seeds on the default schedule (4, 8,
    ..., 24) while INCONCLUSIVE, as ``harness.coordcheck.sequential`` does."""
    defaults = CoordCheckSettings()
    schedule = look_schedule(defaults.first_seeds, defaults.seeds, defaults.seeds_per_look)
    rng = np.random.default_rng(11)
    verdicts = []
    for _ in range(sims):
        full = table(exponents, noise=noise, seeds=schedule[-1], rng=rng)
        for seeds in schedule:
            result = coord_check(full.filter(pl.col("seed") < seeds), looks=len(schedule))
            if result.verdict != "INCONCLUSIVE":
                break
        verdicts.append(result.verdict)
    return verdicts


def test_the_default_looks() -> None:
    assert look_schedule(4, 24, 4) == (4, 8, 12, 16, 20, 24)
    assert look_schedule(2, 6, 1) == (2, 3, 4, 5, 6)
    assert look_schedule(4, 10, 4) == (4, 8, 10)  # the most seeds is always a look
    assert CoordCheckSettings().looks == 6


def test_plain_attention_has_its_own_batch_and_steps() -> None:
    """2 x 8 tokens for 5 steps (judged 2..4) under plain attention; selective attention keeps
    the common defaults, and an explicit field wins over either."""
    mha = default_settings("mha")
    assert (mha.attention, mha.batch_size, mha.block_size, mha.steps) == ("mha", 2, 8, 5)
    assert mha.first_step == 2
    assert default_settings("selective") == CoordCheckSettings()
    assert default_settings("mha", steps=9).steps == 9
    with pytest.raises(UserError, match="--attention"):
        default_settings("linear")


@pytest.mark.slow
def test_at_the_tolerance_sequential_checks_pass_and_fail_at_most_alpha_of_the_time() -> None:
    """The error rates the docs promise, by simulation: with one exponent exactly at the
    tolerance (0.25), a PASS is wrong, and so is a FAIL; each stays below alpha = 0.05 over
    the six looks (4, 8, ..., 24 seeds). The bounds are conservative, so the rates are well
    below."""
    sims = 300
    verdicts = sequential_verdicts({("q", 0): DEFAULT_TOLERANCE}, noise=0.1, sims=sims)
    margin = 3 * np.sqrt(0.05 * 0.95 / sims)
    assert verdicts.count("PASS") / sims <= 0.05 + margin
    assert verdicts.count("FAIL") / sims <= 0.05 + margin


def test_clear_cases_are_decided_at_the_first_look() -> None:
    assert set(sequential_verdicts({}, noise=0.02, sims=20)) == {"PASS"}
    assert set(sequential_verdicts({("k", 1): 1.0}, noise=0.05, sims=20)) == {"FAIL"}


def with_true_exponent(
    result: CoordCheckResult, key: Key, exponent: float, se: float
) -> CoordCheckResult:
    """``result`` as if its estimate for ``key`` were the truth (the planning assumption of
    ``seeds_to_decide``): that row uncertain, the others within."""
    activation, layer = key
    row = (pl.col("activation") == activation) & (pl.col("layer") == layer)
    exponents = result.exponents.with_columns(
        pl.when(row).then(pl.lit(exponent)).otherwise(pl.col("slope")).alias("slope"),
        pl.when(row).then(pl.lit(se)).otherwise(pl.col("se")).alias("se"),
        pl.when(row).then(pl.lit("uncertain")).otherwise(pl.lit("ok")).alias("status"),
    )
    return dataclasses.replace(result, exponents=exponents, verdict="INCONCLUSIVE")


def looks_for(seeds: int) -> int:
    return len(look_schedule(4, seeds, 4))


@pytest.mark.parametrize(("exponent", "verdict"), [(0.12, "PASS"), (0.40, "FAIL")])
def test_seeds_to_decide_gives_the_power_it_plans_for(exponent: float, verdict: str) -> None:
    """With the true exponent and standard error of 8 seeds (noise 0.5: uncertain there), the
    planned number of seeds decides 80 % of fresh checks that judge that many seeds at the
    level of their looks. Measured: 88 seeds planned to pass, 0.83 of 120 checks passed (0.40
    at 44 seeds); 86 planned to fail, 0.80 failed (0.36 at 43)."""
    noise, key = 0.5, ("q", 0)
    rng = np.random.default_rng(5)
    pilot = coord_check(table({key: exponent}, noise=noise, seeds=8, rng=rng), looks=2)
    sxx = float(np.sum((np.log(WIDTHS) - np.mean(np.log(WIDTHS))) ** 2))
    planned = seeds_to_decide(
        with_true_exponent(pilot, key, exponent, noise / np.sqrt(8 * sxx)), looks_for=looks_for
    )
    assert planned is not None and 40 < planned < 200

    def decided(seeds: int, sims: int = 120) -> float:
        verdicts = [
            coord_check(
                table({key: exponent}, noise=noise, seeds=seeds, rng=rng),
                looks=looks_for(planned),
            ).verdict
            for _ in range(sims)
        ]
        return verdicts.count(verdict) / sims

    at_planned, at_half = decided(planned), decided(planned // 2)
    assert 0.7 <= at_planned <= 0.92
    assert at_half <= 0.55


def test_an_exponent_at_the_tolerance_has_no_number_of_seeds() -> None:
    pilot = coord_check(table({}, noise=0.3, seeds=8), looks=2)
    at_the_edge = with_true_exponent(pilot, ("k", 1), DEFAULT_TOLERANCE, 0.05)
    assert seeds_to_decide(at_the_edge, looks_for=looks_for) is None
    hint = more_seeds_hint(at_the_edge, seeds_to_decide_check(at_the_edge, CoordCheckSettings()))
    assert "sits at the tolerance" in hint
    nearly = with_true_exponent(pilot, ("k", 1), 0.15, 0.05)
    needed = seeds_to_decide(nearly, looks_for=looks_for)
    assert needed is not None
    hint = more_seeds_hint(nearly, seeds_to_decide_check(nearly, CoordCheckSettings()))
    assert f"rerun with --seeds {needed} " in hint


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
