"""Variant effects with the seed as a block: least squares with seed fixed effects.

The model is the two-way additive one, ``y[v, s] = mu[v] + b[s] + e[v, s]`` with independent
``e ~ N(0, sigma^2)`` and no assumption at all on the seed effects ``b`` (R's
``lm(y ~ variant + factor(seed))``). Every run on a seed that some other variant also ran
informs the variant contrasts; a contrast ``mu[a] - mu[b]`` is estimable when a chain of shared
seeds connects ``a`` and ``b``, and then ``(estimate - truth) / se`` has an exact t
distribution with the model's residual df, however unbalanced the table is.

With two variants this is the paired t-test on the shared seeds (seeds only one of them ran
inform nothing: their own seed effect absorbs them). With more variants it also borrows
information through the others, and the residual variance is pooled over the whole table.

Computed with numpy alone (the seed effects are absorbed, leaving a ``k x k`` system), so it is
fast and needs no statsmodels; checked against R in ``tests/analysis/test_blocked.py``.

Because that pooled variance borrows the quiet variants' noise for a noisy one, ``compare``
tests pairs with :func:`bridged_pair_tests` instead (issue 32): the pair's shared seeds, and
where it lost runs a third variant that bridges them, with one error variance per variant.
The pooled fit still gives the seed-adjusted means and the components.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from analysis import stats
from analysis.distributions import FloatArray
from analysis.unequal_variances import ContrastTests, seed_blocked_variant_contrast

__all__ = [
    "BlockedFit",
    "BridgedPairs",
    "bridged_pair_tests",
    "fit_seed_blocked",
    "seed_blocked_contrasts",
]

# A pair sharing this many seeds keeps the paired t-test on them even when it lost runs: a
# bridge adds a few df to some 30, which moves nothing (t quantiles differ by < 1 %), and the
# fit per pair would dominate the time of a comparison of many variants on thousands of seeds.
BRIDGE_BELOW_SHARED = 30


@dataclass(frozen=True, kw_only=True)
class BlockedFit:
    """A fitted seed-blocked model.

    Attributes:
        effects: ``(k,)`` variant effects; only differences within a component mean anything.
        adjusted_means: ``(k,)`` seed-adjusted means (least-squares means): each variant's
            fitted value averaged over the seeds of its component, i.e. its mean as if it had
            run on every one of those seeds. Equal to the raw means on a complete table.
        component: ``(k,)`` connected component of each variant (variants linked by shared
            seeds); contrasts across components are not estimable.
        sigma: residual standard deviation (NaN without residual df).
        df_resid: residual degrees of freedom ``N - (k + S - components)``.
        unscaled_cov: ``(k, k)`` pseudo-inverse of the absorbed normal matrix: the covariance
            of an estimable contrast ``c`` is ``sigma^2 c' unscaled_cov c``.
        n_obs: runs in the fit.
    """

    effects: FloatArray
    adjusted_means: FloatArray
    component: np.ndarray
    sigma: float
    df_resid: int
    unscaled_cov: FloatArray
    n_obs: int


def fit_seed_blocked(values: ArrayLike) -> BlockedFit:
    """Least squares of ``values`` on variant and seed (both as factors).

    Args:
        values: ``(k, S)`` metric of variant ``v`` on seed column ``s``, NaN where the run is
            missing. Every variant needs at least one run.

    Returns:
        The fit (see :class:`BlockedFit`).
    """
    y = np.asarray(values, dtype=np.float64)
    present = np.isfinite(y)
    used = present.any(axis=0)
    y, present = y[:, used], present[:, used]
    k, n_seeds = y.shape
    if (present.sum(axis=1) == 0).any():
        raise ValueError("every variant needs at least one run")
    p = present.astype(np.float64)
    filled = np.where(present, y, 0.0)
    per_seed = p.sum(axis=0)  # variants on each seed
    seed_mean = filled.sum(axis=0) / per_seed
    # Absorbing the seed effects (within-seed centring) leaves the k x k normal equations
    # C mu = q with C = diag(runs) - sum_s p_s p_s' / n_s and q = sum_s p_s (y_s - ybar_s).
    normal = np.diag(p.sum(axis=1)) - (p / per_seed) @ p.T
    rhs = (np.where(present, y - seed_mean, 0.0)).sum(axis=1)
    unscaled = np.linalg.pinv(normal, hermitian=True)
    effects = unscaled @ rhs
    seed_effect = seed_mean - (p * effects[:, None]).sum(axis=0) / per_seed
    residual = np.where(present, y - effects[:, None] - seed_effect[None, :], 0.0)
    component = _components(present)
    n_components = int(component.max()) + 1
    n_obs = int(present.sum())
    df_resid = n_obs - (k + n_seeds - n_components)
    rss = float((residual**2).sum())
    sigma = float(np.sqrt(rss / df_resid)) if df_resid > 0 else float("nan")
    adjusted = np.empty(k)
    for c in range(n_components):
        members = component == c
        seeds_of = present[members].any(axis=0)
        adjusted[members] = effects[members] + seed_effect[seeds_of].mean()
    return BlockedFit(
        effects=effects,
        adjusted_means=adjusted,
        component=component,
        sigma=sigma,
        df_resid=int(df_resid),
        unscaled_cov=unscaled,
        n_obs=n_obs,
    )


def seed_blocked_contrasts(
    fit: BlockedFit, a: ArrayLike, b: ArrayLike, *, alpha: float = 0.05
) -> ContrastTests:
    """t-tests and ``1 - alpha`` CIs of ``mu[a] - mu[b]`` for index arrays ``a``, ``b``.

    ``se = sigma * sqrt(V[a,a] + V[b,b] - 2 V[a,b])`` with ``V`` the unscaled covariance,
    df = the residual df (R's ``summary(lm)`` / ``emmeans`` contrasts).

    Args:
        fit: from :func:`fit_seed_blocked`.
        a, b: variant indices, same shape.
        alpha: two-sided level of the CIs.
    """
    ia = np.asarray(a, dtype=np.int64)
    ib = np.asarray(b, dtype=np.int64)
    v = fit.unscaled_cov
    estimable = fit.component[ia] == fit.component[ib]
    testable = estimable & (fit.df_resid >= 1)
    estimate = np.where(estimable, fit.effects[ia] - fit.effects[ib], np.nan)
    variance = np.maximum(v[ia, ia] + v[ib, ib] - 2.0 * v[ia, ib], 0.0)
    std_error = np.where(testable, fit.sigma * np.sqrt(variance), np.nan)
    df = np.full(ia.shape, float(fit.df_resid))
    return ContrastTests.of(
        estimate, std_error, df, alpha=alpha, estimable=estimable, testable=testable
    )


@dataclass(frozen=True, kw_only=True)
class BridgedPairs:
    """Tests of pairs ``mu[a] - mu[b]`` with per-variant variances (arrays over the pairs).

    Attributes:
        tests: estimate, standard error, Satterthwaite df, p-value and CI per pair (NaN where
            the pair's variance cannot be estimated: a side with fewer than 2 runs).
        bridge: the third variant whose runs linked the pair's unshared seeds, -1 where none
            did (the test is then the paired t-test on the shared seeds).
        sd_diff: the sd of one seed's difference, ``sqrt(sigma_a^2 + sigma_b^2)``, from the
            fit's variant variances (the paired differences' sd where there is no bridge).
    """

    tests: ContrastTests
    bridge: np.ndarray
    sd_diff: FloatArray


def bridged_pair_tests(
    values: ArrayLike, a: ArrayLike, b: ArrayLike, *, alpha: float = 0.05
) -> BridgedPairs:
    """Each pair on its own shared seeds plus, where one of them lost a run, a bridge: the
    seed-blocked model of the pair and one third variant, with one error variance per variant.

    The third variant is the one that ran the most seeds on which exactly one of ``a``, ``b``
    ran (those runs say something about the pair through it); it is chosen from which runs
    exist, never from their values. On three variants one variance per variant is no
    assumption at all (three variances are the three entries of the within-seed covariance),
    so the test stays valid however unequal the noise; the estimate is least squares, its
    error from unbiased variant variances and its df Satterthwaite's
    (:mod:`analysis.unequal_variances`). Where no third variant ran such a seed, or the pair
    shares ``BRIDGE_BELOW_SHARED`` seeds or more, the test is the paired t-test on the shared
    seeds, which is what the three-variant fit gives on seeds all three ran.

    Args:
        values: ``(k, S)`` metric per variant and seed, NaN where the run is missing.
        a, b: variant indices of the pairs, same shape; ``diff = a - b``.
        alpha: two-sided level of the CIs.

    Returns:
        The tests (see :class:`BridgedPairs`).
    """
    y = np.asarray(values, dtype=np.float64)
    present = np.isfinite(y)
    ia = np.atleast_1d(np.asarray(a, dtype=np.int64))
    ib = np.atleast_1d(np.asarray(b, dtype=np.int64))
    m = ia.size
    columns = {
        name: np.full(m, np.nan)
        for name in ("estimate", "std_error", "df", "statistic", "p_value", "ci_low", "ci_high")
    }
    bridge = np.full(m, -1)
    # Shared seeds first, all pairs at once: the paired t-test where no bridge is taken.
    n_diff, mean_diff, sd_diff = stats.sample_stats(y[ia] - y[ib])
    paired = stats.paired_from_stats(n_diff, mean_diff, sd_diff, alpha=alpha)
    for name in columns:
        columns[name] = np.asarray(getattr(paired, name), dtype=np.float64).copy()
    shared = (present[ia] & present[ib]).sum(axis=1)
    for i in np.flatnonzero(shared < BRIDGE_BELOW_SHARED):
        alone = present[ia[i]] ^ present[ib[i]]
        score = present[:, alone].sum(axis=1)
        score[[ia[i], ib[i]]] = -1
        third = int(np.argmax(score))
        if score[third] <= 0:
            continue
        bridge[i] = third
        sub = y[[int(ia[i]), int(ib[i]), third]]
        sub = sub[:, np.isfinite(sub).sum(axis=0) >= 2]  # a seed with one run says nothing
        result, sd = _per_variant_contrast(sub, alpha)
        for name in columns:
            columns[name][i] = result[name]
        sd_diff[i] = sd
    estimable = np.isfinite(columns["std_error"])
    return BridgedPairs(
        tests=ContrastTests(estimable=estimable, **columns), bridge=bridge, sd_diff=sd_diff
    )


def _per_variant_contrast(values: np.ndarray, alpha: float) -> tuple[dict[str, float], float]:
    """Variant 0 minus variant 1 in ``y ~ variant + seed`` on ``values`` (rows: variants,
    columns: seeds) with one error variance per variant; and the sd of one seed's difference."""
    names = ("estimate", "std_error", "df", "statistic", "p_value", "ci_low", "ci_high")
    present = np.isfinite(values)
    if values.shape[1] == 0 or min(int(present[0].sum()), int(present[1].sum())) < 2:
        return dict.fromkeys(names, np.nan), np.nan
    test, variances = seed_blocked_variant_contrast(values, 0, 1, alpha=alpha)
    sd = float(np.sqrt(max(variances[0], 0.0) + max(variances[1], 0.0)))
    return {name: float(getattr(test, name)[0]) for name in names}, sd


def _components(present: np.ndarray) -> np.ndarray:
    """Connected components of variants in the variant-seed incidence graph (label per row)."""
    k = present.shape[0]
    label = np.full(k, -1)
    linked = (present.astype(np.int64) @ present.T.astype(np.int64)) > 0
    current = 0
    for start in range(k):
        if label[start] >= 0:
            continue
        frontier = np.zeros(k, dtype=bool)
        frontier[start] = True
        while True:
            grown = frontier | linked[frontier].any(axis=0)
            if (grown == frontier).all():
                break
            frontier = grown
        label[frontier] = current
        current += 1
    return label
