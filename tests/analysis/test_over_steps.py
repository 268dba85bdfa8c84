"""analysis.over_steps: paired differences over training, the sup-t band, separated_from and
the early signal. Error rates are checked by simulation (fixed rng, a few seconds each)."""

from __future__ import annotations

import itertools
import json
import math
import re

import numpy as np
import polars as pl
import pytest
from scipy import stats

from analysis import AnalysisError, compare_over_steps
from analysis.over_steps import critical_value, sign_flip_max_t, spearman_columns


def simulated_study(
    rng: np.random.Generator,
    *,
    n_seeds: int = 8,
    n_steps: int = 200,
    rho: float = 0.9,
    effect: float = 0.0,
    onset: int = 50,
) -> pl.DataFrame:
    """A baseline curve per seed (shared seed level + a falling loss) and a variant whose
    per-seed difference is AR(1) noise (sd 1, lag-1 correlation ``rho``) plus ``effect`` from
    step ``onset`` on."""
    noise = np.empty((n_seeds, n_steps))
    noise[:, 0] = rng.standard_normal(n_seeds)
    for step in range(1, n_steps):
        fresh = rng.standard_normal(n_seeds)
        noise[:, step] = rho * noise[:, step - 1] + math.sqrt(1 - rho**2) * fresh
    noise[:, onset:] += effect
    base = 3 + 0.5 * rng.standard_normal((n_seeds, 1)) + 2 / (1 + np.arange(n_steps))
    frames = [
        pl.DataFrame(
            {
                "variant": name,
                "seed": np.repeat(np.arange(n_seeds), n_steps),
                "step": np.tile(np.arange(n_steps), n_seeds),
                "loss": values.ravel(),
            }
        )
        for name, values in (("base", base), ("v", base + noise))
    ]
    return pl.concat(frames)


def excludes_zero(frame: pl.DataFrame, low: str, high: str) -> bool:
    return bool(((frame[low] > 0) | (frame[high] < 0)).any())


def test_with_no_difference_the_band_keeps_the_family_wise_error_and_pointwise_cis_do_not() -> None:
    rng = np.random.default_rng(2023)
    studies, alpha = 120, 0.05
    band = pointwise = 0
    for _ in range(studies):
        result = compare_over_steps(
            simulated_study(rng), metric="loss", baseline="base", alpha=alpha, rng=rng
        )
        frame = result.to_frame()
        band += excludes_zero(frame, "band_low", "band_high")
        pointwise += excludes_zero(frame, "ci_low", "ci_high")
    # The sign-flip test is exact: 0.05 expected; 2.5 binomial sds of Monte Carlo error allowed.
    mc_error = 2.5 * math.sqrt(alpha * (1 - alpha) / studies)
    assert band / studies <= alpha + mc_error
    # 200 correlated steps looked at one by one: a false "separation" in most studies.
    assert pointwise / studies >= 0.6
    assert pointwise > 5 * max(band, 1)


def test_a_difference_from_step_50_is_separated_between_50_and_100() -> None:
    rng = np.random.default_rng(50)
    studies = 60
    found = []
    for _ in range(studies):
        result = compare_over_steps(
            simulated_study(rng, n_seeds=10, effect=3.0), metric="loss", baseline="base", rng=rng
        )
        (variant,) = result.variants
        found.append(variant.separated_from)
        if variant.separated_from is not None:
            assert variant.separated_side == "worse"  # the variant's loss is higher
    early = [s for s in found if s is not None and s < 50]
    in_window = [s for s in found if s is not None and 50 <= s <= 100]
    assert len(in_window) >= 0.8 * studies
    assert len(early) <= 0.1 * studies  # before the onset only by chance


def test_sign_flips_enumerate_every_pattern_and_give_the_observed_max() -> None:
    diffs = np.array([[1.0, 2.0], [2.0, 2.5], [0.5, 3.0], [1.5, 1.0], [1.2, 2.2]])
    maxima = sign_flip_max_t(diffs, np.random.default_rng(0))
    assert maxima.size == 32
    mean, sd = diffs.mean(axis=0), diffs.std(axis=0, ddof=1)
    assert maxima[0] == pytest.approx(np.max(np.abs(mean / (sd / math.sqrt(5)))))
    # Brute force: every pattern's studentized max, computed plainly.
    brute = []
    for signs in itertools.product((1.0, -1.0), repeat=5):
        flipped = diffs * np.array(signs)[:, None]
        t = flipped.mean(axis=0) / (flipped.std(axis=0, ddof=1) / math.sqrt(5))
        brute.append(np.max(np.abs(t)))
    np.testing.assert_allclose(np.sort(maxima), np.sort(brute))


def test_critical_value_is_the_randomization_tests_threshold() -> None:
    maxima = np.arange(1.0, 65.0)  # 64 patterns (6 seeds)
    # alpha 0.05: floor(3.2) = 3 patterns may lie above c, so c is the 61st smallest.
    assert critical_value(maxima, 0.05) == 61.0
    # 5 seeds (32 patterns): p >= 2/32 > 0.05 always, so no band at 0.05.
    assert critical_value(np.arange(1.0, 33.0), 0.05) is None
    assert critical_value(np.arange(1.0, 33.0), 0.1) == 29.0


def test_spearman_matches_scipy_with_ties() -> None:
    rng = np.random.default_rng(3)
    x = rng.integers(0, 4, size=(9, 6)).astype(float)  # many ties
    y = rng.standard_normal(9)
    ours = spearman_columns(x, y)
    for j in range(6):
        expected = stats.spearmanr(x[:, j], y).statistic
        if np.ptp(x[:, j]) == 0:
            assert ours[j] is None
        else:
            assert ours[j] == pytest.approx(expected)
    assert spearman_columns(x[:2], y[:2]) == [None] * 6


def test_rows_numbers_and_json_fields() -> None:
    rng = np.random.default_rng(7)
    frame = simulated_study(rng, n_seeds=8, n_steps=5, effect=2.0, onset=2)
    result = compare_over_steps(frame, metric="loss", baseline="base", alpha=0.1, rng=rng)
    data = json.loads(json.dumps(result.to_dict()))
    assert set(data["steps"][0]) >= {
        "variant", "step", "diff", "ci_low", "ci_high", "band_low", "band_high",
    }  # fmt: skip
    assert list(data["separated_from"]) == ["v"]
    # Pointwise CI at a step: the paired t interval of that step's differences.
    wide = frame.pivot(on="variant", index=["seed", "step"], values="loss").sort("seed", "step")
    at_3 = wide.filter(pl.col("step") == 3)
    diffs = (at_3["v"] - at_3["base"]).to_numpy()
    half = stats.t.ppf(0.95, 7) * diffs.std(ddof=1) / math.sqrt(8)
    row = next(r for r in data["steps"] if r["step"] == 3)
    assert row["diff"] == pytest.approx(diffs.mean())
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(
        (diffs.mean() - half, diffs.mean() + half)
    )
    # The band is wider than the CI, by the critical value over the t quantile.
    variant = data["variants"][0]
    ratio = (row["band_high"] - row["band_low"]) / (row["ci_high"] - row["ci_low"])
    assert ratio == pytest.approx(variant["critical_value"] / variant["pointwise_critical_value"])
    assert variant["n_sign_flips"] == 256 and variant["band_alpha"] == 0.1
    assert row["spearman_final"] is not None and data["steps"][-1]["spearman_final"] == 1.0
    assert "sign flips" in data["method"]


def test_separated_from_needs_the_band_to_stay_off_zero_on_the_last_side() -> None:
    # Six identical seeds: se 0, so the band is the point itself and excludes zero wherever
    # the difference is not zero. Differences +1, 0, -1, -1, -1: separated (better) from step 2.
    steps, differences = [0, 1, 2, 3, 4], [1.0, 0.0, -1.0, -1.0, -1.0]
    rows = []
    for seed in range(6):
        for step, d in zip(steps, differences, strict=True):
            jitter = 0.01 * (seed - 2.5) * (step == 0)  # keeps step 0's se non-zero
            rows += [
                {"variant": "base", "seed": seed, "step": step, "loss": 3.0},
                {"variant": "v", "seed": seed, "step": step, "loss": 3.0 + d + jitter},
            ]
    result = compare_over_steps(
        pl.DataFrame(rows), metric="loss", baseline="base", rng=np.random.default_rng(0)
    )
    (variant,) = result.variants
    assert (variant.separated_from, variant.separated_side) == (2, "better")
    maximize = compare_over_steps(
        pl.DataFrame(rows), metric="loss", baseline="base", direction="maximize",
        rng=np.random.default_rng(0),
    )  # fmt: skip
    assert maximize.variants[0].separated_side == "worse"


# -- few seeds (issue 32, item 6) ---------------------------------------------------------------


def test_too_few_seeds_for_sign_flips_get_a_bonferroni_t_band_over_checkpoints() -> None:
    rng = np.random.default_rng(4)
    result = compare_over_steps(
        simulated_study(rng, n_seeds=4, n_steps=20, effect=5.0), metric="loss", baseline="base",
        rng=rng,
    )  # fmt: skip
    (variant,) = result.variants
    assert variant.band_method == "bonferroni_t"
    assert variant.checkpoints == (4, 8, 11, 15, 19)  # round(19 * j / 5), j = 1..5
    # c = t(1 - alpha / (2 m), n - 1) over m = 5 checkpoints.
    assert variant.critical_value == pytest.approx(stats.t.ppf(1 - 0.05 / 10, 3))
    banded = [row.step for row in result.steps if row.band_low is not None]
    assert banded == list(variant.checkpoints)
    assert all(row.ci_low is not None for row in result.steps)
    assert any("at least 8 seeds" in w and "Bonferroni" in w for w in result.warnings)
    data = result.to_dict()
    assert data["variants"][0]["band_method"] == "bonferroni_t"
    assert data["variants"][0]["checkpoints"] == [4, 8, 11, 15, 19]
    assert "Bonferroni" in data["method"] and "Bonferroni" in data["band"]


def test_enough_seeds_keep_the_sign_flip_band_over_every_step() -> None:
    rng = np.random.default_rng(4)
    result = compare_over_steps(
        simulated_study(rng, n_seeds=8, n_steps=20), metric="loss", baseline="base", rng=rng
    )
    (variant,) = result.variants
    assert variant.band_method == "sign_flip" and variant.checkpoints == tuple(range(20))
    assert all(row.band_low is not None for row in result.steps)
    assert "Bonferroni-t" not in result.method()


@pytest.mark.parametrize("n_seeds", [5, 6])
def test_a_late_clear_gap_at_five_or_six_seeds_is_separated(n_seeds: int) -> None:
    # 4 noise sd from step 150 of 200 on; two variants, so each band is at alpha / 2 and the
    # sign flips cannot reach it below 7 seeds.
    rng = np.random.default_rng(n_seeds)
    studies, found = 40, []
    for _ in range(studies):
        one = simulated_study(rng, n_seeds=n_seeds, effect=4.0, onset=150)
        twin = simulated_study(rng, n_seeds=n_seeds, effect=4.0, onset=150)
        other = twin.filter(pl.col("variant") == "v").with_columns(pl.lit("w").alias("variant"))
        result = compare_over_steps(
            pl.concat([one, other]), metric="loss", baseline="base", rng=rng
        )
        assert {v.band_method for v in result.variants} == {"bonferroni_t"}
        found += [v.separated_from for v in result.variants]
    assert sum(s is not None for s in found) >= 0.8 * len(found)
    # Checkpoints 40, 80, 119, 159, 199: before the onset only by chance (at most alpha).
    assert sum(s is not None and s < 150 for s in found) <= 0.05 * len(found)


def test_identical_curves_at_few_seeds_keep_the_family_wise_rate() -> None:
    rng = np.random.default_rng(32)
    alpha, studies = 0.05, 150
    for n_seeds in (3, 4, 5, 6):
        false = 0
        for _ in range(studies):
            result = compare_over_steps(
                simulated_study(rng, n_seeds=n_seeds, n_steps=60, rho=0.5),
                metric="loss", baseline="base", alpha=alpha, rng=rng,
            )  # fmt: skip
            false += result.variants[0].separated_from is not None or excludes_zero(
                result.to_frame().drop_nulls("band_low"), "band_low", "band_high"
            )
        assert false / studies <= alpha + 2.33 * math.sqrt(alpha * (1 - alpha) / studies)


def test_bonferroni_over_variants_and_the_pooled_early_signal() -> None:
    rng = np.random.default_rng(5)
    one = simulated_study(rng, n_seeds=8, n_steps=30, effect=1.0, onset=5)
    other = one.filter(pl.col("variant") == "v").with_columns(
        pl.lit("w").alias("variant"), pl.col("loss") + 0.5
    )
    result = compare_over_steps(pl.concat([one, other]), metric="loss", baseline="base", rng=rng)
    assert [v.band_alpha for v in result.variants] == [0.025, 0.025]
    assert len(result.early_signal) == 30 and result.early_signal[0].n == 16
    assert result.early_signal[-1].spearman == pytest.approx(1.0)
    assert result.informative_from is not None and result.informative_from <= 29


def test_unaligned_steps_and_seeds_are_left_out_with_a_warning() -> None:
    rng = np.random.default_rng(6)
    frame = simulated_study(rng, n_seeds=7, n_steps=10)
    frame = frame.filter(~((pl.col("seed") == 0) & (pl.col("step") == 4)))  # one seed lacks 4
    frame = frame.filter(~((pl.col("variant") == "v") & (pl.col("seed") == 6)))
    result = compare_over_steps(frame, metric="loss", baseline="base", rng=rng)
    assert [row.step for row in result.steps] == [0, 1, 2, 3, 5, 6, 7, 8, 9]
    assert result.variants[0].n_seeds == 6
    assert any("seed(s) 6" in w for w in result.warnings)
    assert any("1 step(s) logged by only some seeds" in w for w in result.warnings)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"baseline": "nope"}, "baseline 'nope' logged no loss"),
        ({"variants": ["x"]}, "no loss curve for variant(s) x"),
        ({"alpha": 1.5}, "alpha must be in"),
        ({"smoothing": -0.1}, "--smoothing must be a weight"),
        ({"metric": "val_loss"}, "no column val_loss"),
    ],
)
def test_bad_input_is_an_analysis_error(kwargs: dict[str, object], message: str) -> None:
    frame = simulated_study(np.random.default_rng(0), n_seeds=3, n_steps=4)
    arguments: dict[str, object] = {"metric": "loss", "baseline": "base", **kwargs}
    with pytest.raises(AnalysisError, match=re.escape(message)):
        compare_over_steps(frame, rng=np.random.default_rng(0), **arguments)  # type: ignore[arg-type]


def test_the_sign_flip_band_excludes_zero_exactly_when_the_randomization_test_rejects() -> None:
    # The observed pattern and its mirror tie with the critical value when they rank just past
    # the allowed tail; float round-off between the two ways of computing t then made the band
    # exclude zero (14 of 256 patterns instead of 12 at 8 seeds: 5.5 % at alpha 0.05).
    rng = np.random.default_rng(8)
    disagreements = 0
    for _ in range(1500):
        rows = [
            {"variant": name, "seed": seed, "step": step, "loss": 3.0 + float(value)}
            for seed in range(8)
            for step in range(2)
            for name, value in (("base", 0.0), ("v", rng.standard_normal()))
        ]
        result = compare_over_steps(
            pl.DataFrame(rows), metric="loss", baseline="base", alpha=0.05, rng=rng
        )
        (variant,) = result.variants
        assert variant.band_method == "sign_flip"
        excluded = excludes_zero(result.to_frame(), "band_low", "band_high")
        disagreements += excluded != (variant.p_value <= 0.05)
    assert disagreements == 0
