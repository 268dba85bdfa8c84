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
# The effects are least-squares contrasts (lm's estimates) whose standard errors come from one
# error variance per cell (analysis.unequal_variances: unbiased cell variances from the
# residuals, the sandwich (X'X)^-1 X' diag(omega) X (X'X)^-1, Satterthwaite df; the pooled
# lm variance is what the model used before issue 32). R 4.x, sandwich 3.x, the script run
# once (factors coded -1/2, +1/2 for the 2 x 2, treatment contrasts for the 3 x 2):
#
#   library(sandwich)
#   # Per-cell error variances: unbiased from the residuals, E[RSS_g] = sum_h A[g,h] s2_h with
#   # A[g,h] = sum of M_ij^2 over runs i of cell g and j of cell h (M = I - hat matrix).
#   cell_fit <- function(fit, cell) {
#     X <- model.matrix(fit); M <- diag(nrow(X)) - X %*% solve(crossprod(X)) %*% t(X)
#     G <- outer(cell, sort(unique(cell)), "==") * 1
#     A <- t(G) %*% M^2 %*% G; rss <- t(G) %*% residuals(fit)^2
#     s2 <- solve(A, rss)
#     omega <- as.vector(G %*% s2)
#     Bread <- solve(crossprod(X)); V <- Bread %*% t(X) %*% diag(omega) %*% X %*% Bread
#     Bm <- M %*% diag(as.vector(G %*% pmax(s2, 0))) %*% M
#     Fm <- t(G) %*% Bm^2 %*% G
#     list(X = X, G = G, A = A, s2 = s2, V = V, Fm = Fm)
#   }
#   contrast <- function(fit, cf, l) {
#     w <- as.vector(l %*% solve(crossprod(cf$X)) %*% t(cf$X))
#     g <- as.vector(t(cf$G) %*% w^2); cc <- solve(cf$A, g)
#     est <- sum(l * coef(fit)); se <- sqrt(as.vector(t(l) %*% cf$V %*% l))
#     df <- as.vector((t(cc) %*% cf$A %*% pmax(cf$s2, 0))^2 / (t(cc) %*% cf$Fm %*% cc))
#     p <- 2 * pt(-abs(est / se), df); h <- qt(0.975, df) * se
#     c(est = est, se = se, df = df, p = p, low = est - h, high = est + h)
#   }
#   options(digits = 12)
#   A <- c(0,0,1,1,0,0,1,1,0,0,1,1,0,0,1,1); B <- c(0,1,0,1,0,1,0,1,0,1,0,1,0,1,0,1)
#   seed <- c(0,0,0,0,1,1,1,1,2,2,2,2,3,3,3,3)
#   y <- c(2.5205,2.4656,2.6496,2.8231,2.5668,2.5327,2.6018,2.6546,
#          3.2024,3.1994,3.2862,3.3913,2.8212,2.7289,2.9072,3.0167)
#   d <- data.frame(a = A - 0.5, b = B - 0.5, seed = factor(seed), y = y, cell = 2 * A + B)
#   for (rows in list(1:16, 1:15)) {
#     dd <- d[rows, ]; fit <- lm(y ~ a * b + seed, data = dd); cf <- cell_fit(fit, dd$cell)
#     for (term in c("a", "b", "a:b")) {
#       l <- as.numeric(names(coef(fit)) == term); print(c(term, contrast(fit, cf, l)))
#     }
#     print(vcovHC(fit, type = "HC3")[c("a", "b", "a:b"), c("a", "b", "a:b")])
#     print(vcovHC(fit, type = "HC2")[c("a", "b", "a:b"), c("a", "b", "a:b")])
#   }
#   print(cell_fit(lm(y ~ a * b + seed, data = d), d$cell)$s2)
#   # 3 x 2 on 3 seeds
#   A3 <- c(0,0,1,1,2,2,0,0,1,1,2,2,0,0,1,1,2,2); B3 <- rep(c(0,1), 9); S3 <- rep(0:2, each = 6)
#   Y3 <- c(2.0092, 2.032, 2.0535, 2.1066, 1.9405, 2.0721, 2.2533, 2.2894, 2.3627, 2.3987, 2.2412,
#           2.3101, 2.015, 1.9938, 2.0604, 2.0571, 1.9255, 2.0089)
#   d3 <- data.frame(A = factor(A3), B = factor(B3), seed = factor(S3), y = Y3, cell = 2 * A3 + B3)
#   fit3 <- lm(y ~ A * B + seed, data = d3); cf3 <- cell_fit(fit3, d3$cell)
#   # cell means (averaged over seeds) as linear functions of the coefficients
#   grid <- expand.grid(A = factor(0:2), B = factor(0:1), seed = factor(0:2))
#   Xg <- model.matrix(~ A * B + seed, grid)
#   cellrow <- function(a, b) colMeans(Xg[grid$A == a & grid$B == b, , drop = FALSE])
#   main_a <- function(j) (cellrow(j, 0) + cellrow(j, 1) - cellrow(0, 0) - cellrow(0, 1)) / 2
#   main_b <- (cellrow(0, 1) + cellrow(1, 1) + cellrow(2, 1) -
#              cellrow(0, 0) - cellrow(1, 0) - cellrow(2, 0)) / 3
#   inter <- function(j) cellrow(j, 1) - cellrow(j, 0) - cellrow(0, 1) + cellrow(0, 0)
#   L <- rbind(main_a(1), main_a(2), main_b, inter(1), inter(2))
#   for (i in 1:5) print(contrast(fit3, cf3, L[i, ]))
#   wald <- function(Lq) { e <- Lq %*% coef(fit3); W <- Lq %*% cf3$V %*% t(Lq)
#     F <- as.vector(t(e) %*% solve(W, e) / nrow(Lq))
#     df <- min(sapply(1:nrow(Lq), function(i) contrast(fit3, cf3, Lq[i, ])["df"]))
#     c(F = F, df = df, p = pf(F, nrow(Lq), df, lower.tail = FALSE)) }
#   print(rbind(A = wald(L[1:2, ]), AB = wald(L[4:5, ])))
#   print(cf3$s2)
#   # every run of cell (A2, B1) lost: the additive model
#   k <- !(A3 == 2 & B3 == 1); d4 <- d3[k, ]
#   fit4 <- lm(y ~ A + B + seed, data = d4); cf4 <- cell_fit(fit4, d4$cell)
#   Xg4 <- model.matrix(~ A + B + seed, grid)
#   cellrow4 <- function(a, b) colMeans(Xg4[grid$A == a & grid$B == b, , drop = FALSE])
#   ma4 <- function(j) (cellrow4(j, 0) + cellrow4(j, 1) - cellrow4(0, 0) - cellrow4(0, 1)) / 2
#   mb4 <- (cellrow4(0, 1) + cellrow4(1, 1) + cellrow4(2, 1) -
#           cellrow4(0, 0) - cellrow4(1, 0) - cellrow4(2, 0)) / 3
#   for (l in list(ma4(1), ma4(2), mb4)) print(contrast(fit4, cf4, l))
#
# Output, 2 x 2 (est, se, df; then p, CI 95 %):
#   a 0.161625 0.0239001278471709 5.68604526917353
#     0.000638811767776679 0.102351771998995 0.220898228001005
#   b 0.032075 0.0239001278471709 5.68604526917353
#     0.230683255717589 -0.027198228001005 0.091348228001005
#   a:b 0.1563 0.0478002556943419 5.68604526917353
#       0.0184122819131375 0.0377535439979905 0.27484645600201
# and with the run of cell (A2, B2) on seed 3 lost (rows 1:15):
#   a 0.158897222222222 0.0307771121568619 3.18779888178617
#     0.0121141738927398 0.0641354900029687 0.253658954441476
#   b 0.0293472222222223 0.0307771121568619 3.18779888178617
#     0.406883981593334 -0.0654145099970314 0.124108954441476
#   a:b 0.150844444444445 0.0615542243137238 3.18779888178617
#       0.0866084409432033 -0.0386790199940629 0.340367908882952
# sandwich::vcovHC(fit, type = "HC3") and "HC2" on the 16 runs, rows/columns a, b, a:b:
#   HC3 0.00101549530864  0.00030314000000  0.00137847703704
#       0.00030314000000  0.00101549530864  0.00015381037037
#       0.00137847703704  0.00015381037037  0.00406198123457
#   HC2 0.000571216111111 1.70516250000e-04 7.75393333333e-04
#       0.000170516250000 5.71216111111e-04 8.65183333333e-05
#       0.000775393333333 8.65183333333e-05 2.28486444444e-03

A2 = [0, 0, 1, 1] * 4
B2 = [0, 1, 0, 1] * 4
SEED2 = [0] * 4 + [1] * 4 + [2] * 4 + [3] * 4
Y2 = [2.5205, 2.4656, 2.6496, 2.8231, 2.5668, 2.5327, 2.6018, 2.6546,
      3.2024, 3.1994, 3.2862, 3.3913, 2.8212, 2.7289, 2.9072, 3.0167]  # fmt: skip

BALANCED = {  # term: estimate, std error, p, ci low, ci high, Holm p; df 5.68604526917353
    "A": (0.161625, 0.0239001278471709, 0.000638811767776679, 0.102351771998995,
          0.220898228001005, 3 * 0.000638811767776679),
    "B": (0.032075, 0.0239001278471709, 0.230683255717589, -0.027198228001005,
          0.091348228001005, 0.230683255717589),
    "A:B": (0.1563, 0.0478002556943419, 0.0184122819131375, 0.0377535439979905,
            0.27484645600201, 2 * 0.0184122819131375),
}  # fmt: skip
ONE_RUN_LOST = {  # df 3.18779888178617
    "A": (0.158897222222222, 0.0307771121568619, 0.0121141738927398, 0.0641354900029687,
          0.253658954441476, 3 * 0.0121141738927398),
    "B": (0.0293472222222223, 0.0307771121568619, 0.406883981593334, -0.0654145099970314,
          0.124108954441476, 0.406883981593334),
    "A:B": (0.150844444444445, 0.0615542243137238, 0.0866084409432033, -0.0386790199940629,
            0.340367908882952, 2 * 0.0866084409432033),
}  # fmt: skip


def two_by_two() -> pl.DataFrame:
    return pl.DataFrame({"A": A2, "B": B2, "seed": SEED2, "y": Y2})


@pytest.mark.parametrize(
    ("rows", "expected", "df", "sigma"),
    [
        (16, BALANCED, 5.68604526917353, 0.04780026),
        (15, ONE_RUN_LOST, 3.18779888178617, 0.05036853),
    ],
)
def test_two_by_two_matches_r(rows: int, expected: dict, df: float, sigma: float) -> None:
    result = factorial(two_by_two().head(rows), factors={"A": [0, 1], "B": [0, 1]}, metric="y")
    assert result.df_resid == rows - 7  # the pooled model's, still reported with its sigma
    assert result.sigma == pytest.approx(sigma, abs=5e-8)
    for term, (estimate, se, p, low, high, holm) in expected.items():
        effect = result.effect(term)
        assert effect.estimate == pytest.approx(estimate, abs=5e-8)
        assert effect.std_error == pytest.approx(se, abs=5e-8)
        assert effect.df == pytest.approx(df, rel=1e-9)
        assert effect.p_value == pytest.approx(p, rel=1e-5)
        assert effect.ci_low == pytest.approx(low, abs=5e-8)
        assert effect.ci_high == pytest.approx(high, abs=5e-8)
        assert effect.p_adjusted == pytest.approx(holm, rel=1e-5)
    assert result.effect("A").verdict == "worse"  # minimize: the second level raises y
    assert result.effect("B").verdict == "indistinguishable"
    # With a lost run the cell variances rest on 3.2 df: the interaction is no longer shown.
    assert result.effect("A:B").verdict == ("interaction" if rows == 16 else "indistinguishable")
    unbalanced = [w for w in result.warnings if "unbalanced" in w]
    assert bool(unbalanced) == (rows == 15)
    assert result.sums_of_squares == "Type III"


# A 3 x 2 factorial on 3 seeds: contrasts of A's levels against its first, the omnibus F of A
# and of A:B, and a missing cell. The asserted values are the cell-variance ones from the
# script above (its 3 x 2 part), whose output is:
#
#   A[1] 0.07438333333333 0.01373668648385 4.31269015284804
#        0.00453046891506 0.03731037733597 0.11145628933070
#   A[2] -0.0157333333333 0.0127600407087 3.6420866409387
#        0.2911760762937 -0.0525770876342 0.0211104209676
#   B 0.04526666666667 0.01048727270976 6.59439815098009
#     0.00401774600403 0.02015562934951 0.07037770398382
#   A[1]:B 0.0160333333333 0.0274733729677 4.3126901528480
#          0.5886610846935 -0.0581125786614 0.0901792453281
#   A[2]:B 0.08206666666667 0.02552008141749 3.64208664093869
#          0.03704658329044 0.00837915806489 0.15575417526845
#   omnibus (F, df, p): A 29.93326536609 3.64208664094 0.00548538096704
#                       AB 6.52693537423 3.64208664094 0.06249064009334
#   missing cell, additive model: A[1] 0.07438333333333 0.01340838549518 4.71234597983894
#     0.00314689363396 0.03927343506581 0.10949323160085; A[2] -0.05275833333333
#     0.01676906164851 2.55441276802197 0.06386125062535 -0.11179817665506 0.00628150998839;
#     B 0.0205833333333 0.0134083854952 4.7123459798389 0.1888534819165 -0.0145265649342
#     0.0556932316009
#
# The pooled-variance values (lm's own summary, what the model gave before) came from R 4.2:
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
    check_t(result.effect("A[1]"), 0.07438333333333, 0.01373668648385, 0.00453046891506,
            0.03731037733597, 0.11145628933070)  # fmt: skip
    check_t(result.effect("A[2]"), -0.0157333333333, 0.0127600407087, 0.2911760762937,
            -0.0525770876342, 0.0211104209676)  # fmt: skip
    check_t(result.effect("B"), 0.04526666666667, 0.01048727270976, 0.00401774600403,
            0.02015562934951, 0.07037770398382)  # fmt: skip
    check_t(result.effect("A[1]:B"), 0.0160333333333, 0.0274733729677, 0.5886610846935,
            -0.0581125786614, 0.0901792453281)  # fmt: skip
    check_t(result.effect("A[2]:B"), 0.08206666666667, 0.02552008141749, 0.03704658329044,
            0.00837915806489, 0.15575417526845)  # fmt: skip
    assert result.effect("B").df == pytest.approx(6.59439815098009, rel=1e-9)
    omnibus_a, omnibus_ab = result.effect("A"), result.effect("A:B")
    assert (omnibus_a.test, omnibus_a.df_num) == ("F", 2)
    assert omnibus_a.df == pytest.approx(3.64208664094, rel=1e-9)
    assert omnibus_a.statistic == pytest.approx(29.93326536609, rel=1e-8)
    assert omnibus_a.p_value == pytest.approx(0.00548538096704, rel=1e-6)
    assert omnibus_ab.statistic == pytest.approx(6.52693537423, rel=1e-8)
    assert omnibus_ab.p_value == pytest.approx(0.06249064009334, rel=1e-6)
    assert omnibus_a.verdict == "differs"
    # Seven tests in one Holm family: the smallest p (B) times 7; A[1] next, times 6, is below
    # that, so Holm's monotone step carries B's value.
    assert result.n_tests == 7
    assert result.effect("B").p_adjusted == pytest.approx(7 * 0.00401774600403, rel=1e-6)
    assert result.effect("A[1]").p_adjusted == pytest.approx(7 * 0.00401774600403, rel=1e-6)


def test_a_missing_cell_drops_the_interaction_and_matches_r() -> None:
    table = three_by_two().filter(~((pl.col("A") == 2) & (pl.col("B") == 1)))
    result = factorial(table, factors={"A": [0, 1, 2], "B": [0, 1]}, metric="y")
    assert result.df_resid == 9
    check_t(result.effect("A[1]"), 0.07438333333333, 0.01340838549518, 0.00314689363396,
            0.03927343506581, 0.10949323160085)  # fmt: skip
    check_t(result.effect("A[2]"), -0.05275833333333, 0.01676906164851, 0.06386125062535,
            -0.11179817665506, 0.00628150998839)  # fmt: skip
    check_t(result.effect("B"), 0.0205833333333, 0.0134083854952, 0.1888534819165,
            -0.0145265649342, 0.0556932316009)  # fmt: skip
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
