"""Tests for analysis.sequential: the Bayes factor, and error rates by simulation.

Simulations are vectorised over (simulations, seeds) with fixed generators. Monte-Carlo
tolerances are 3 standard errors of a proportion at the nominal level.
"""

from __future__ import annotations

import json
import math

import numpy as np
import polars as pl
import pytest
from scipy import integrate, stats

from analysis.sequential import (
    VERDICT_CODES,
    confidence_sequence,
    decision_path,
    fixed_n_equal_power,
    log_bayes_factor,
    paired_t_power,
    sequential_compare,
    sequential_test,
    t_threshold,
    tost_power,
    variants_needing_seeds,
)

ALPHA = 0.05
BETTER, WORSE, EQUIVALENT = (VERDICT_CODES.index(v) for v in ("better", "worse", "equivalent"))


def _mc_bound(p: float, n_sim: int) -> float:
    """p plus 3 Monte-Carlo standard errors."""
    return p + 3.0 * math.sqrt(p * (1.0 - p) / n_sim)


def _final_codes(diffs: np.ndarray, alpha: float, **kwargs) -> tuple[np.ndarray, np.ndarray]:
    """Final verdict code and the look (number of seeds) it was reached at, per simulation."""
    cs = confidence_sequence(diffs, alpha=alpha)
    codes = decision_path(cs.low, cs.high, **kwargs)
    decided = codes[:, -1] > 0
    first = np.where(decided, np.argmax(codes > 0, axis=1) + 1, diffs.shape[1])
    return codes[:, -1], first


# --------------------------------------------------------------------------- the Bayes factor


@pytest.mark.parametrize(("n", "g", "true_mean"), [(2, 1.0, 0.7), (4, 0.5, -0.3), (6, 2.0, 1.1)])
def test_bayes_factor_matches_numerical_integration(n, g, true_mean):
    """BF10 in closed form = ratio of marginal likelihoods, both integrated numerically.

    H1: x_i ~ N(δσ, σ²), δ ~ N(0, g); H0: δ = 0; both with the right-Haar prior 1/σ.
    """
    x = np.random.default_rng(n).normal(true_mean, 1.3, size=n)
    t = x.mean() / (x.std(ddof=1) / math.sqrt(n))

    s1, s2 = float(x.sum()), float((x * x).sum())
    log_norm = -0.5 * n * math.log(2 * math.pi)

    def likelihood(mean, sigma):  # prod_i N(x_i; mean, sigma²), from sufficient statistics
        squares = s2 - 2 * mean * s1 + n * mean * mean
        return math.exp(log_norm - n * math.log(sigma) - squares / (2 * sigma * sigma))

    def null(sigma):
        return likelihood(0.0, sigma) / sigma

    def alternative(delta, sigma):
        prior = math.exp(-delta * delta / (2 * g)) / math.sqrt(2 * math.pi * g)
        return likelihood(delta * sigma, sigma) / sigma * prior

    m0 = integrate.quad(null, 0.0, np.inf, limit=200)[0]
    m1 = integrate.dblquad(alternative, 0.0, np.inf, -np.inf, np.inf, epsabs=1e-9 * m0)[0]
    bf = math.exp(log_bayes_factor(t, n, effect_prior_variance=g))
    assert bf == pytest.approx(m1 / m0, rel=1e-6)

    # The same number as a likelihood ratio of t alone: noncentral t mixed over δ vs central t.
    mixed = integrate.quad(
        lambda d: stats.nct.pdf(t, n - 1, d * math.sqrt(n)) * stats.norm.pdf(d, 0, math.sqrt(g)),
        -np.inf,
        np.inf,
    )[0]
    assert bf == pytest.approx(mixed / stats.t.pdf(t, n - 1), rel=1e-6)


@pytest.mark.parametrize("n", [2, 3, 7, 30])
def test_bayes_factor_has_null_expectation_one(n):
    """E_0[BF10] = 1 at every n (it is a likelihood ratio of t), the martingale's mean."""
    expectation = integrate.quad(
        lambda t: math.exp(log_bayes_factor(t, n)) * stats.t.pdf(t, n - 1), -np.inf, np.inf
    )[0]
    assert expectation == pytest.approx(1.0, rel=1e-7)


def test_bayes_factor_limits():
    n, g = np.array([2.0, 5.0, 10.0]), 2.0
    # |t| -> inf: (1 + n g)^((n-1)/2); t = 0: (1 + n g)^(-1/2)
    np.testing.assert_allclose(log_bayes_factor(np.inf, n), 0.5 * (n - 1) * np.log1p(n * g))
    np.testing.assert_allclose(log_bayes_factor(0.0, n), -0.5 * np.log1p(n * g))
    np.testing.assert_allclose(log_bayes_factor(1e12, n), log_bayes_factor(np.inf, n))
    with pytest.raises(ValueError, match="n >= 2"):
        log_bayes_factor(1.0, 1)


def test_t_threshold_solves_bf_equals_one_over_alpha():
    n = np.arange(1, 60)
    for alpha in (0.05, 0.01, 0.05 / 7):
        t_star = t_threshold(n, alpha=alpha)
        reachable = np.isfinite(t_star)
        np.testing.assert_allclose(
            log_bayes_factor(t_star[reachable], n[reachable]), -math.log(alpha), rtol=1e-10
        )
        # unreachable exactly where sup_t BF = (1 + n g)^((n-1)/2) < 1/alpha
        sup = np.where(n >= 2, 0.5 * (n - 1) * np.log1p(2.0 * n), -np.inf)
        np.testing.assert_array_equal(~reachable, sup <= -math.log(alpha))
    # with g = 2 and alpha = 0.05 the first possible decision is at 4 seeds
    assert np.flatnonzero(np.isfinite(t_threshold(n, alpha=0.05)))[0] + 1 == 4


# --------------------------------------------------------------------------- error rates


def test_null_false_decisions_bounded_and_naive_peeking_inflated():
    """Looking after every seed from 2 to 20 under H0 (mean difference 0, sd unknown)."""
    rng = np.random.default_rng(20240611)
    n_sim, n_seeds = 20_000, 20
    sd = rng.uniform(0.1, 10.0, size=(n_sim, 1))  # the procedure must not care about sd
    diffs = rng.standard_normal((n_sim, n_seeds)) * sd

    code, _ = _final_codes(diffs, ALPHA)
    sequential_rate = np.mean(code > 0)

    # naive: a paired t-test after every seed, stop at the first p < 0.05
    n = np.arange(1, n_seeds + 1)
    mean = np.cumsum(diffs, axis=1) / n
    var = (np.cumsum(diffs**2, axis=1) - n * mean**2)[:, 1:] / (n[1:] - 1)
    t = mean[:, 1:] / np.sqrt(var / n[1:])
    p = 2 * stats.t.sf(np.abs(t), n[1:] - 1)
    naive_rate = np.mean((p < ALPHA).any(axis=1))
    fixed_rate = np.mean(p[:, -1] < ALPHA)  # one look at n = 20: calibrated

    print(f"null false-decision rate: sequential {sequential_rate:.4f}, naive {naive_rate:.4f}")
    assert sequential_rate <= _mc_bound(ALPHA, n_sim)
    assert abs(fixed_rate - ALPHA) <= 3 * math.sqrt(ALPHA * (1 - ALPHA) / n_sim)
    assert naive_rate > 3 * ALPHA  # several-fold inflation: the problem this module solves


def test_null_with_larger_alpha_is_still_bounded():
    """A loose level makes early looks possible, where a bad bound would show first."""
    rng = np.random.default_rng(7)
    n_sim, alpha = 20_000, 0.3
    diffs = rng.standard_normal((n_sim, 40))
    code, _ = _final_codes(diffs, alpha)
    assert np.mean(code > 0) <= _mc_bound(alpha, n_sim)


def test_family_wise_error_with_shared_baseline():
    """m = 4 null variants paired with one baseline: seed effects shared by all variants."""
    rng = np.random.default_rng(11)
    n_sim, n_seeds, m = 10_000, 25, 4
    seed_effect = rng.normal(0.0, 3.0, size=(n_sim, 1, n_seeds))
    runs = seed_effect + rng.normal(0.0, 1.0, size=(n_sim, m + 1, n_seeds))  # row 0: baseline
    diffs = runs[:, 1:, :] - runs[:, :1, :]  # (sims, m, seeds), correlated across variants
    cs = confidence_sequence(diffs, alpha=ALPHA / m)
    codes = decision_path(cs.low, cs.high)
    fwer = np.mean((codes[..., -1] > 0).any(axis=1))
    print(f"FWER (m={m}, Bonferroni): {fwer:.4f}")
    assert fwer <= _mc_bound(ALPHA, n_sim)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_equivalence_at_the_margin_is_rarely_declared(sign):
    rng = np.random.default_rng(5)
    n_sim, margin = 20_000, 0.5
    diffs = sign * margin + rng.standard_normal((n_sim, 60))
    code, _ = _final_codes(diffs, ALPHA, margin=margin)
    rate = np.mean(code == EQUIVALENT)
    print(f"equivalence declared at true difference {sign * margin}: {rate:.4f}")
    assert rate <= _mc_bound(ALPHA, n_sim)


def test_equivalence_is_found_when_the_difference_is_zero():
    rng = np.random.default_rng(6)
    diffs = rng.standard_normal((5_000, 40))
    code, _ = _final_codes(diffs, ALPHA, margin=1.0)
    assert np.mean(code == EQUIVALENT) > 0.9
    assert np.mean(code > 0) - np.mean(code == EQUIVALENT) <= _mc_bound(ALPHA, 5_000)


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_clear_effects_stop_early(direction):
    """A 2-sd improvement (in the metric's good direction) stops at a median of ≤ 6 seeds."""
    rng = np.random.default_rng(3)
    good_sign = -1.0 if direction == "minimize" else 1.0
    diffs = good_sign * 2.0 + rng.standard_normal((10_000, 30))
    code, first = _final_codes(diffs, ALPHA, direction=direction)
    print(f"effect 2 sd: median stop {np.median(first)}, decided {np.mean(code > 0):.4f}")
    assert np.median(first) <= 6
    assert np.mean(code == BETTER) > 0.999
    assert np.mean(code == WORSE) == 0.0


def test_confidence_sequence_covers_uniformly_over_time():
    rng = np.random.default_rng(9)
    n_sim, true_mean = 20_000, 0.7
    diffs = true_mean + 2.0 * rng.standard_normal((n_sim, 50))
    cs = confidence_sequence(diffs, alpha=ALPHA)
    always_covered = ((cs.low < true_mean) & (true_mean < cs.high)).all(axis=1)
    print(f"time-uniform coverage over 50 looks: {always_covered.mean():.4f}")
    assert always_covered.mean() >= 1 - _mc_bound(ALPHA, n_sim)
    # the running intersection never widens
    assert np.all(cs.low[:, 1:] >= cs.low[:, :-1]) and np.all(cs.high[:, 1:] <= cs.high[:, :-1])


@pytest.mark.slow
def test_heavy_tailed_null_is_bounded():
    """Robustness, not the guarantee: symmetric heavy tails (t with 3 df, Laplace).

    The t-statistic is conservative under symmetric heavy tails, so the rate stays below α.
    Skewed noise is reported (not asserted) in docs/sequential.md and the benchmark.
    """
    rng = np.random.default_rng(13)
    n_sim = 20_000
    for diffs in (rng.standard_t(3, size=(n_sim, 30)), rng.laplace(size=(n_sim, 30))):
        code, _ = _final_codes(diffs, ALPHA)
        assert np.mean(code > 0) <= _mc_bound(ALPHA, n_sim)


@pytest.mark.slow
def test_skewed_noise_is_outside_the_guarantee():
    """A known limitation, kept visible: strongly skewed paired differences (mean 0) inflate
    the false-decision rate above α — the t-statistic's small-n tails are not those of t.
    If this starts failing, the method has changed: update docs/sequential.md."""
    rng = np.random.default_rng(17)
    diffs = rng.lognormal(0.0, 1.0, size=(20_000, 20)) - math.exp(0.5)
    code, _ = _final_codes(diffs, ALPHA)
    assert np.mean(code > 0) > 2 * ALPHA


# --------------------------------------------------------------------------- one comparison


def test_sequential_test_small_cases():
    result = sequential_test([0.3], alpha=ALPHA, max_seeds=5)
    assert result.verdict == "undecided" and result.cs_low == -math.inf and result.e_value == 1.0
    assert sequential_test([], alpha=ALPHA).n == 0
    # 3 seeds can never decide at alpha = 0.05 with g = 2, however clear
    assert sequential_test([-5.0, -5.1, -4.9], alpha=ALPHA).verdict == "undecided"
    assert sequential_test([-5.0, -5.1, -4.9], alpha=ALPHA, max_seeds=3).verdict == "inconclusive"


def test_sequential_test_direction_and_stickiness():
    diffs = np.array([-1.0, -1.2, -0.9, -1.1, -1.05, -0.95, 3.0])
    result = sequential_test(diffs, alpha=ALPHA)
    assert result.verdict == "better" and result.decided_at == 4
    assert result.cs_high < 0 and result.p_value <= ALPHA
    flipped = sequential_test(diffs, alpha=ALPHA, direction="maximize")
    assert flipped.verdict == "worse" and flipped.decided_at == 4
    # the verdict at the stopping look, then later data do not undo it
    assert sequential_test(diffs[:4], alpha=ALPHA).verdict == "better"
    json.dumps(result.to_dict(), allow_nan=False)


def test_sequential_test_matches_the_vectorised_path():
    rng = np.random.default_rng(2)
    diffs = 0.8 + rng.standard_normal((200, 15))
    codes, first = _final_codes(diffs, 0.02, margin=0.5, direction="maximize")
    for row, code, at in zip(diffs, codes, first, strict=True):
        result = sequential_test(row, alpha=0.02, margin=0.5, direction="maximize")
        assert result.verdict == VERDICT_CODES[code]
        assert result.decided_at == (at if code else None)


def test_scale_and_shift_equivariance():
    rng = np.random.default_rng(4)
    diffs = rng.normal(0.3, 1.0, size=12)
    base = sequential_test(diffs, alpha=ALPHA)
    scaled = sequential_test(1e-3 * diffs, alpha=ALPHA)
    assert scaled.e_value == pytest.approx(base.e_value, rel=1e-9)
    assert scaled.cs_low == pytest.approx(1e-3 * base.cs_low, rel=1e-9)
    shifted = sequential_test(diffs + 1e6, alpha=ALPHA)  # no cancellation in the variance
    assert shifted.sd == pytest.approx(base.sd, rel=1e-6)


# --------------------------------------------------------------------------- fixed designs


def test_paired_t_power_matches_statsmodels():
    from statsmodels.stats.power import TTestPower

    for n, effect, alpha in [(10, 0.5, 0.05), (34, 0.5, 0.05), (6, 2.0, 0.01)]:
        expected = TTestPower().power(effect_size=effect, nobs=n, alpha=alpha)
        assert paired_t_power(n, effect, alpha=alpha) == pytest.approx(expected, rel=1e-6)
    # textbook: d = 0.5, two-sided alpha 0.05, 80% power -> 34 pairs
    assert fixed_n_equal_power(0.5, alpha=0.05, power=0.8) == 34
    assert fixed_n_equal_power(0.0, alpha=0.05, power=0.8, max_n=1000) is None
    # large effects: scipy's nct.cdf is nan far in the left tail; the power must not be
    power = paired_t_power(np.arange(2, 200), 3.0, alpha=0.05 / 3)
    assert np.all(np.isfinite(power)) and np.all(np.diff(power) >= 0)
    assert fixed_n_equal_power(3.0, alpha=0.05 / 3, power=0.99) == 6


def test_tost_power_matches_simulation():
    rng = np.random.default_rng(8)
    n, effect, margin, alpha = 12, 0.2, 1.0, 0.05
    x = effect + rng.standard_normal((200_000, n))
    half = stats.t.ppf(1 - alpha, n - 1) * x.std(axis=1, ddof=1) / math.sqrt(n)
    simulated = np.mean((x.mean(axis=1) - half > -margin) & (x.mean(axis=1) + half < margin))
    assert tost_power(n, effect, margin, alpha=alpha) == pytest.approx(simulated, abs=0.005)
    assert fixed_n_equal_power(effect, alpha=alpha, power=0.8, margin=margin) is not None


# --------------------------------------------------------------------------- study tables


def _table(effects: dict[str, float], seeds: range, rng: np.random.Generator) -> pl.DataFrame:
    seed_effect = {s: rng.normal(0.0, 1.0) for s in seeds}
    rows = [
        {"variant": v, "seed": s, "val_loss": 3.0 + e + seed_effect[s] + rng.normal(0, 0.05)}
        for v, e in effects.items()
        for s in seeds
    ]
    return pl.DataFrame(rows).sample(fraction=1.0, shuffle=True, seed=0)  # row order is noise


def test_sequential_compare_pairs_by_seed_and_applies_bonferroni():
    rng = np.random.default_rng(10)
    table = _table({"base": 0.0, "better": -0.3, "same": 0.0, "worse": 0.3}, range(12), rng)
    report = sequential_compare(table, metric="val_loss", baseline="base", max_seeds=12)
    assert report.alpha_per_comparison == pytest.approx(0.05 / 3)
    verdicts = {c.variant: c.result.verdict for c in report.comparisons}
    assert verdicts == {"better": "better", "same": "inconclusive", "worse": "worse"}
    assert report.needs_seeds == ()

    # the same numbers as sequential_test on the seed-ordered differences
    wide = table.pivot(on="variant", index="seed", values="val_loss").sort("seed")
    direct = sequential_test(
        (wide["better"] - wide["base"]).to_numpy(), alpha=0.05 / 3, max_seeds=12
    )
    by_name = {c.variant: c for c in report.comparisons}
    assert by_name["better"].result == direct
    assert by_name["better"].seeds == tuple(range(12))
    assert report.runs_used == 4 * 12
    fixed = [c.fixed_n for c in report.comparisons]
    assert report.runs_fixed_design == sum(fixed) + max(fixed)
    json.dumps(report.to_dict(), allow_nan=False)


def test_sequential_compare_unpaired_missing_and_listed_variants():
    rng = np.random.default_rng(12)
    table = _table({"base": 0.0, "a": -0.5}, range(6), rng)
    extra = pl.DataFrame({"variant": ["a", "base"], "seed": [100, 101], "val_loss": [1.0, None]})
    table = pl.concat([table, extra])
    report = sequential_compare(
        table, metric="val_loss", baseline="base", variants=["a", "not_run_yet"], margin=0.1
    )
    a, missing = report.comparisons
    assert a.result.n == 6 and a.seeds == tuple(range(6))  # seed 100 has no baseline partner
    assert report.alpha_per_comparison == pytest.approx(0.025)  # m counts the listed variants
    assert missing.result.n == 0 and missing.needs_seed and report.runs_fixed_design is None
    assert "not_run_yet" in report.needs_seeds
    with pytest.raises(ValueError, match="baseline"):
        sequential_compare(table, metric="val_loss", baseline="nope")
    with pytest.raises(ValueError, match="more than one row"):
        sequential_compare(pl.concat([table, table]), metric="val_loss", baseline="base")


def test_variants_needing_seeds_drives_a_runner_to_a_decision():
    """Add a seed to the undecided variants (and the baseline) until none is left."""
    rng = np.random.default_rng(14)
    effects = {"base": 0.0, "clear": -1.0, "tiny": -0.002}
    seed_noise = {}
    rows = []

    def run(variant, seed):
        seed_noise.setdefault(seed, rng.normal(0.0, 1.0))
        value = 3.0 + effects[variant] + seed_noise[seed] + rng.normal(0, 0.1)
        rows.append({"variant": variant, "seed": seed, "val_loss": value})

    for seed in range(3):
        for variant in effects:
            run(variant, seed)
    seed, history = 3, []
    while todo := variants_needing_seeds(
        pl.DataFrame(rows), metric="val_loss", baseline="base", max_seeds=15
    ):
        history.append(todo)
        for variant in todo:
            run(variant, seed)
        seed += 1
    report = sequential_compare(
        pl.DataFrame(rows), metric="val_loss", baseline="base", max_seeds=15
    )
    by_name = {c.variant: c for c in report.comparisons}
    assert by_name["clear"].result.verdict == "better" and by_name["clear"].result.n < 15
    assert by_name["tiny"].result.verdict == "inconclusive" and by_name["tiny"].result.n == 15
    assert history[-1] == ("tiny", "base") and report.runs_used == len(rows)


def test_the_anytime_report_names_its_design() -> None:
    table = pl.DataFrame(
        {
            "variant": ["b", "v"] * 3,
            "seed": [0, 0, 1, 1, 2, 2],
            "loss": [1.0, 2, 1.1, 2.2, 0.9, 1.8],
        }
    )
    payload = sequential_compare(table, metric="loss", baseline="b").to_dict()
    assert payload["design"] == "anytime-valid"
    assert payload["design_details"] is None
    assert payload["comparisons"][0]["stopped"] is None
