"""Issue 18: honest verdicts on messy results - lost runs, unmeasured noise, stragglers and
unbalanced seeds (small simulations with fixed generators; the large Monte Carlo is
benchmarks/messy_null_rates.py, figures in docs/analysis.md)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analysis import compare, compare_values, sequential_compare
from analysis.resolution import metric_resolution
from analysis.sequential import sequential_test

ALPHA = 0.05
NOISE_SD = 0.05


def frame(values: np.ndarray, names: list[str]) -> pl.DataFrame:
    rows = [
        {"variant": names[i], "seed": s, "val_loss": float(values[i, s])}
        for i in range(values.shape[0])
        for s in range(values.shape[1])
        if np.isfinite(values[i, s])
    ]
    return pl.DataFrame(rows)


def null_values(rng: np.random.Generator, k: int, n_seeds: int) -> np.ndarray:
    return 3.0 + rng.normal(0.0, 1.0, (1, n_seeds)) + rng.normal(0.0, NOISE_SD, (k, n_seeds))


def any_claim(result) -> bool:  # type: ignore[no-untyped-def]
    return len(result.tiers) > 1 or any(
        c.verdict != "indistinguishable" for c in result.comparisons
    )


# -- lost runs ----------------------------------------------------------------------------------


def diverged_half_study() -> tuple[pl.DataFrame, pl.DataFrame]:
    """The issue's case: 'risky' diverged on 4 of 10 seeds and is better on the rest."""
    rng = np.random.default_rng(18)
    values = null_values(rng, 2, 10)
    values[1] -= 0.3  # better where it survived (6 noise sd)
    values[1, 6:] = np.nan
    statuses = pl.DataFrame(
        {
            "variant": ["base"] * 10 + ["risky"] * 10,
            "seed": list(range(10)) * 2,
            "status": ["done"] * 16 + ["diverged"] * 4,
        }
    )
    return frame(values, ["base", "risky"]), statuses


def test_a_variant_that_lost_runs_is_not_better_on_its_survivors() -> None:
    table, statuses = diverged_half_study()
    survivors_only = compare(table, metric="val_loss", baseline="base")
    assert survivors_only.comparisons[0].verdict == "better"  # today's survivor bias
    result = compare(table, metric="val_loss", baseline="base", lost=statuses)
    c = result.comparisons[0]
    assert c.verdict == "indistinguishable" and c.withheld == "lost_runs"
    assert len(result.tiers) == 1
    assert any("worst-case rule" in w and "risky lost 4" in w for w in result.warnings)
    runs = {r.variant: r.to_dict() for r in result.runs}
    assert runs["risky"] == {
        "variant": "risky", "planned": 10, "done": 6, "diverged": 4, "failed": 0
    }  # fmt: skip
    assert result.to_dict()["runs"][1]["diverged"] == 4


def test_a_variant_clearly_better_despite_a_lost_run_keeps_its_verdict() -> None:
    rng = np.random.default_rng(5)
    values = null_values(rng, 2, 8)
    values[1] -= 2.0  # far better than the worst value of the table on every seed
    values[1, 7] = np.nan
    statuses = pl.DataFrame(
        {"variant": ["base"] * 8 + ["v"] * 8, "seed": list(range(8)) * 2,
         "status": ["done"] * 15 + ["failed"]}
    )  # fmt: skip
    result = compare(frame(values, ["base", "v"]), metric="val_loss", lost=statuses)
    assert result.comparisons[0].verdict == "better" and result.comparisons[0].withheld is None


def test_divergence_rates_that_differ_are_a_finding() -> None:
    rng = np.random.default_rng(2)
    values = null_values(rng, 2, 10)
    values[1, 2:] = np.nan
    statuses = pl.DataFrame(
        {"variant": ["base"] * 10 + ["v"] * 10, "seed": list(range(10)) * 2,
         "status": ["done"] * 12 + ["diverged"] * 8}
    )  # fmt: skip
    result = compare(frame(values, ["base", "v"]), metric="val_loss", lost=statuses)
    # Fisher's exact test of 0/10 against 8/10 diverged: R fisher.test(matrix(c(0,8,10,2),2))
    # gives p = 0.0007144558228.
    assert result.divergence_test is not None
    assert result.divergence_test.p_value == pytest.approx(0.0007144558228, rel=1e-6)
    assert any(w.startswith("finding: divergence rates differ") for w in result.warnings)


def test_divergence_unrelated_to_the_variant_keeps_the_null_rate() -> None:
    rng = np.random.default_rng(180)
    studies, claims, findings = 300, 0, 0
    names = ["base", "a", "b"]
    for _ in range(studies):
        values = null_values(rng, 3, 6)
        lost = rng.uniform(size=values.shape) < 0.25
        lost[:, :2] = False
        values[lost] = np.nan
        status = np.where(lost, "diverged", "done").astype(object)
        result = compare_values(values, names, alpha=ALPHA, status=status)
        claims += any_claim(result)
        findings += bool(result.divergence_test and result.divergence_test.significant)
    assert claims / studies <= ALPHA + 2.33 * np.sqrt(ALPHA * (1 - ALPHA) / studies)
    assert findings / studies <= ALPHA + 2.33 * np.sqrt(ALPHA * (1 - ALPHA) / studies)


def test_sequential_follows_the_worst_case_rule() -> None:
    table, statuses = diverged_half_study()
    plain = sequential_compare(table, metric="val_loss", baseline="base")
    guarded = sequential_compare(table, metric="val_loss", baseline="base", lost=statuses)
    assert plain.comparisons[0].result.verdict == "better"
    result = guarded.comparisons[0]
    assert result.result.verdict == "undecided" and result.result.withheld == "lost_runs"
    assert result.lost_runs == 4 and result.needs_seed
    assert any("worst-case rule" in w for w in guarded.warnings)


# -- unmeasured noise ---------------------------------------------------------------------------


def test_rounding_level_differences_give_no_verdict() -> None:
    base = np.array([3.21, 3.57, 2.98, 3.33])
    values = np.vstack([base, base + 0.01])  # b - a = 0.01 on every seed, 2 decimals logged
    result = compare(frame(values, ["a", "b"]), metric="val_loss")
    c = result.comparisons[0]
    assert result.resolution == pytest.approx(0.01)
    assert c.verdict == "indistinguishable" and not c.noise_measured
    assert c.withheld == "unmeasured_noise" and c.p_adjusted != c.p_adjusted  # NaN
    assert len(result.tiers) == 1
    assert any("b vs a" in w and "log more decimals" in w for w in result.warnings)


def test_identical_seeds_warn_that_the_command_may_ignore_its_seed() -> None:
    values = np.array([[3.1234567891, 3.1234567891, 3.1234567891]] * 2)
    values[1] += 0.0123456789
    result = compare(frame(values, ["a", "b"]), metric="val_loss")
    assert result.comparisons[0].verdict == "indistinguishable"
    assert any("may ignore its seed" in w for w in result.warnings)


def test_three_variants_identical_after_rounding_share_one_tier() -> None:
    base = np.array([3.2, 3.6, 2.9, 3.3])
    values = np.vstack([base, base + 0.1, base + 0.2])
    result = compare(frame(values, ["a", "b", "c"]), metric="val_loss")
    assert len(result.tiers) == 1
    assert all(not c.noise_measured for c in result.pairwise)


def test_sequential_zero_differences_are_never_equivalent() -> None:
    four = sequential_test([0.0] * 4, alpha=ALPHA, margin=0.1)
    assert four.verdict == "undecided" and not four.noise_measured
    five = sequential_test([0.0, 0.0, 0.0, 0.0, 10.0], alpha=ALPHA, margin=0.1)
    assert five.verdict != "equivalent"


@pytest.mark.parametrize(("step_sd", "n_seeds"), [(0.5, 2), (1.0, 2), (0.5, 3), (1.0, 5)])
def test_rounded_null_keeps_the_false_claim_rate(step_sd: float, n_seeds: int) -> None:
    rng = np.random.default_rng(int(step_sd * 10) + n_seeds)
    studies = 300
    step = step_sd * NOISE_SD
    claims = 0
    for _ in range(studies):
        values = np.round(null_values(rng, 3, n_seeds) / step) * step
        claims += any_claim(compare_values(values, ["base", "a", "b"], alpha=ALPHA))
    assert claims / studies <= ALPHA + 2.33 * np.sqrt(ALPHA * (1 - ALPHA) / studies)


def test_resolution_is_inferred_from_the_values() -> None:
    assert metric_resolution([3.25, 3.5, 2.75, 4.0]) == pytest.approx(0.25)
    assert metric_resolution([3.14, 2.71, 1.41]) == pytest.approx(0.01)
    assert metric_resolution(np.random.default_rng(0).normal(size=50)) == 0.0


# -- stragglers and unbalanced seeds ------------------------------------------------------------


def test_a_straggler_changes_nothing_for_the_others() -> None:
    rng = np.random.default_rng(6)
    values = np.full((3, 6), np.nan)
    values[:2] = null_values(rng, 2, 6)
    values[1] += 5 * NOISE_SD  # a paired effect of 5 noise sd on 6 seeds
    values[2, 0] = values[0, 0] + 0.01  # a third variant ran on one seed only
    result = compare_values(values, ["base", "a", "straggler"], alpha=ALPHA)
    pair = result.comparisons[0]
    assert pair.design == "paired" and pair.verdict == "worse"
    alone = compare_values(values[:2], ["base", "a"], alpha=ALPHA).comparisons[0]
    assert pair.p_value == alone.p_value and pair.diff == alone.diff
    straggler = result.comparisons[1]  # a single run: no verdict, no rank (issue 35)
    assert straggler.verdict == "undecided" and straggler.withheld == "too_few_seeds"
    assert result.unranked == ("straggler",)
    assert any("single run" in w for w in result.warnings)


def test_a_variant_run_on_easy_seeds_is_not_listed_first() -> None:
    # 'easy' ran only seeds 0-2, whose seed effect is low; 'strong' beats it on every shared
    # seed by 0.2 and is otherwise as good as the baseline elsewhere.
    seed_effect = np.array([-1.0, -0.9, -1.1, 1.0, 0.9, 1.1])
    noise = np.random.default_rng(3).normal(0, 0.01, (3, 6))
    values = 3.0 + seed_effect + noise
    values[1] -= 0.5  # strong
    values[2] -= 0.3  # easy
    values[2, 3:] = np.nan
    result = compare_values(values, ["base", "strong", "easy"], alpha=ALPHA)
    raw_order = sorted(result.variants, key=lambda v: v.mean)
    assert raw_order[0].variant == "easy"  # raw means mislead
    assert result.tiers[0] == ("strong",)
    adjusted = {v.variant: v.adjusted_mean for v in result.variants}
    assert adjusted["strong"] < adjusted["easy"] < adjusted["base"]


def test_missing_seeds_at_random_keep_the_null_rate() -> None:
    rng = np.random.default_rng(1818)
    studies, claims = 300, 0
    for _ in range(studies):
        values = null_values(rng, 3, 6)
        rate = rng.uniform(0.0, 0.5, (3, 1))
        drop = rng.uniform(size=values.shape) < rate
        drop[:, :2] = False
        values[drop] = np.nan
        claims += any_claim(compare_values(values, ["base", "a", "b"], alpha=ALPHA))
    assert claims / studies <= ALPHA + 2.33 * np.sqrt(ALPHA * (1 - ALPHA) / studies)
