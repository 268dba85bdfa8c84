"""analysis.stats against published reference values, hand computations and scipy/statsmodels."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestPower

from analysis import stats
from analysis.distributions import t_inference

# R's `sleep` data (Student 1908), used by the examples in R's ?t.test.
SLEEP_GROUP1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_GROUP2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]


def same_to_4_significant_digits(actual: float, published: float) -> bool:
    return f"{float(actual):.4g}" == f"{published:.4g}"


def test_paired_t_matches_r_t_test_sleep_example() -> None:
    # R: t.test(extra ~ group, data = sleep, paired = TRUE) (R >= 4.0 documentation output):
    # t = -4.0621, df = 9, p-value = 0.002833, 95 percent CI -2.4598858 -0.7001142,
    # mean difference -1.58
    result = stats.paired_t(SLEEP_GROUP1, SLEEP_GROUP2, alpha=0.05)
    published = {
        "statistic": -4.0621,
        "df": 9,
        "p_value": 0.002833,
        "ci_low": -2.4598858,
        "ci_high": -0.7001142,
        "estimate": -1.58,
    }
    for name, value in published.items():
        assert same_to_4_significant_digits(getattr(result, name), value), name


def test_welch_t_matches_r_t_test_sleep_example() -> None:
    # R: t.test(extra ~ group, data = sleep): t = -1.8608, df = 17.776, p-value = 0.07939,
    # 95 percent CI -3.3654832 0.2054832
    result = stats.welch_t(SLEEP_GROUP1, SLEEP_GROUP2, alpha=0.05)
    published = {
        "statistic": -1.8608,
        "df": 17.776,
        "p_value": 0.07939,
        "ci_low": -3.3654832,
        "ci_high": 0.2054832,
    }
    for name, value in published.items():
        assert same_to_4_significant_digits(getattr(result, name), value), name


def test_holm_and_bh_by_hand() -> None:
    p = [0.01, 0.04, 0.03, 0.005, 0.2]
    # Holm: sorted 0.005*5, 0.01*4, 0.03*3, 0.04*2 -> running max 0.09, 0.2*1.
    np.testing.assert_allclose(stats.holm(p), [0.04, 0.09, 0.09, 0.025, 0.2])
    # BH: sorted p*5/rank = 0.025, 0.025, 0.05, 0.05, 0.2 -> running min from the top.
    np.testing.assert_allclose(stats.benjamini_hochberg(p), [0.025, 0.05, 0.05, 0.025, 0.2])


def test_holm_and_bh_agree_with_statsmodels_row_by_row() -> None:
    rng = np.random.default_rng(7)
    p = rng.uniform(0, 0.2, size=(50, 8)) ** 2
    p[:, 3] = p[:, 2]  # ties
    holm = stats.holm(p)
    bh = stats.benjamini_hochberg(p)
    for row in range(p.shape[0]):
        np.testing.assert_allclose(holm[row], multipletests(p[row], method="holm")[1])
        np.testing.assert_allclose(bh[row], multipletests(p[row], method="fdr_bh")[1])


def test_vectorised_t_tests_agree_with_scipy_and_handle_missing_values() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(0.0, 1.0, size=(20, 7))
    y = x + rng.normal(0.3, 0.5, size=(20, 7))
    paired = stats.paired_t(x, y)
    welch = stats.welch_t(x, y)
    reference_paired = scipy_stats.ttest_rel(x, y, axis=-1)
    reference_welch = scipy_stats.ttest_ind(x, y, axis=-1, equal_var=False)
    np.testing.assert_allclose(paired.p_value, reference_paired.pvalue)
    np.testing.assert_allclose(welch.p_value, reference_welch.pvalue)
    np.testing.assert_allclose(welch.df, reference_welch.df)
    ci = reference_paired.confidence_interval(0.95)
    np.testing.assert_allclose(paired.ci_low, ci.low)
    np.testing.assert_allclose(paired.ci_high, ci.high)
    # A missing run drops its pair.
    x[0, 2] = np.nan
    with_gap = stats.paired_t(x[0], y[0])
    kept = np.arange(7) != 2
    assert with_gap.n == 6
    assert with_gap.p_value == pytest.approx(scipy_stats.ttest_rel(x[0, kept], y[0, kept]).pvalue)


def test_identical_runs_give_p_one_and_a_constant_shift_gives_p_zero() -> None:
    same = stats.paired_t([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    shifted = stats.paired_t([1.5, 2.5, 3.5], [1.0, 2.0, 3.0])
    assert same.p_value == 1.0 and same.ci_low == same.ci_high == 0.0
    assert shifted.p_value == 0.0 and shifted.estimate == pytest.approx(0.5)


def test_welch_with_a_single_run_on_one_side_tests_nothing() -> None:
    # One run has no sd, so the difference has no standard error: no p-value, never p = 0
    # (before analysis.distributions.t_inference, a NaN standard error read as a zero one).
    one_run = stats.welch_t([1.0], [1.0, 2.0, 3.0])
    assert one_run.estimate == pytest.approx(-1.0)
    for name in ("statistic", "p_value", "ci_low", "ci_high"):
        assert np.isnan(getattr(one_run, name)), name


def test_t_inference_edge_cases_and_closed_form_tails() -> None:
    # df = 1 is the Cauchy distribution: p = 1 - 2/pi atan|t|, t(0.975) = tan(0.475 pi).
    cauchy = t_inference(2.0, 0.5, 1.0, alpha=0.05)
    assert cauchy["statistic"] == 4.0
    assert cauchy["p_value"] == pytest.approx(1.0 - 2.0 / np.pi * np.arctan(4.0), rel=1e-12)
    half = np.tan(0.475 * np.pi) * 0.5  # 12.7062047... * 0.5
    assert cauchy["ci_low"] == pytest.approx(2.0 - half, rel=1e-12)
    assert cauchy["ci_high"] == pytest.approx(2.0 + half, rel=1e-12)
    # df = 2: p = 1 - |t| / sqrt(2 + t^2); Satterthwaite's df need not be whole (0.5 here):
    # the interval's end is where the two-sided p-value reaches alpha.
    p_two = t_inference(3.0, 1.0, 2.0, alpha=0.05)["p_value"]
    assert p_two == pytest.approx(1.0 - 3.0 / np.sqrt(11.0), rel=1e-12)
    high_half = t_inference(0.0, 1.0, 0.5, alpha=0.1)["ci_high"]
    assert t_inference(high_half, 1.0, 0.5, alpha=0.1)["p_value"] == pytest.approx(0.1, rel=1e-9)
    # A zero standard error: t = 0, p = 1 for a zero estimate, t = +-inf, p = 0 otherwise,
    # and an interval of width 0; no test where df <= 0, df or the standard error is NaN, or
    # the caller says so.
    exact = t_inference([0.0, -2.0], 0.0, 3.0, alpha=0.05)
    np.testing.assert_array_equal(exact["statistic"], [0.0, -np.inf])
    np.testing.assert_array_equal(exact["p_value"], [1.0, 0.0])
    np.testing.assert_array_equal(exact["ci_low"], [0.0, -2.0])
    np.testing.assert_array_equal(exact["ci_high"], [0.0, -2.0])
    untested = t_inference(
        [1.0, 1.0, 1.0, 1.0, 1.0],
        [0.5, 0.5, 0.5, np.nan, 0.5],
        [0.0, -1.0, np.nan, 4.0, 4.0],
        alpha=0.05,
        testable=[True, True, True, True, False],
    )
    for column in untested.values():
        assert np.isnan(column).all()


def test_mean_ci_matches_scipy_t_interval() -> None:
    values = np.array([3.1, 3.3, 2.9, 3.0, 3.25])
    ci = stats.mean_ci(values, alpha=0.1)
    low, high = scipy_stats.t.interval(0.9, df=4, loc=values.mean(), scale=scipy_stats.sem(values))
    assert ci["ci_low"] == pytest.approx(low) and ci["ci_high"] == pytest.approx(high)


def test_effect_sizes() -> None:
    d = np.array(SLEEP_GROUP1) - np.array(SLEEP_GROUP2)
    assert stats.cohens_dz(SLEEP_GROUP1, SLEEP_GROUP2) == pytest.approx(d.mean() / d.std(ddof=1))
    g = stats.hedges_g(SLEEP_GROUP1, SLEEP_GROUP2)
    s_pooled = np.sqrt((np.var(SLEEP_GROUP1, ddof=1) + np.var(SLEEP_GROUP2, ddof=1)) / 2)
    cohens_d = (np.mean(SLEEP_GROUP1) - np.mean(SLEEP_GROUP2)) / s_pooled
    # The exact correction and Hedges' approximation 1 - 3/(4 df - 1) agree closely at df=18.
    assert g == pytest.approx(cohens_d * (1 - 3 / (4 * 18 - 1)), rel=1e-3)
    assert abs(g) < abs(cohens_d)


def test_tost_matches_two_one_sided_scipy_tests() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(0.0, 1.0, 8)
    y = x + rng.normal(0.05, 0.1, 8)
    margin = 0.2
    result = stats.paired_t(x, y)
    p = stats.tost_p(result.estimate, result.std_error, result.df, margin)
    d = x - y
    lower = scipy_stats.ttest_1samp(d, -margin, alternative="greater").pvalue
    upper = scipy_stats.ttest_1samp(d, margin, alternative="less").pvalue
    assert p == pytest.approx(max(lower, upper))


def test_prob_improvement() -> None:
    x = np.array([1.0, 2.0, 3.0, 4.0])
    y = np.array([2.0, 2.0, 5.0, 0.0])
    # Paired, minimize: x better on seed 0 and 2, tie on 1, worse on 3.
    assert stats.prob_improvement_paired(x, y, "minimize") == pytest.approx(2.5 / 4)
    assert stats.prob_improvement_paired(x, y, "maximize") == pytest.approx(1.5 / 4)
    brute = np.mean([(a < b) + 0.5 * (a == b) for a in x for b in y])
    assert stats.prob_improvement_unpaired(x, y, "minimize") == pytest.approx(brute)


def test_seeds_needed_is_the_smallest_n_reaching_the_power() -> None:
    diffs = np.array([0.5, 0.1, -0.02, 0.0])
    needed = stats.seeds_needed(diffs, 0.2, alpha=0.05, power=0.8)
    assert needed[-1] == -1  # no difference: no number of seeds detects it
    for diff, n in zip(diffs[:-1], needed[:-1], strict=True):
        effect = abs(diff) / 0.2

        def power(k: int, effect: float = effect) -> float:
            critical = scipy_stats.t.ppf(0.975, k - 1)
            noncentral = scipy_stats.nct(k - 1, effect * np.sqrt(k))
            return float(noncentral.sf(critical) + noncentral.cdf(-critical))

        assert power(n) >= 0.8 > power(n - 1)
        assert n == np.ceil(TTestPower().solve_power(effect, alpha=0.05, power=0.8))


def test_minimum_detectable_effect_matches_statsmodels() -> None:
    # (statsmodels' solver itself returns NaN-based answers for very small n at tiny alpha,
    # where scipy.stats.nct fails; these cases are inside its working range.)
    for n, alpha in ((3, 0.05), (5, 0.05), (10, 0.01), (40, 0.005)):
        effect = TTestPower().solve_power(nobs=n, alpha=alpha, power=0.8)
        mde = stats.minimum_detectable_effect(0.02, n, alpha=alpha, paired=True)
        assert mde == pytest.approx(effect * 0.02, rel=1e-4)


def test_significance_threshold() -> None:
    # Two pairs: p < 0.05 needs |t| > 12.706, so |mean d| / sd d > 12.706 / sqrt(2).
    assert stats.significance_threshold(2, alpha=0.05, paired=True) == pytest.approx(
        12.7062 / np.sqrt(2), rel=1e-4
    )
