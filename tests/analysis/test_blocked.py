"""The seed-blocked model (analysis.blocked) and its use in analysis.compare, against R.

Reference values computed once in R 4.x (lm, lmerTest) with this code:

    bal <- data.frame(
      variant = rep(c("A", "B", "C"), each = 4),
      seed = rep(0:3, times = 3),
      y = c(3.02, 3.51, 2.87, 3.30,  2.95, 3.47, 2.80, 3.21,  3.06, 3.49, 2.93, 3.38))
    unb <- bal[-c(4, 5, 11), ]  # A lost seed 3, B lost seed 0, C lost seed 2
    unb <- rbind(unb, data.frame(variant = c("A", "C"), seed = c(4, 4), y = c(3.11, 3.18)))
    d$variant <- factor(d$variant); d$seed <- factor(d$seed)
    fit <- lm(y ~ variant + seed, data = d)          # contrasts L %*% coef(fit), vcov(fit)
    grid <- expand.grid(variant = levels(d$variant), seed = levels(d$seed))
    grid$fit <- predict(fit, grid); tapply(grid$fit, grid$variant, mean)   # adjusted means

Output (est, se, t, p, CI 95 %; then df, sigma; then adjusted means):

    balanced  BA -0.0675 0.0229431665 -2.942052485 0.025878571633 -0.123639906 -0.011360094
              CA  0.0400 0.0229431665  1.743438510 0.131881867497 -0.016139906  0.096139906
              CB  0.1075 0.0229431665  4.685490994 0.003376611859  0.051360094  0.163639906
              df 6 sigma 0.03244653722;  A 3.1750 B 3.1075 C 3.2150
    unbalanced BA -0.064 0.03444871965 -1.857833924 0.13674296931 -0.15964497906 0.03164497906
               CA  0.040 0.03021352583  1.323910365 0.25612192333 -0.04388619589 0.12388619589
               CB  0.104 0.03444871965  3.018980126 0.03920251789  0.00835502094 0.19964497906
               df 4 sigma 0.03996873778;  A 3.1634 B 3.0994 C 3.2034

The mixed model (lmerTest::lmer(y ~ variant + (1 | seed)), Satterthwaite df) gives, on the
unbalanced table, B - A = -0.06263 (se 0.03436, df 4.04, p 0.1416) and C - A = 0.04165 (se
0.03016, df 4.03, p 0.2390): it recovers a little between-seed information; the harness uses
the fixed-effects model (docs/analysis.md says why), so only the lm values are asserted.

Fisher / Freeman-Halton references: R ``fisher.test(matrix(c(4,0,4,8),2))$p.value`` =
0.07692307692; ``fisher.test(cbind(c(4,1,0),c(4,7,8)))`` = 0.08300395257;
``fisher.test(cbind(c(2,3,1,0),c(8,7,9,10)))`` = 0.4634455161.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from analysis import compare, stats
from analysis.blocked import fit_seed_blocked, seed_blocked_contrasts
from analysis.lost_runs import freeman_halton_p

BALANCED = np.array([[3.02, 3.51, 2.87, 3.30], [2.95, 3.47, 2.80, 3.21], [3.06, 3.49, 2.93, 3.38]])
NAN = np.nan
# seeds 0..4; A lost seed 3, B lost seed 0, C lost seed 2; A and C ran seed 4.
UNBALANCED = np.array(
    [
        [3.02, 3.51, 2.87, NAN, 3.11],
        [NAN, 3.47, 2.80, 3.21, NAN],
        [3.06, 3.49, NAN, 3.38, 3.18],
    ]
)
PAIRS_A, PAIRS_B = [1, 2, 2], [0, 0, 1]  # B - A, C - A, C - B

R_BALANCED = {
    "estimate": [-0.0675, 0.0400, 0.1075],
    "std_error": [0.0229431665] * 3,
    "p_value": [0.025878571633, 0.131881867497, 0.003376611859],
    "ci_low": [-0.123639906, -0.016139906, 0.051360094],
    "ci_high": [-0.011360094, 0.096139906, 0.163639906],
}
R_UNBALANCED = {
    "estimate": [-0.064, 0.040, 0.104],
    "std_error": [0.03444871965, 0.03021352583, 0.03444871965],
    "p_value": [0.13674296931, 0.25612192333, 0.03920251789],
    "ci_low": [-0.15964497906, -0.04388619589, 0.00835502094],
    "ci_high": [0.03164497906, 0.12388619589, 0.19964497906],
}


@pytest.mark.parametrize(
    ("values", "reference", "df", "sigma", "adjusted"),
    [
        (BALANCED, R_BALANCED, 6, 0.03244653722, [3.1750, 3.1075, 3.2150]),
        (UNBALANCED, R_UNBALANCED, 4, 0.03996873778, [3.1634, 3.0994, 3.2034]),
    ],
)
def test_seed_blocked_model_matches_r_lm(values, reference, df, sigma, adjusted) -> None:  # type: ignore[no-untyped-def]
    fit = fit_seed_blocked(values)
    assert fit.df_resid == df
    assert fit.sigma == pytest.approx(sigma, rel=1e-8)
    assert fit.adjusted_means == pytest.approx(adjusted, abs=5e-5)
    result = seed_blocked_contrasts(fit, PAIRS_A, PAIRS_B, alpha=0.05)
    for name, expected in reference.items():
        assert getattr(result, name) == pytest.approx(expected, rel=1e-4, abs=1e-10), name


def test_two_variants_blocked_is_the_paired_t_test_on_shared_seeds() -> None:
    values = UNBALANCED[:2]
    fit = fit_seed_blocked(values)
    blocked = seed_blocked_contrasts(fit, [1], [0])
    paired = stats.paired_t(values[1], values[0])
    assert blocked.estimate[0] == pytest.approx(paired.estimate)
    assert blocked.p_value[0] == pytest.approx(paired.p_value)
    assert blocked.ci_low[0] == pytest.approx(paired.ci_low)


def test_disconnected_variants_are_not_estimable() -> None:
    values = np.array([[1.0, 2.0, NAN, NAN], [NAN, NAN, 1.5, 2.4], [1.1, 2.2, NAN, NAN]])
    fit = fit_seed_blocked(values)
    result = seed_blocked_contrasts(fit, [1, 2], [0, 0])
    assert list(result.estimable) == [False, True]
    assert np.isnan(result.p_value[0]) and np.isfinite(result.p_value[1])


def table(values: np.ndarray) -> pl.DataFrame:
    rows = [
        {"variant": "ABC"[i], "seed": s, "y": float(values[i, s])}
        for i in range(values.shape[0])
        for s in range(values.shape[1])
        if np.isfinite(values[i, s])
    ]
    return pl.DataFrame(rows)


def test_compare_on_a_balanced_table_is_todays_paired_t_test() -> None:
    result = compare(table(BALANCED), metric="y", baseline="A")
    assert result.test == "paired_t" and result.paired
    for c in result.pairwise:
        a, b = "ABC".index(c.variant), "ABC".index(c.baseline)
        paired = stats.paired_t(BALANCED[a], BALANCED[b])
        assert c.design == "paired"
        assert c.p_value == pytest.approx(float(paired.p_value), rel=1e-12)
        assert c.ci_low == pytest.approx(float(paired.ci_low), rel=1e-12)
    assert [v.adjusted_mean for v in result.variants] == pytest.approx(
        [v.mean for v in result.variants]
    )


# Since issue 32 a pair that lost a run is tested on the seed-blocked model of the pair and a
# third variant (here the table's three) with one error variance per variant. R 4.x:
#
#   # One error variance per variant in lm(y ~ variant + seed): unbiased variant variances from
#   # the residuals, the sandwich with them, Satterthwaite df (the functions of cells.R).
#   cell_fit <- function(fit, cell) {
#     X <- model.matrix(fit); M <- diag(nrow(X)) - X %*% solve(crossprod(X)) %*% t(X)
#     G <- outer(cell, sort(unique(cell)), "==") * 1
#     A <- t(G) %*% M^2 %*% G; rss <- t(G) %*% residuals(fit)^2
#     s2 <- solve(A, rss); omega <- as.vector(G %*% s2)
#     Bread <- solve(crossprod(X)); V <- Bread %*% t(X) %*% diag(omega) %*% X %*% Bread
#     Bm <- M %*% diag(as.vector(G %*% pmax(s2, 0))) %*% M
#     list(X = X, G = G, A = A, s2 = s2, V = V, Fm = t(G) %*% Bm^2 %*% G)
#   }
#   contrast <- function(fit, cf, l) {
#     w <- as.vector(l %*% solve(crossprod(cf$X)) %*% t(cf$X))
#     g <- as.vector(t(cf$G) %*% w^2); cc <- solve(cf$A, g)
#     est <- sum(l * coef(fit)); se <- sqrt(as.vector(t(l) %*% cf$V %*% l))
#     df <- as.vector((t(cc) %*% cf$A %*% pmax(cf$s2, 0))^2 / (t(cc) %*% cf$Fm %*% cc))
#     p <- 2 * pt(-abs(est / se), df); h <- qt(0.975, df) * se
#     c(est = est, se = se, df = df, p = p, low = est - h, high = est + h)
#   }
#   options(digits = 13)
#   d <- data.frame(variant = c("A","A","A","A", "B","B","B", "C","C","C","C"),
#                   seed = c(0,1,2,4, 1,2,3, 0,1,3,4),
#                   y = c(3.02,3.51,2.87,3.11, 3.47,2.80,3.21, 3.06,3.49,3.38,3.18))
#   d$variant <- factor(d$variant); d$seed <- factor(d$seed)
#   fit <- lm(y ~ variant + seed, data = d); cf <- cell_fit(fit, as.integer(d$variant))
#   L <- rbind(BA = c(0,1,0,0,0,0,0), CA = c(0,0,1,0,0,0,0), CB = c(0,-1,1,0,0,0,0))
#   print(t(apply(L, 1, function(l) contrast(fit, cf, l)))); print(cf$s2)
#
# Output (est, se, df, p, CI 95 %), and the variant variances A, B, C:
#   BA -0.064 0.02192794077122 2.162126624544 0.09133139702966 -0.15188268237184 0.02388268237184
#   CA  0.040 0.02504882450381 2.677587942748 0.21927948710999 -0.04543172882688 0.12543172882688
#   CB  0.104 0.05242932944895 1.545898063157 0.22176566476919 -0.19866112059564 0.40666112059564
#   -0.004764078947368  0.003595394736842  0.006575921052632
R_BRIDGED = {  # (variant, baseline): estimate, std error, df, p, ci low, ci high
    ("B", "A"): (-0.064, 0.02192794077122, 2.162126624544, 0.09133139702966,
                 -0.15188268237184, 0.02388268237184),
    ("C", "A"): (0.040, 0.02504882450381, 2.677587942748, 0.21927948710999,
                 -0.04543172882688, 0.12543172882688),
    ("C", "B"): (0.104, 0.05242932944895, 1.545898063157, 0.22176566476919,
                 -0.19866112059564, 0.40666112059564),
}  # fmt: skip


def test_compare_on_an_unbalanced_table_bridges_each_pair_through_the_third_variant() -> None:
    """Every pair lost a seed the third variant ran: each is the per-variant-variance model
    of the three (valid under unequal noise, issue 32), checked against R; the seed-blocked
    model's adjusted means still order the tiers."""
    result = compare(table(UNBALANCED), metric="y", baseline="A")
    assert result.test == "seed_blocked" and result.effect_size_kind == "d_z"
    for c in result.pairwise:
        estimate, _, df, p, low, high = R_BRIDGED[(c.variant, c.baseline)]
        assert c.design == "seed_blocked"
        assert c.diff == pytest.approx(estimate, rel=1e-11)
        assert c.df == pytest.approx(df, rel=1e-11)
        assert c.p_value == pytest.approx(p, rel=1e-11)
        assert (c.ci_low, c.ci_high) == pytest.approx((low, high), rel=1e-11)
        a, b = UNBALANCED["ABC".index(c.variant)], UNBALANCED["ABC".index(c.baseline)]
        assert c.n_pairs == int((np.isfinite(a) & np.isfinite(b)).sum())
    adjusted = {v.variant: v.adjusted_mean for v in result.variants}
    assert adjusted == pytest.approx({"A": 3.1634, "B": 3.0994, "C": 3.2034}, abs=5e-5)
    assert result.tiers[0][0] == "B"  # ordered by the seed-adjusted means


def test_a_pair_whose_unshared_seeds_no_other_variant_ran_is_the_paired_t_test() -> None:
    values = UNBALANCED.copy()
    values[2, [0, 3]] = NAN  # C no longer ran the seeds only A or only B ran
    values[:, 4] = NAN
    result = compare(table(values), metric="y", baseline="A")
    c = next(c for c in result.pairwise if (c.variant, c.baseline) == ("B", "A"))
    shared = np.isfinite(values[0]) & np.isfinite(values[1])
    paired = stats.paired_t(values[1, shared], values[0, shared])
    assert c.design == "paired" and c.n_pairs == 2
    assert c.p_value == pytest.approx(float(paired.p_value), rel=1e-12)


# B ran seed 1 only: a single run has no noise of its own, so B gets no verdict and no rank,
# and the others are compared as if it were not there (before issue 35 it was compared
# through the pooled seed-blocked model, on the others' noise).
SINGLE_B = np.array(
    [
        [3.02, 3.51, 2.87, NAN, 3.11],
        [NAN, 3.47, NAN, NAN, NAN],
        [3.06, 3.49, NAN, 3.38, 3.18],
    ]
)


def test_a_variant_with_a_single_run_gets_no_verdict_and_no_rank() -> None:
    result = compare(table(SINGLE_B), metric="y", baseline="A")
    by_pair = {(c.variant, c.baseline): c for c in result.pairwise}
    for pair in (("B", "A"), ("C", "B")):
        c = by_pair[pair]
        assert c.verdict == "undecided" and c.withheld == "too_few_seeds"
        assert math.isnan(c.p_value) and math.isnan(c.p_adjusted) and math.isnan(c.ci_low)
    assert by_pair[("B", "A")].seeds_needed is not None and by_pair[("B", "A")].seeds_needed >= 2
    assert result.unranked == ("B",) and all("B" not in tier for tier in result.tiers)
    assert any("B has 1 seed" in w and "no verdict and no rank" in w for w in result.warnings)
    alone = compare(table(SINGLE_B[[0, 2]]), metric="y", baseline="A").comparisons[0]
    ca = by_pair[("C", "A")]
    assert (ca.design, ca.n_pairs, ca.p_value) == (alone.design, alone.n_pairs, alone.p_value)


def test_a_single_run_variant_does_not_keep_the_others_from_separating() -> None:
    rng = np.random.default_rng(5)
    values = 3.0 + rng.normal(0.0, 1.0, (1, 6)) + 0.01 * rng.normal(size=(3, 6))
    values[2] += 0.2  # C clearly worse than A
    values[1, 1:] = NAN
    values[1, 0] = values[0, 0] + 0.1  # B, one run, between them
    result = compare(table(values), metric="y", baseline="A")
    assert result.tiers == (("A",), ("C",)) and result.unranked == ("B",)
    c = next(c for c in result.comparisons if c.variant == "C")
    assert c.verdict == "worse"


def test_freeman_halton_matches_r_fisher_test() -> None:
    assert freeman_halton_p([4, 0], [8, 8])[0] == pytest.approx(0.07692307692, rel=1e-8)
    assert freeman_halton_p([4, 1, 0], [8, 8, 8])[0] == pytest.approx(0.08300395257, rel=1e-8)
    assert freeman_halton_p([2, 3, 1, 0], [10] * 4)[0] == pytest.approx(0.4634455161, rel=1e-8)
