"""analysis.factorial: effects against R on fixed tables, error rates by simulation, verdicts,
fractions and bad input."""

from __future__ import annotations

import itertools
import math

import numpy as np
import polars as pl
import pytest

from analysis import AnalysisError, factorial, factorial_values
from analysis.blocked import fit_seed_blocked

# -- R reference values --------------------------------------------------------------------------
#
# A 2 x 2 factorial on 4 seeds. R 4.2, the factors coded -1/2 and +1/2 so that the coefficient
# of a is the main effect (level 2 - level 1, averaged over b) and that of a:b the difference
# of differences, exactly the quantities analysis.factorial reports:
#
#   A <- c(0,0,1,1,0,0,1,1,0,0,1,1,0,0,1,1); B <- c(0,1,0,1,0,1,0,1,0,1,0,1,0,1,0,1)
#   seed <- c(0,0,0,0,1,1,1,1,2,2,2,2,3,3,3,3)
#   y <- c(2.5205,2.4656,2.6496,2.8231,2.5668,2.5327,2.6018,2.6546,
#          3.2024,3.1994,3.2862,3.3913,2.8212,2.7289,2.9072,3.0167)
#   a <- A - 0.5; b <- B - 0.5
#   fit <- lm(y ~ a * b + factor(seed))
#   cbind(coef(summary(fit))[c("a","b","a:b"), c(1,2,4)], confint(fit)[c("a","b","a:b"), ])
#   p.adjust(coef(summary(fit))[c("a","b","a:b"), 4], "holm")
#
#       Estimate Std. Error     Pr(>|t|)       2.5 %     97.5 %
#   a   0.161625 0.02390013 8.247194e-05  0.10755920 0.21569080
#   b   0.032075 0.02390013 2.124545e-01 -0.02199085 0.08614085
#   a:b 0.156300 0.04780026 9.684932e-03  0.04816831 0.26443170
#   df 9 sigma 0.04780026
#   holm: a 0.0002474158  b 0.2124545000  a:b 0.0193698600
#
# The same with the run of cell (A2, B2) on seed 3 lost (the last row), data = d[-16, ]:
#
#       Estimate Std. Error     Pr(>|t|)       2.5 %     97.5 %
#   a   0.15889720 0.02654655 0.0003286261  0.09768077 0.22011370
#   b   0.02934722 0.02654655 0.3010774000 -0.03186923 0.09056367
#   a:b 0.15084440 0.05309309 0.0217740400  0.02841155 0.27327730
#   df 8 sigma 0.05036853
#   holm: a 0.0009858783  b 0.3010774000  a:b 0.0435480900

A2 = [0, 0, 1, 1] * 4
B2 = [0, 1, 0, 1] * 4
SEED2 = [0] * 4 + [1] * 4 + [2] * 4 + [3] * 4
Y2 = [2.5205, 2.4656, 2.6496, 2.8231, 2.5668, 2.5327, 2.6018, 2.6546,
      3.2024, 3.1994, 3.2862, 3.3913, 2.8212, 2.7289, 2.9072, 3.0167]  # fmt: skip

BALANCED = {  # term: estimate, std error, p, ci low, ci high, Holm p
    "A": (0.161625, 0.02390013, 8.247194e-05, 0.10755920, 0.21569080, 0.0002474158),
    "B": (0.032075, 0.02390013, 2.124545e-01, -0.02199085, 0.08614085, 0.2124545000),
    "A:B": (0.156300, 0.04780026, 9.684932e-03, 0.04816831, 0.26443170, 0.0193698600),
}
ONE_RUN_LOST = {
    "A": (0.15889720, 0.02654655, 0.0003286261, 0.09768077, 0.22011370, 0.0009858783),
    "B": (0.02934722, 0.02654655, 0.3010774000, -0.03186923, 0.09056367, 0.3010774000),
    "A:B": (0.15084440, 0.05309309, 0.0217740400, 0.02841155, 0.27327730, 0.0435480900),
}


def two_by_two() -> pl.DataFrame:
    return pl.DataFrame({"A": A2, "B": B2, "seed": SEED2, "y": Y2})


@pytest.mark.parametrize(
    ("rows", "expected", "df", "sigma"),
    [(16, BALANCED, 9, 0.04780026), (15, ONE_RUN_LOST, 8, 0.05036853)],
)
def test_two_by_two_matches_r(rows: int, expected: dict, df: int, sigma: float) -> None:
    result = factorial(two_by_two().head(rows), factors={"A": [0, 1], "B": [0, 1]}, metric="y")
    assert result.df_resid == df
    assert result.sigma == pytest.approx(sigma, abs=5e-8)
    for term, (estimate, se, p, low, high, holm) in expected.items():
        effect = result.effect(term)
        assert effect.estimate == pytest.approx(estimate, abs=5e-8)
        assert effect.std_error == pytest.approx(se, abs=5e-8)
        assert effect.p_value == pytest.approx(p, rel=1e-5)
        assert effect.ci_low == pytest.approx(low, abs=5e-8)
        assert effect.ci_high == pytest.approx(high, abs=5e-8)
        assert effect.p_adjusted == pytest.approx(holm, rel=1e-5)
    assert result.effect("A").verdict == "worse"  # minimize: the second level raises y
    assert result.effect("B").verdict == "indistinguishable"
    assert result.effect("A:B").verdict == "interaction"
    unbalanced = [w for w in result.warnings if "unbalanced" in w]
    assert bool(unbalanced) == (rows == 15)
    assert result.sums_of_squares == "Type III"


# A 3 x 2 factorial on 3 seeds: contrasts of A's levels against its first, the omnibus F of A
# and of A:B, and a missing cell. R 4.2:
#
#   A <- factor(c(0,0,1,1,2,2,0,0,1,1,2,2,0,0,1,1,2,2))
#   B <- factor(c(0,1,0,1,0,1,0,1,0,1,0,1,0,1,0,1,0,1))
#   seed <- factor(c(0,0,0,0,0,0,1,1,1,1,1,1,2,2,2,2,2,2))
#   y <- c(2.0092,2.032,2.0535,2.1066,1.9405,2.0721,2.2533,2.2894,2.3627,2.3987,2.2412,
#          2.3101,2.015,1.9938,2.0604,2.0571,1.9255,2.0089)
#   options(contrasts = c("contr.sum", "contr.poly"))
#   grid <- expand.grid(B = factor(0:1), A = factor(0:2))[, c("A", "B")]
#   a <- grid$A; bb <- grid$B
#   main_a <- function(j) ((a == j) - (a == 0)) / 2
#   main_b <- ((bb == 1) - (bb == 0)) / 3
#   inter <- function(j) ((a == j) - (a == 0)) * ((bb == 1) - (bb == 0))
#   report <- function(fit, terms, W) {   # W: contrasts of the model's cell means
#     X <- model.matrix(terms, grid); b <- coef(fit); V <- vcov(fit)
#     Xf <- matrix(0, nrow(X), length(b)); Xf[, match(colnames(X), names(b))] <- X
#     L <- W %*% Xf; est <- L %*% b; se <- sqrt(diag(L %*% V %*% t(L))); df <- fit$df.residual
#     print(cbind(est, se, 2 * pt(-abs(est / se), df),
#                 est - qt(0.975, df) * se, est + qt(0.975, df) * se))
#     invisible(list(L = L, b = b, V = V, df = df)) }
#   r <- report(lm(y ~ A * B + seed), ~ A * B,
#               rbind(main_a(1), main_a(2), main_b, inter(1), inter(2)))
#   wald <- function(Lq) { e <- Lq %*% r$b
#     F <- t(e) %*% solve(Lq %*% r$V %*% t(Lq)) %*% e / nrow(Lq)
#     c(F, pf(F, nrow(Lq), r$df, lower.tail = FALSE)) }
#   rbind(A = wald(r$L[1:2, ]), AB = wald(r$L[4:5, ]))
#   keep <- !(A == 2 & B == 1)         # every run of cell (A2, B1) lost
#   report(lm(y ~ A + B + seed, subset = keep), ~ A + B, rbind(main_a(1), main_a(2), main_b))
#
#           0.07438333 0.01284423 0.0001750463  0.04576460 0.10300210
#          -0.01573333 0.01284423 0.2486703000 -0.04435207 0.01288540
#   main_b  0.04526667 0.01048727 0.0015218350  0.02189957 0.06863377
#           0.01603333 0.02568847 0.5465063000 -0.04120414 0.07327080
#           0.08206667 0.02568847 0.0095776200  0.02482920 0.13930410
#   df 10
#   A  28.088070 7.879395e-05
#   AB  5.734431 2.192577e-02
#   (missing cell)
#           0.07438333 0.01227209 0.0001879081  0.046621930  0.10214470
#          -0.05275833 0.01623445 0.0100009500 -0.089483210 -0.01603345
#   main_b  0.02058333 0.01227209 0.1278073000 -0.007178066  0.04834473
#   df 9

A3 = [0, 0, 1, 1, 2, 2] * 3
B3 = [0, 1] * 9
SEED3 = [0] * 6 + [1] * 6 + [2] * 6
Y3 = [2.0092, 2.032, 2.0535, 2.1066, 1.9405, 2.0721, 2.2533, 2.2894, 2.3627, 2.3987, 2.2412,
      2.3101, 2.015, 1.9938, 2.0604, 2.0571, 1.9255, 2.0089]  # fmt: skip


def three_by_two() -> pl.DataFrame:
    return pl.DataFrame({"A": A3, "B": B3, "seed": SEED3, "y": Y3})


def check_t(effect, estimate, se, p, low, high) -> None:  # type: ignore[no-untyped-def]
    assert effect.test == "t"
    assert effect.estimate == pytest.approx(estimate, abs=5e-8)
    assert effect.std_error == pytest.approx(se, abs=5e-8)
    assert effect.p_value == pytest.approx(p, rel=1e-5)
    assert effect.ci_low == pytest.approx(low, abs=5e-8)
    assert effect.ci_high == pytest.approx(high, abs=5e-8)


def test_a_three_level_factor_gets_contrasts_and_an_omnibus_test_matching_r() -> None:
    result = factorial(three_by_two(), factors={"A": [0, 1, 2], "B": [0, 1]}, metric="y")
    assert result.df_resid == 10
    check_t(result.effect("A[1]"), 0.07438333, 0.01284423, 0.0001750463, 0.04576460, 0.10300210)
    check_t(result.effect("A[2]"), -0.01573333, 0.01284423, 0.2486703, -0.04435207, 0.01288540)
    check_t(result.effect("B"), 0.04526667, 0.01048727, 0.0015218350, 0.02189957, 0.06863377)
    check_t(result.effect("A[1]:B"), 0.01603333, 0.02568847, 0.5465063, -0.04120414, 0.0732708)
    check_t(result.effect("A[2]:B"), 0.08206667, 0.02568847, 0.00957762, 0.0248292, 0.1393041)
    omnibus_a, omnibus_ab = result.effect("A"), result.effect("A:B")
    assert (omnibus_a.test, omnibus_a.df_num, omnibus_a.df) == ("F", 2, 10)
    assert omnibus_a.statistic == pytest.approx(28.088070, rel=1e-6)
    assert omnibus_a.p_value == pytest.approx(7.879395e-05, rel=1e-5)
    assert omnibus_ab.statistic == pytest.approx(5.734431, rel=1e-6)
    assert omnibus_ab.p_value == pytest.approx(2.192577e-02, rel=1e-5)
    assert omnibus_a.verdict == "differs"
    # Seven tests in one Holm family: the smallest p (A's omnibus) times 7, the next times 6.
    assert result.n_tests == 7
    assert omnibus_a.p_adjusted == pytest.approx(7 * 7.879395e-05, rel=1e-5)
    assert result.effect("A[1]").p_adjusted == pytest.approx(6 * 0.0001750463, rel=1e-5)


def test_a_missing_cell_drops_the_interaction_and_matches_rs_additive_model() -> None:
    table = three_by_two().filter(~((pl.col("A") == 2) & (pl.col("B") == 1)))
    result = factorial(table, factors={"A": [0, 1, 2], "B": [0, 1]}, metric="y")
    assert result.df_resid == 9
    check_t(result.effect("A[1]"), 0.07438333, 0.01227209, 0.0001879081, 0.04662193, 0.1021447)
    check_t(result.effect("A[2]"), -0.05275833, 0.01623445, 0.01000095, -0.08948321, -0.01603345)
    check_t(result.effect("B"), 0.02058333, 0.01227209, 0.1278073, -0.007178066, 0.04834473)
    for term in ("A:B", "A[1]:B", "A[2]:B"):
        effect = result.effect(term)
        assert effect.verdict == "not estimable"
        assert math.isnan(effect.estimate) and math.isnan(effect.p_adjusted)
    assert result.n_tests == 4  # the three main-effect contrasts and A's omnibus
    assert any("1 of 6 cells have no runs (A=2, B=1)" in w for w in result.warnings)
    assert any("not estimable from these cells (assumed zero): A:B" in w for w in result.warnings)


def test_on_a_complete_table_the_effects_are_contrasts_of_the_seed_blocked_cell_means() -> None:
    # analysis.blocked fits y ~ cell + seed; the saturated factorial model is the same model.
    table = three_by_two()
    result = factorial(table.head(17), factors={"A": [0, 1, 2], "B": [0, 1]}, metric="y")
    values = np.full((6, 3), np.nan)
    for a, b, seed, y in table.head(17).iter_rows():
        values[2 * a + b, seed] = y
    means = fit_seed_blocked(values).effects  # cells in (A, B) order
    assert result.effect("A[2]").estimate == pytest.approx(
        (means[4] + means[5] - means[0] - means[1]) / 2, abs=1e-12
    )
    assert result.effect("A[2]:B").estimate == pytest.approx(
        (means[5] - means[4]) - (means[1] - means[0]), abs=1e-12
    )


# -- error rates by simulation -----------------------------------------------------------------

CLAIMS = {"better", "worse", "interaction", "differs"}


def simulate(
    levels: list[int], seeds: int, studies: int, rng: np.random.Generator, planted: float = 0.0
) -> tuple[float, float]:
    """Share of studies with any claim, and share that call the planted f0:f1 an interaction.
    Noise sd 1 within a seed; seed effects sd 3 (the block the model removes)."""
    cells = np.array(list(itertools.product(*[range(k) for k in levels])) * seeds)
    seed = np.repeat(np.arange(seeds), len(cells) // seeds)
    factors = {f"f{i}": [str(j) for j in range(k)] for i, k in enumerate(levels)}
    # Difference of differences = planted: cell (2, 2) and (1, 1) up by planted/4, the others down.
    interaction = planted * (cells[:, 0] - 0.5) * (cells[:, 1] - 0.5)
    any_claim = found = 0
    for _ in range(studies):
        y = rng.normal(size=len(seed)) + 3.0 * rng.normal(size=seeds)[seed] + interaction
        result = factorial_values(cells, seed, y, factors=factors)
        if planted:
            found += result.effect("f0:f1").verdict == "interaction"
        else:
            any_claim += any(e.verdict in CLAIMS for e in result.effects)
    return any_claim / studies, found / studies


def test_under_no_effects_the_family_wise_false_claim_rate_is_at_most_alpha() -> None:
    # 2^3 factorial, 4 seeds: 3 main effects and 3 interactions per study, one Holm family.
    # Holm's bound is 0.05 (about 0.049 for six independent tests); unadjusted tests would
    # claim something in about 26 % of studies. 400 studies: Monte Carlo se about 0.011; the
    # bound allows two of them. (600 studies with another seed gave 0.052, i.e. 31 of 600.)
    rate, _ = simulate([2, 2, 2], 4, 400, np.random.default_rng(20240522))
    assert rate <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / 400)


def test_under_no_effects_a_three_level_factor_with_omnibus_tests_keeps_the_rate() -> None:
    rate, _ = simulate([3, 2], 3, 250, np.random.default_rng(7))
    assert rate <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / 250)


def test_a_planted_interaction_of_two_noise_sd_is_found_with_80_percent_power_at_6_seeds() -> None:
    # 2^4 factorial (16 cells) at 6 seeds: the difference of differences has se sigma/sqrt(6)
    # and the family holds 10 effects; analytic power 0.975.
    _, power = simulate([2, 2, 2, 2], 6, 120, np.random.default_rng(3), planted=2.0)
    assert power >= 0.8


def test_a_two_by_two_needs_the_seeds_its_advice_says() -> None:
    # In a 2 x 2 the same interaction has se 2 sigma/sqrt(n): 6 seeds find it in about 43 %
    # of studies (Holm over 3 effects). The advice for a difference of differences of exactly
    # 2 sigma, and simulated studies at that many seeds reach 80 %.
    rng = np.random.default_rng(12)
    cells = np.array(list(itertools.product(range(2), range(2))) * 6)
    seed = np.repeat(np.arange(6), 4)
    # Residuals of the additive cell + seed model (double-centred), scaled to sd 1 on 15 df.
    noise = rng.normal(size=(6, 4))
    noise = noise - noise.mean(axis=0) - noise.mean(axis=1, keepdims=True) + noise.mean()
    noise *= math.sqrt(15 / (noise**2).sum())
    y = noise.ravel() + 2.0 * (cells[:, 0] - 0.5) * (cells[:, 1] - 0.5)
    result = factorial_values(cells, seed, y, factors={"a": ["0", "1"], "b": ["0", "1"]})
    effect = result.effect("a:b")
    assert result.sigma == pytest.approx(1.0)
    assert effect.estimate == pytest.approx(2.0)
    advised = effect.seeds_needed
    assert advised is not None and 10 <= advised <= 14
    _, at_6 = simulate([2, 2], 6, 150, np.random.default_rng(4), planted=2.0)
    _, at_advised = simulate([2, 2], advised, 150, np.random.default_rng(5), planted=2.0)
    assert at_6 < 0.6
    assert at_advised >= 0.8 - 2 * math.sqrt(0.8 * 0.2 / 150)


# -- verdicts, fractions, input ----------------------------------------------------------------


def test_direction_and_margin_shape_the_verdicts() -> None:
    table = two_by_two()
    maximize = factorial(
        table, factors={"A": [0, 1], "B": [0, 1]}, metric="y", direction="maximize"
    )
    assert maximize.effect("A").verdict == "better"
    equivalent = factorial(table, factors={"A": [0, 1], "B": [0, 1]}, metric="y", margin=0.2)
    # B's CI [-0.022, 0.086] lies inside +-0.2 (its TOST joins the Holm family); A's does not.
    assert equivalent.effect("B").verdict == "equivalent"
    assert equivalent.effect("A").verdict == "worse"
    assert equivalent.n_tests == 6


def test_zero_noise_and_one_seed_give_no_verdict_and_say_why() -> None:
    flat = two_by_two().with_columns(pl.col("A").cast(float) * 0.1 + pl.col("seed") * 1.0)
    zero = factorial(flat.rename({"A": "a"}).with_columns(pl.Series("A", A2)),
                     factors={"A": [0, 1], "B": [0, 1]}, metric="a")  # fmt: skip
    assert {e.verdict for e in zero.effects} == {"indistinguishable"}
    assert any("no spread" in w for w in zero.warnings)
    one_seed = factorial(two_by_two().head(4), factors={"A": [0, 1], "B": [0, 1]}, metric="y")
    assert {e.verdict for e in one_seed.effects} == {"indistinguishable"}
    assert any("no residual degrees of freedom" in w for w in one_seed.warnings)


def test_a_half_fraction_estimates_main_effects_and_names_the_aliases() -> None:
    # 2^(4-1), d = abc: the 8 cells of the fraction on 3 seeds, planted main effects only.
    rng = np.random.default_rng(11)
    base = np.array(list(itertools.product(range(2), repeat=3)))
    d = (np.sum(base, axis=1) % 2).reshape(-1, 1)  # d = abc in -1/+1 coding
    cells = np.tile(np.hstack([base, d]), (3, 1))
    seed = np.repeat(np.arange(3), 8)
    y = cells @ np.array([0.5, -0.3, 0.0, 0.2]) + 0.05 * rng.normal(size=24)
    result = factorial_values(cells, seed, y, factors={k: ["0", "1"] for k in ("a", "b", "c", "d")})
    assert result.cells_run == 8 and result.cells_total == 16
    assert result.effect("a").estimate == pytest.approx(0.5, abs=0.1)
    assert result.effect("a").aliases == ("b:c:d",)
    assert result.effect("a:b").aliases == ("c:d",)
    # c:d, b:d and b:c are the aliases of a:b, a:c and a:d: reported there, not again.
    assert {e.term for e in result.effects if e.kind == "interaction"} == {"a:b", "a:c", "a:d"}
    assert not any("not estimable" in w for w in result.warnings)  # a:b:c:d is the relation
    assert result.effect("b").verdict == "better"


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(AnalysisError, match="no column 'C'"):
        factorial(two_by_two(), factors=["A", "C"], metric="y")
    with pytest.raises(AnalysisError, match=r"values \['2'\] that are not among its levels"):
        factorial(two_by_two().with_columns(pl.lit(2).alias("A")), factors={"A": [0, 1]},
                  metric="y")  # fmt: skip
    with pytest.raises(AnalysisError, match="at least two levels"):
        factorial(two_by_two().filter(pl.col("A") == 0), factors=["A"], metric="y")


def test_to_dict_has_the_documented_fields() -> None:
    result = factorial(two_by_two(), factors=["A", "B"], metric="y")
    data = result.to_dict()
    for effect in data["effects"]:
        for key in ("term", "estimate", "ci_low", "ci_high", "p_value", "p_adjusted", "verdict",
                    "seeds_needed"):  # fmt: skip
            assert key in effect
    assert [e["term"] for e in data["effects"]] == ["A", "B", "A:B"]
    assert data["sums_of_squares"] == "Type III"
