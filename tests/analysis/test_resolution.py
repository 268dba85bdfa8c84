"""Issue 32, item 4: the metric's resolution is decided from the data.

Integer-valued metrics (counts of correct answers, errors, tokens) are not rounded versions of
something finer: a difference of one unit is measured noise, so such comparisons are not
withheld for "unmeasured noise" unless every seed gives the same difference, and the warning
says "integer-valued" rather than "log more decimals". The grid is found relative to the
values' own magnitude, so values near 1e-15 are not taken for integers. The rounding
protection for decimals (losses logged with 2 decimals) is unchanged. The large simulation is
benchmarks/resolution_rates.py (docs/statistics.md).
"""

from __future__ import annotations

import numpy as np
import pytest

from analysis import compare_values
from analysis.resolution import grid_step, is_integer_valued, metric_resolution

ALPHA = 0.05


def null_counts(rng: np.random.Generator, k: int, n_seeds: int, rate: float) -> np.ndarray:
    """Errors per run: Poisson counts, the seed scaling every variant's rate alike."""
    seed_factor = np.exp(rng.normal(0.0, 0.3, (1, n_seeds)))
    return rng.poisson(rate * seed_factor, (k, n_seeds)).astype(float)


def test_integer_counts_that_differ_by_one_unit_get_a_verdict() -> None:
    base = np.array([3.0, 5.0, 2.0, 4.0, 6.0, 3.0])
    values = np.vstack([base, base + np.array([1.0, 1.0, 0.0, 1.0, 1.0, 1.0])])
    result = compare_values(values, ["base", "more_errors"], metric="errors")
    comparison = result.comparisons[0]
    assert comparison.noise_measured and comparison.withheld is None
    assert comparison.verdict == "worse"  # t = 5 on 5 df: p = 0.004
    assert not any("log more decimals" in w for w in result.warnings)


def test_counts_with_zero_spread_say_integer_valued() -> None:
    base = np.array([3.0, 5.0, 2.0, 4.0])
    values = np.vstack([base, base + 1.0])
    result = compare_values(values, ["base", "b"], metric="errors")
    comparison = result.comparisons[0]
    assert comparison.withheld == "unmeasured_noise"
    message = next(w for w in result.warnings if "b vs base" in w)
    assert "integer-valued" in message and "log more decimals" not in message


def test_null_counts_are_rarely_withheld_and_keep_the_false_claim_rate() -> None:
    rng = np.random.default_rng(32)
    studies, withheld, claims, pairs = 300, 0, 0, 0
    for _ in range(studies):
        values = null_counts(rng, 3, 3, rate=0.5)
        result = compare_values(values, ["base", "a", "b"], alpha=ALPHA)
        withheld += sum(c.withheld == "unmeasured_noise" for c in result.pairwise)
        pairs += len(result.pairwise)
        claims += len(result.tiers) > 1 or any(
            c.verdict != "indistinguishable" for c in result.comparisons
        )
    # Rare errors on 3 seeds: only comparisons with the same count difference on every seed
    # stay withheld, about 12 % of them (it was 54 % while a one-unit spread counted as
    # rounding).
    assert withheld / pairs < 0.2
    assert claims / studies <= ALPHA + 2.33 * np.sqrt(ALPHA * (1 - ALPHA) / studies)


@pytest.mark.parametrize("scale", [1e-15, 1e-9, 1.0, 1e6])
def test_unrounded_values_are_unrounded_at_any_scale(scale: float) -> None:
    values = np.random.default_rng(0).normal(size=50) * scale
    assert metric_resolution(values) == 0.0
    assert grid_step(values) == 0.0
    assert not is_integer_valued(values)


@pytest.mark.parametrize("scale", [1e-15, 1e-3, 1.0])
def test_the_grid_is_found_relative_to_the_values(scale: float) -> None:
    rounded = np.round(np.random.default_rng(1).normal(3.0, 0.5, size=20), 2)
    assert metric_resolution(rounded * scale) == pytest.approx(0.01 * scale)


def test_a_comparison_does_not_depend_on_the_metrics_unit() -> None:
    rng = np.random.default_rng(4)
    values = 3.0 + rng.normal(0.0, 1.0, (1, 6)) + rng.normal(0.0, 0.05, (3, 6))
    values[1] += 0.1
    reference = compare_values(values, ["base", "a", "b"])
    for scale in (1e-15, 1e-9, 1e9):
        scaled = compare_values(values * scale, ["base", "a", "b"])
        assert [c.verdict for c in scaled.pairwise] == [c.verdict for c in reference.pairwise]
        assert [c.p_value for c in scaled.pairwise] == pytest.approx(
            [c.p_value for c in reference.pairwise], rel=1e-9
        )


def test_integer_values_are_counts_unless_rounded_to_tens() -> None:
    assert is_integer_valued([812.0, 815.0, 809.0, 820.0])
    assert metric_resolution([812.0, 815.0, 809.0, 820.0]) == 0.0
    assert grid_step([812.0, 815.0, 809.0, 820.0]) == 1.0
    # Tokens rounded to thousands: a rounding grid, not a count's unit.
    assert not is_integer_valued([12000.0, 15000.0, 9000.0, 11000.0])
    assert metric_resolution([12000.0, 15000.0, 9000.0, 11000.0]) == 1000.0
    assert not is_integer_valued([3.25, 3.5, 2.75, 4.0])
    assert metric_resolution([3.25, 3.5, 2.75, 4.0]) == pytest.approx(0.25)


@pytest.mark.parametrize(("step_sd", "n_seeds"), [(1.0, 3), (2.0, 5)])
def test_losses_rounded_to_two_decimals_stay_protected(step_sd: float, n_seeds: int) -> None:
    """The rounding protection of decimals is unchanged: a loss logged with 2 decimals whose
    differences stay within one step is still withheld, and the null rate holds."""
    rng = np.random.default_rng(int(step_sd * 10) + n_seeds)
    studies, claims, withheld = 300, 0, 0
    for _ in range(studies):
        noise = rng.normal(0.0, 0.01 / step_sd, (3, n_seeds))
        values = np.round(3.0 + rng.normal(0.0, 1.0, (1, n_seeds)) + noise, 2)
        result = compare_values(values, ["base", "a", "b"], alpha=ALPHA)
        assert result.resolution >= 0.01 - 1e-12
        claims += len(result.tiers) > 1 or any(
            c.verdict != "indistinguishable" for c in result.comparisons
        )
        withheld += any(c.withheld == "unmeasured_noise" for c in result.pairwise)
    assert withheld > 0
    assert claims / studies <= ALPHA + 2.33 * np.sqrt(ALPHA * (1 - ALPHA) / studies)
