"""Least-squares contrasts whose errors may have a different variance in each group of runs.

The model is any linear model ``y = X beta + e`` fitted by ordinary least squares, with
independent errors whose variance depends on the run's group: ``Var(e_i) = sigma_g(i)^2``
(a group is a variant of the seed-blocked model, a cell of a factorial). The estimate of a
contrast ``l'beta`` is the ordinary one, unbiased whatever the variances; what changes is its
standard error and degrees of freedom:

- **Per-group variances, unbiased.** With ``M = I - H`` the residual maker, the residuals of
  group ``g`` have ``E[RSS_g] = sum_h A[g, h] sigma_h^2`` where ``A[g, h]`` sums ``M_ij^2``
  over runs ``i`` of ``g`` and ``j`` of ``h``. Solving ``A sigma^2 = RSS`` gives unbiased
  group variances (Rao's MINQUE for this variance model); a contrast's variance
  ``sum_i w_i^2 sigma_g(i)^2`` (``w`` its weights on the runs) is estimated by the same linear
  combination of the ``RSS_g``. It is estimable only when that combination exists: a group
  whose runs leave no residual (a variant with a single run, a cell with one run and its own
  parameter) has no variance of its own, and a contrast that puts weight on it cannot be
  tested.
- **Satterthwaite degrees of freedom.** The variance estimate is a quadratic form
  ``e'Qe`` in normal errors; matching its first two moments to a scaled chi-square gives
  ``df = tr(Q Sigma)^2 / tr((Q Sigma)^2)``, computed with the estimated group variances
  (negative estimates taken as 0). Where the estimate is exactly a scaled chi-square (two
  variants on the same seeds: the paired t-test) this is that chi-square's df, whatever the
  variances.

With equal group sizes and equal variances this is close to the pooled model; with unequal
variances it stays valid where the pooled one does not (docs/statistics.md: simulations).

:func:`hc_covariance` gives the classic heteroscedasticity-consistent covariances HC0-HC3
(one variance per run) for comparison; both are checked against R's ``sandwich::vcovHC`` in
``tests/analysis/test_unequal_variances.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from analysis.distributions import FloatArray, TTest

__all__ = [
    "ContrastTests",
    "GroupVarianceFit",
    "contrast_covariance",
    "contrasts_with_group_variances",
    "fit_group_variances",
    "hc_covariance",
    "seed_blocked_variant_contrast",
]

# Relative cut-off below which a singular value is zero (designs are 0/±1 columns).
RANK_TOLERANCE = 1e-9


@dataclass(frozen=True, kw_only=True)
class GroupVarianceFit:
    """An ordinary least-squares fit with one error variance per group of runs.

    Attributes:
        beta: ``(p,)`` coefficients (minimum-norm where the design is rank-deficient).
        bread: ``(p, p)`` pseudo-inverse of ``X'X``.
        design: ``(n, p)`` the design matrix.
        groups: ``(n,)`` each run's group index, ``0..G-1``.
        variances: ``(G,)`` unbiased group variances (a minimum-norm solution where only
            combinations of them are estimable; may be negative by chance).
        residual_share: ``(G, G)`` the matrix ``A`` with ``E[RSS] = A sigma^2``.
        residual_sums: ``(G,)`` each group's residual sum of squares.
        df_resid: ``n - rank(X)``.
    """

    beta: FloatArray
    bread: FloatArray
    design: FloatArray
    groups: np.ndarray
    variances: FloatArray
    residual_share: FloatArray
    residual_sums: FloatArray
    df_resid: int
    _share_pinv: FloatArray
    _fourth_moments: FloatArray


@dataclass(frozen=True, kw_only=True)
class ContrastTests(TTest):
    """t-tests of contrasts ``l'beta`` of a linear model (arrays over the contrasts): the one
    result type of the seed-blocked model (:mod:`analysis.blocked`, one pooled variance) and of
    the per-group variances here.

    Attributes:
        estimate: ``l'beta``.
        std_error: its estimated standard error (NaN where not estimable).
        df: the test's degrees of freedom: Satterthwaite's under per-group variances, the
            model's residual df under a pooled one (NaN where not estimable).
        statistic, p_value, ci_low, ci_high: the t-test and ``1 - alpha`` interval.
        estimable: whether the contrast and its variance can be estimated (for the blocked
            model: the two variants are connected by shared seeds; here also: every group it
            puts weight on has a variance the residuals can tell).
    """

    estimable: np.ndarray


def fit_group_variances(design: ArrayLike, y: ArrayLike, groups: ArrayLike) -> GroupVarianceFit:
    """Fit ``y ~ design`` by least squares and estimate one error variance per group.

    Args:
        design: ``(n, p)`` design matrix (may be rank-deficient).
        y: ``(n,)`` responses (finite).
        groups: ``(n,)`` group index of each run, integers ``0..G-1``.

    Returns:
        The fit (see :class:`GroupVarianceFit`).
    """
    x = np.asarray(design, dtype=np.float64)
    response = np.asarray(y, dtype=np.float64)
    group = np.asarray(groups, dtype=np.int64)
    n_groups = int(group.max()) + 1
    bread = np.linalg.pinv(x.T @ x, hermitian=True)
    beta = bread @ (x.T @ response)
    maker = np.eye(len(response)) - x @ bread @ x.T  # M = I - H
    residual = maker @ response
    indicator = np.zeros((len(response), n_groups))
    indicator[np.arange(len(response)), group] = 1.0
    share = indicator.T @ (maker**2) @ indicator
    sums = indicator.T @ (residual**2)
    share_pinv = np.linalg.pinv(share, hermitian=True, rcond=RANK_TOLERANCE)
    variances = share_pinv @ sums
    # Satterthwaite's df needs tr((Q S)^2) = d'(B o B)d with B = M S M, S the run variances;
    # grouped, that is c' F c with F[g, h] = sum of B_ij^2 over runs of g and h.
    run_variance = np.maximum(variances, 0.0)[group]
    spread = (maker * run_variance[None, :]) @ maker
    fourth = indicator.T @ (spread**2) @ indicator
    rank = len(response) - round(float(np.trace(maker)))  # tr(M) = n - rank(X)
    return GroupVarianceFit(
        beta=beta,
        bread=np.asarray(bread, dtype=np.float64),
        design=x,
        groups=group,
        variances=variances,
        residual_share=share,
        residual_sums=sums,
        df_resid=len(response) - rank,
        _share_pinv=np.asarray(share_pinv, dtype=np.float64),
        _fourth_moments=fourth,
    )


def contrasts_with_group_variances(
    fit: GroupVarianceFit, rows: ArrayLike, *, alpha: float = 0.05
) -> ContrastTests:
    """t-tests and ``1 - alpha`` CIs of the contrasts ``rows @ beta``.

    Args:
        fit: from :func:`fit_group_variances`.
        rows: ``(m, p)`` contrast coefficients (each row estimable in the design).
        alpha: two-sided level of the intervals.

    Returns:
        The tests; NaN where the contrast's variance is not estimable or is not positive.
    """
    rows = np.atleast_2d(np.asarray(rows, dtype=np.float64))
    n_groups = fit.residual_share.shape[0]
    weights = rows @ fit.bread @ fit.design.T  # (m, n): the estimate is weights @ y
    per_group = np.zeros((rows.shape[0], n_groups))
    np.add.at(per_group.T, fit.groups, (weights**2).T)
    moments = _Moments(
        share=fit.residual_share,
        share_pinv=fit._share_pinv,
        sums=fit.residual_sums,
        variances=fit.variances,
        fourth=fit._fourth_moments,
    )
    return _tests(rows @ fit.beta, per_group, moments, alpha)


@dataclass(frozen=True, kw_only=True)
class _Moments:
    """What a contrast's variance and df need from a fit: ``A`` and its pseudo-inverse, the
    group residual sums, the group variances and ``F`` (Satterthwaite's second moments)."""

    share: FloatArray
    share_pinv: FloatArray
    sums: FloatArray
    variances: FloatArray
    fourth: FloatArray


def _tests(
    estimate: FloatArray, per_group: FloatArray, moments: _Moments, alpha: float
) -> ContrastTests:
    """The t-tests of contrasts with run weights whose squares sum to ``per_group`` per group."""
    # The variance sum_g per_group[g] sigma_g^2 is estimable when per_group lies in A's row
    # space; its unbiased estimate is then c'RSS with c = A^+ per_group.
    coefficient = per_group @ moments.share_pinv
    reached = coefficient @ moments.share
    scale = np.maximum(np.abs(per_group).max(axis=1), 1e-300)
    estimable = np.abs(reached - per_group).max(axis=1) <= 1e-7 * scale
    variance = coefficient @ moments.sums
    expected = np.einsum("mg,gh,h->m", coefficient, moments.share,
                         np.maximum(moments.variances, 0.0))  # fmt: skip
    second = np.einsum("mg,gh,mh->m", coefficient, moments.fourth, coefficient)
    testable = estimable & (variance > 0) & (second > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        df = expected**2 / np.where(second > 0, second, 1.0)
    # Satterthwaite's df is 0 where the group variances it is computed with are all taken as
    # 0: no test then, and no standard error or df reported either.
    usable = testable & (df > 0)
    df = np.where(usable, df, np.nan)
    std_error = np.where(usable, np.sqrt(np.where(variance > 0, variance, 0.0)), np.nan)
    return ContrastTests.of(estimate, std_error, df, alpha=alpha, estimable=estimable)


def seed_blocked_variant_contrast(
    values: ArrayLike, a: int, b: int, *, alpha: float = 0.05
) -> tuple[ContrastTests, FloatArray]:
    """The contrast ``mu[a] - mu[b]`` of ``y ~ variant + seed`` with one error variance per
    variant: what :func:`fit_group_variances` and :func:`contrasts_with_group_variances` give
    on that design, computed with the seed effects absorbed (cost linear in the runs, not
    cubic; the two agree to rounding, ``tests/analysis/test_unequal_variances.py``).

    With ``W`` the within-seed centring and ``z_i`` the centred variant indicator of run
    ``i``, the residual maker is ``M = W - Z P Z'`` (``P = (Z'Z)^+``): entries across seeds are
    the bilinear form ``-z_i'P z_j``, so sums of their squares over two variants are traces of
    ``k x k`` matrices, and entries within a seed (at most ``k`` runs each) are added run by
    run. ``M Sigma M`` has the same shape with ``x_i = (z_i, q_i)``, ``q_i = (W Sigma W V)_i``.

    Args:
        values: ``(k, S)`` metric per variant and seed, NaN where the run is missing; every
            seed column should have at least 2 runs (a lone run says nothing).
        a, b: the variants compared.
        alpha: two-sided level of the interval.

    Returns:
        The test (arrays of one) and the unbiased variant variances.
    """
    y = np.asarray(values, dtype=np.float64)
    k = y.shape[0]
    variant, seed = np.nonzero(np.isfinite(y))
    response = y[variant, seed]
    _, seed = np.unique(seed, return_inverse=True)
    n_seeds = int(seed.max()) + 1
    per_seed = np.bincount(seed, minlength=n_seeds).astype(np.float64)
    seed_mean = np.bincount(seed, weights=response, minlength=n_seeds) / per_seed
    indicator = np.eye(k)[variant]  # (n, k)
    share_of_seed = np.zeros((n_seeds, k))
    np.add.at(share_of_seed, seed, indicator)
    z = indicator - share_of_seed[seed] / per_seed[seed, None]  # rows of Z = W V
    normal = z.T @ z
    inverse = np.linalg.pinv(normal, hermitian=True)
    effects = inverse @ (z.T @ response)
    residual = response - seed_mean[seed] - z @ effects
    contrast = np.zeros(k)
    contrast[a], contrast[b] = 1.0, -1.0
    weights = z @ (inverse @ contrast)
    # Same-seed run pairs (i, j), i = j included: W_ij = delta_ij - 1/n_s there.
    order = np.argsort(seed, kind="stable")
    start = np.searchsorted(seed[order], np.arange(n_seeds))
    ii_list, jj_list = [], []
    for offset_i in range(k):
        for offset_j in range(k):
            has = (offset_i < per_seed) & (offset_j < per_seed)
            ii_list.append(order[start[has] + offset_i])
            jj_list.append(order[start[has] + offset_j])
    ii, jj = np.concatenate(ii_list), np.concatenate(jj_list)
    local_w = (ii == jj) - 1.0 / per_seed[seed[ii]]
    zpz = np.einsum("pk,kl,pl->p", z[ii], inverse, z[jj])

    def grouped(values_ij: np.ndarray) -> np.ndarray:
        out = np.zeros((k, k))
        np.add.at(out, (variant[ii], variant[jj]), values_ij)
        return out

    def trace_term(vectors: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        # sum over runs i of g and j of h of (x_i' K x_j)^2 = tr(K T_h K T_g)
        t = np.einsum("ng,na,nb->gab", indicator, vectors, vectors)
        kt = np.einsum("ab,gbc->gac", kernel, t)
        return np.asarray(np.einsum("hab,gba->gh", kt, kt))

    share = trace_term(z, inverse) + grouped(local_w**2 - 2.0 * local_w * zpz)
    sums = indicator.T @ residual**2
    share_pinv = np.linalg.pinv(share, hermitian=True, rcond=RANK_TOLERANCE)
    variances = share_pinv @ sums
    run_variance = np.maximum(variances, 0.0)[variant]
    # D = W Sigma W within a seed: sigma_i^2 delta_ij - (sigma_i^2 + sigma_j^2)/n + sum/n^2.
    n_of = per_seed[seed[ii]]
    seed_total = np.bincount(seed, weights=run_variance, minlength=n_seeds)[seed[ii]]
    local_d = (
        run_variance[ii] * (ii == jj)
        - (run_variance[ii] + run_variance[jj]) / n_of
        + seed_total / n_of**2
    )
    q = np.zeros((len(response), k))
    np.add.at(q, (ii, variant[jj]), local_d)
    middle = inverse @ (z.T @ (z * run_variance[:, None])) @ inverse  # P G P
    kernel = np.block([[middle, -inverse], [-inverse, np.zeros((k, k))]])
    x = np.hstack([z, q])
    bilinear = np.einsum("pa,ab,pb->p", x[ii], kernel, x[jj])
    fourth = trace_term(x, kernel) + grouped(local_d**2 + 2.0 * local_d * bilinear)
    per_group = (indicator * (weights**2)[:, None]).sum(axis=0)[None, :]
    moments = _Moments(
        share=share, share_pinv=share_pinv, sums=sums, variances=variances, fourth=fourth
    )
    estimate = np.array([contrast @ effects])
    return _tests(estimate, per_group, moments, alpha), np.asarray(variances)


def contrast_covariance(fit: GroupVarianceFit, rows: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """The estimated covariance of ``rows @ beta`` under per-group variances, and each row's
    Satterthwaite df (for a Wald test of several contrasts at once).

    Entry ``(r, s)`` is ``sum_i w_ri w_si sigma_g(i)^2`` with the unbiased group variances
    (the variances of :func:`contrasts_with_group_variances` on the diagonal).

    Args:
        fit: from :func:`fit_group_variances`.
        rows: ``(m, p)`` contrast coefficients.

    Returns:
        ``(m, m)`` covariance (NaN where some row's variance is not estimable) and ``(m,)`` df.
    """
    rows = np.atleast_2d(np.asarray(rows, dtype=np.float64))
    n_groups = fit.residual_share.shape[0]
    weights = rows @ fit.bread @ fit.design.T
    products = np.zeros((n_groups, rows.shape[0], rows.shape[0]))
    np.add.at(products, fit.groups, weights.T[:, :, None] * weights.T[:, None, :])
    covariance = np.einsum("g,grs->rs", fit._share_pinv @ fit.residual_sums, products)
    single = contrasts_with_group_variances(fit, rows)
    if not single.estimable.all():
        covariance = np.full_like(covariance, np.nan)
    return covariance, single.df


def hc_covariance(
    design: ArrayLike, residuals: ArrayLike, kind: Literal["HC0", "HC1", "HC2", "HC3"] = "HC3"
) -> FloatArray:
    """The sandwich covariance ``(X'X)^-1 X' diag(omega) X (X'X)^-1`` of R's
    ``sandwich::vcovHC(fit, type = kind)``, one variance per run.

    ``omega_i`` is ``e_i^2`` (HC0), times ``n / (n - p)`` (HC1), divided by ``1 - h_ii``
    (HC2) or by ``(1 - h_ii)^2`` (HC3), with ``h_ii`` the leverages and ``p`` the rank.

    Args:
        design: ``(n, p)`` design matrix.
        residuals: ``(n,)`` least-squares residuals.
        kind: which of the four.

    Returns:
        ``(p, p)`` covariance of the coefficients.
    """
    x = np.asarray(design, dtype=np.float64)
    e = np.asarray(residuals, dtype=np.float64)
    bread = np.linalg.pinv(x.T @ x, hermitian=True)
    leverage = np.einsum("ij,jk,ik->i", x, bread, x)
    n, rank = len(e), int(np.linalg.matrix_rank(x))
    if kind == "HC0":
        omega = e**2
    elif kind == "HC1":
        omega = e**2 * n / (n - rank)
    elif kind == "HC2":
        omega = e**2 / (1.0 - leverage)
    elif kind == "HC3":
        omega = e**2 / (1.0 - leverage) ** 2
    else:
        raise ValueError(f"kind must be HC0, HC1, HC2 or HC3, got {kind!r}")
    meat = (x * omega[:, None]).T @ x
    return np.asarray(bread @ meat @ bread, dtype=np.float64)
