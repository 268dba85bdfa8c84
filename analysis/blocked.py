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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from analysis import stats
from analysis.distributions import FloatArray, t_quantile, t_two_sided_p
from analysis.unequal_variances import contrasts_with_group_variances, fit_group_variances

__all__ = [
    "BlockedFit",
    "BridgedPairs",
    "ContrastResult",
    "bridged_pair_tests",
    "fit_seed_blocked",
    "seed_blocked_contrasts",
]

# Above this many runs in a pair's three-variant table the per-variant-variance fit (whose
# cost grows with the cube of the runs) is skipped for the paired t-test on the shared seeds:
# with that many seeds a lost run costs the paired test next to nothing.
MAX_BRIDGED_RUNS = 600


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


@dataclass(frozen=True, kw_only=True)
class ContrastResult:
    """Tests of contrasts ``mu[a] - mu[b]`` (arrays over the pairs).

    Attributes:
        estimate, std_error, statistic, p_value, ci_low, ci_high: per pair; NaN where the
            contrast is not estimable or the model has no residual df.
        df: the model's residual df (the same for every pair).
        estimable: whether ``a`` and ``b`` are connected by shared seeds.
    """

    estimate: FloatArray
    std_error: FloatArray
    df: FloatArray
    statistic: FloatArray
    p_value: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray
    estimable: np.ndarray


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
) -> ContrastResult:
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
    with np.errstate(invalid="ignore", divide="ignore"):
        statistic = np.where(
            std_error > 0,
            estimate / np.where(std_error > 0, std_error, 1.0),
            np.where(estimate == 0, 0.0, np.copysign(np.inf, estimate)),
        )
        statistic = np.where(testable, statistic, np.nan)
        half = np.where(testable, t_quantile(1.0 - alpha / 2.0, np.maximum(df, 1.0)), np.nan)
    half = half * np.where(std_error > 0, std_error, 0.0)
    p_value = np.where(testable, t_two_sided_p(statistic, np.maximum(df, 1.0)), np.nan)
    return ContrastResult(
        estimate=estimate,
        std_error=std_error,
        df=df,
        statistic=statistic,
        p_value=p_value,
        ci_low=estimate - half,
        ci_high=estimate + half,
        estimable=estimable,
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

    tests: ContrastResult
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
    (:mod:`analysis.unequal_variances`). Where no third variant ran such a seed, or the table
    is large (``MAX_BRIDGED_RUNS``), the test is the paired t-test on the shared seeds, which
    is what the three-variant fit gives on seeds all three ran.

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
    sd_diff = np.full(m, np.nan)
    for i in range(m):
        pa, pb = present[ia[i]], present[ib[i]]
        alone = pa ^ pb
        score = present[:, alone].sum(axis=1)
        score[[ia[i], ib[i]]] = -1
        third = int(np.argmax(score))
        rows = [int(ia[i]), int(ib[i])]
        if score[third] > 0 and 3 * present.shape[1] <= MAX_BRIDGED_RUNS:
            rows.append(third)
            bridge[i] = third
        sub = y[rows]
        sub = sub[:, np.isfinite(sub).sum(axis=0) >= 2]  # a seed with one run says nothing
        result, sd = _per_variant_contrast(sub, alpha) if len(rows) == 3 else _paired(sub, alpha)
        for name in columns:
            columns[name][i] = result[name]
        sd_diff[i] = sd
    estimable = np.isfinite(columns["std_error"])
    return BridgedPairs(
        tests=ContrastResult(estimable=estimable, **columns), bridge=bridge, sd_diff=sd_diff
    )


def _paired(values: np.ndarray, alpha: float) -> tuple[dict[str, float], float]:
    """The paired t-test of row 0 minus row 1 on the seeds both ran; and the sd of the
    differences."""
    differences = values[0] - values[1]
    n, mean, sd = stats.sample_stats(differences[np.isfinite(differences)][None, :])
    test = stats.paired_from_stats(n, mean, sd, alpha=alpha)
    names = ("estimate", "std_error", "df", "statistic", "p_value", "ci_low", "ci_high")
    return {name: float(np.asarray(getattr(test, name))[0]) for name in names}, float(sd[0])


def _per_variant_contrast(values: np.ndarray, alpha: float) -> tuple[dict[str, float], float]:
    """Variant 0 minus variant 1 in ``y ~ variant + seed`` on ``values`` (rows: variants,
    columns: seeds) with one error variance per variant; and the sd of one seed's difference."""
    k, n_seeds = values.shape
    variant, seed = np.nonzero(np.isfinite(values))
    nan = {name: np.nan for name in ("estimate", "std_error", "df", "statistic", "p_value",
                                     "ci_low", "ci_high")}  # fmt: skip
    if n_seeds == 0 or min(int((variant == 0).sum()), int((variant == 1).sum())) < 2:
        return nan, np.nan
    design = np.zeros((variant.size, k + n_seeds))
    design[np.arange(variant.size), variant] = 1.0
    design[np.arange(variant.size), k + seed] = 1.0
    fit = fit_group_variances(design, values[variant, seed], variant)
    row = np.zeros(k + n_seeds)
    row[0], row[1] = 1.0, -1.0
    test = contrasts_with_group_variances(fit, row, alpha=alpha)
    result = {
        "estimate": float(test.estimate[0]),
        "std_error": float(test.std_error[0]),
        "df": float(test.df[0]),
        "statistic": float(test.statistic[0]),
        "p_value": float(test.p_value[0]),
        "ci_low": float(test.ci_low[0]),
        "ci_high": float(test.ci_high[0]),
    }
    sd = float(np.sqrt(max(fit.variances[0], 0.0) + max(fit.variances[1], 0.0)))
    return result, sd


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
