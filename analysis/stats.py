"""Pure statistical building blocks: t-tests, CIs, effect sizes, multiplicity.

Every function works on numpy arrays and broadcasts over leading axes, so a simulation can
run thousands of studies in one call. Missing values are NaN: a sample is the finite entries
along the last axis. Only ``scipy.special`` is used (not ``scipy.stats``, whose import alone
costs more than a second and would dominate ``harness compare``).

Power and design sizes (seeds needed, minimum detectable effect) are in :mod:`analysis.power`,
the t distribution's quantiles and tails in :mod:`analysis.distributions`.

Conventions:
    - ``alpha`` is two-sided: a ``1 - alpha`` confidence interval, a test at level ``alpha``.
    - ``diff`` is always ``x - y`` in the metric's units.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

# Where these were defined before analysis.distributions and analysis.power took them; they
# stay importable from here (``analysis.stats.t_quantile``, ``stats.seeds_needed`` ...).
from analysis.distributions import FloatArray, TTest, t_quantile, t_two_sided_p
from analysis.power import (
    minimum_detectable_effect,
    seeds_needed,
    significance_threshold,
    t_power,
)
from analysis.verdict import Direction, improvement

__all__ = [
    "Direction",
    "FloatArray",
    "TTestResult",
    "adjust",
    "benjamini_hochberg",
    "cohens_dz",
    "hedges_g",
    "hedges_g_from_stats",
    "holm",
    "mean_ci",
    "minimum_detectable_effect",
    "paired_from_stats",
    "paired_t",
    "pooled_sd",
    "prob_improvement_paired",
    "prob_improvement_unpaired",
    "sample_stats",
    "seeds_needed",
    "significance_threshold",
    "t_power",
    "t_quantile",
    "t_two_sided_p",
    "tost_p",
    "welch_from_stats",
    "welch_t",
]


@dataclass(frozen=True, kw_only=True)
class TTestResult(TTest):
    """A t-test of a mean difference with its confidence interval (arrays broadcast alike).

    Attributes:
        estimate: the mean difference ``x - y``.
        df: degrees of freedom (Welch–Satterthwaite for Welch, ``n - 1`` paired).
        std_error, statistic, p_value, ci_low, ci_high: as :class:`TTest` says.
        n: pairs (paired) or the smaller sample size (Welch).
    """

    n: FloatArray


# -- one sample -----------------------------------------------------------------------------


def sample_stats(values: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``(n, mean, sd)`` of the finite entries along the last axis (sd with ``ddof=1``).

    ``sd`` is NaN where ``n < 2``; ``mean`` is NaN where ``n == 0``.
    """
    x = np.asarray(values, dtype=np.float64)
    present = np.isfinite(x)
    n = present.sum(axis=-1).astype(np.float64)
    filled = np.where(present, x, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = filled.sum(axis=-1) / n
        centred = np.where(present, x - mean[..., None], 0.0)
        sd = np.sqrt((centred**2).sum(axis=-1) / (n - 1.0))
    sd = np.where(n >= 2, sd, np.nan)
    return n, mean, sd


def mean_ci(values: ArrayLike, *, alpha: float = 0.05) -> dict[str, FloatArray]:
    """Mean of each sample with its t-based ``1 - alpha`` confidence interval.

    ``mean ± t(1 - alpha/2, n - 1) · sd / sqrt(n)``.

    Returns:
        ``{"n", "mean", "sd", "ci_low", "ci_high"}``, arrays over the leading axes.
    """
    n, mean, sd = sample_stats(values)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = t_quantile(1.0 - alpha / 2.0, n - 1.0) * sd / np.sqrt(n)
    return {"n": n, "mean": mean, "sd": sd, "ci_low": mean - half, "ci_high": mean + half}


def pooled_sd(sds: ArrayLike, ns: ArrayLike) -> float:
    """Pooled standard deviation ``sqrt(Σ (n_i - 1) s_i² / Σ (n_i - 1))``.

    Samples with fewer than 2 values (no sd) are left out.
    """
    sd = np.asarray(sds, dtype=np.float64)
    n = np.asarray(ns, dtype=np.float64)
    keep = (n >= 2) & np.isfinite(sd)
    if not keep.any():
        return float("nan")
    return float(np.sqrt(((n[keep] - 1) * sd[keep] ** 2).sum() / (n[keep] - 1).sum()))


# -- two samples ----------------------------------------------------------------------------


def paired_t(x: ArrayLike, y: ArrayLike, *, alpha: float = 0.05) -> TTestResult:
    """Paired t-test of ``x - y`` over the positions (seeds) where both are finite.

    ``t = mean(d) / (sd(d) / sqrt(n))`` with ``d = x - y``, ``df = n - 1``; CI
    ``mean(d) ± t(1 - alpha/2, n - 1) · sd(d) / sqrt(n)``. Matches R's
    ``t.test(x, y, paired = TRUE)``.

    Args:
        x, y: arrays of the same shape ``(..., n_seeds)``, aligned by seed, NaN where missing.
        alpha: two-sided level; the CI has coverage ``1 - alpha``.
    """
    d = np.asarray(x, dtype=np.float64) - np.asarray(y, dtype=np.float64)
    return paired_from_stats(*sample_stats(d), alpha=alpha)


def paired_from_stats(
    n: ArrayLike, mean: ArrayLike, sd: ArrayLike, *, alpha: float = 0.05
) -> TTestResult:
    """:func:`paired_t` from the n, mean and sd of the per-seed differences."""
    n, mean, sd = (np.asarray(v, dtype=np.float64) for v in (n, mean, sd))
    with np.errstate(invalid="ignore", divide="ignore"):
        se = sd / np.sqrt(n)
    # A sample with fewer than 2 observations has no sd, so no standard error: no test.
    return TTestResult.of(mean, se, n - 1.0, alpha=alpha, n=n)


def welch_t(x: ArrayLike, y: ArrayLike, *, alpha: float = 0.05) -> TTestResult:
    """Welch's unequal-variance t-test of ``mean(x) - mean(y)``.

    ``se = sqrt(s_x²/n_x + s_y²/n_y)``, Welch–Satterthwaite
    ``df = se⁴ / ((s_x²/n_x)²/(n_x - 1) + (s_y²/n_y)²/(n_y - 1))``. Matches R's
    ``t.test(x, y)``. Where both variances are 0, ``df = n_x + n_y - 2``.

    Args:
        x, y: samples along the last axis (NaN-padded; they need not share seeds).
        alpha: two-sided level.
    """
    nx, mx, sx = sample_stats(x)
    ny, my, sy = sample_stats(y)
    return welch_from_stats(nx, mx, sx, ny, my, sy, alpha=alpha)


def welch_from_stats(
    nx: ArrayLike,
    mx: ArrayLike,
    sx: ArrayLike,
    ny: ArrayLike,
    my: ArrayLike,
    sy: ArrayLike,
    *,
    alpha: float = 0.05,
) -> TTestResult:
    """:func:`welch_t` from summary statistics (n, mean, sd of each sample)."""
    nx, mx, sx, ny, my, sy = (np.asarray(v, dtype=np.float64) for v in (nx, mx, sx, ny, my, sy))
    vx = sx**2 / nx
    vy = sy**2 / ny
    se = np.sqrt(vx + vy)
    with np.errstate(invalid="ignore", divide="ignore"):
        df = (vx + vy) ** 2 / (vx**2 / (nx - 1.0) + vy**2 / (ny - 1.0))
    df = np.where(se > 0, df, nx + ny - 2.0)
    return TTestResult.of(mx - my, se, df, alpha=alpha, n=np.minimum(nx, ny))


def tost_p(estimate: ArrayLike, std_error: ArrayLike, df: ArrayLike, margin: float) -> FloatArray:
    """Two one-sided tests (TOST) of equivalence within ``±margin``.

    The null is ``|true diff| >= margin``. ``p = max(P(T >= (est + margin)/se),
    P(T <= (est - margin)/se))``: rejecting at ``alpha`` is the same as the
    ``1 - 2·alpha`` CI lying inside ``(-margin, margin)``.
    """
    est = np.asarray(estimate, dtype=np.float64)
    se = np.asarray(std_error, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        safe = np.where(se > 0, se, 1.0)
        t_lower = np.where(se > 0, (est + margin) / safe, np.where(est > -margin, np.inf, -np.inf))
        t_upper = np.where(se > 0, (est - margin) / safe, np.where(est < margin, -np.inf, np.inf))
    p_lower = special.stdtr(df, -t_lower)  # H0: diff <= -margin, reject for large t_lower
    p_upper = special.stdtr(df, t_upper)  # H0: diff >= +margin, reject for small t_upper
    return np.asarray(np.maximum(p_lower, p_upper), dtype=np.float64)


# -- effect sizes ---------------------------------------------------------------------------


def cohens_dz(x: ArrayLike, y: ArrayLike) -> FloatArray:
    """Standardized paired effect ``d_z = mean(d) / sd(d)``, ``d = x - y`` (no bias correction).

    It is the effect size that sets a paired test's power: ``t = d_z · sqrt(n)``.
    """
    d = np.asarray(x, dtype=np.float64) - np.asarray(y, dtype=np.float64)
    _, mean, sd = sample_stats(d)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.where(sd > 0, mean / sd, np.nan), dtype=np.float64)


def hedges_g_from_stats(
    nx: ArrayLike, mx: ArrayLike, sx: ArrayLike, ny: ArrayLike, my: ArrayLike, sy: ArrayLike
) -> FloatArray:
    """Hedges' g: ``(mean_x - mean_y) / s_pooled`` times the exact small-sample correction.

    ``J(df) = Γ(df/2) / (sqrt(df/2) · Γ((df - 1)/2))`` with ``df = n_x + n_y - 2`` (Hedges
    1981), which makes g unbiased under normality; the familiar ``1 - 3/(4·df - 1)`` is its
    approximation.
    """
    nx, mx, sx, ny, my, sy = (np.asarray(v, dtype=np.float64) for v in (nx, mx, sx, ny, my, sy))
    df = nx + ny - 2.0
    with np.errstate(invalid="ignore", divide="ignore"):
        s_pooled = np.sqrt(((nx - 1) * sx**2 + (ny - 1) * sy**2) / df)
        correction = np.exp(
            special.gammaln(df / 2) - 0.5 * np.log(df / 2) - special.gammaln((df - 1) / 2)
        )
        g = (mx - my) / s_pooled * correction
    return np.asarray(np.where(s_pooled > 0, g, np.nan), dtype=np.float64)


def hedges_g(x: ArrayLike, y: ArrayLike) -> FloatArray:
    """Hedges' g of two independent samples along the last axis (see
    :func:`hedges_g_from_stats`)."""
    return hedges_g_from_stats(*sample_stats(x), *sample_stats(y))


def prob_improvement_paired(x: ArrayLike, y: ArrayLike, direction: Direction) -> FloatArray:
    """Share of shared seeds on which ``x`` beats ``y`` (ties count one half).

    "Beats" is direction-aware: lower for ``minimize``, higher for ``maximize``. It estimates
    ``P(x_seed better than y_seed)`` for a new seed of the paired design.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    both = np.isfinite(x) & np.isfinite(y)
    score = np.where(both, 0.5 * (1.0 + np.sign(improvement(x - y, direction))), 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(score.sum(axis=-1) / both.sum(axis=-1), dtype=np.float64)


def prob_improvement_unpaired(x: ArrayLike, y: ArrayLike, direction: Direction) -> float:
    """``P(X better than Y)`` over all (run of x, run of y) pairs, ties one half.

    The Mann–Whitney / AUC statistic ``U / (n_x n_y)`` (as in rliable's probability of
    improvement), direction-aware; computed from sorted values in ``O(n log n)``. 1-D inputs.
    """
    # On the improvement scale (higher is better) x beats every y below it.
    xs = improvement(np.asarray(x, dtype=np.float64), direction)
    ys = np.sort(improvement(np.asarray(y, dtype=np.float64), direction))
    xs = xs[np.isfinite(xs)]
    ys = ys[np.isfinite(ys)]
    if xs.size == 0 or ys.size == 0:
        return float("nan")
    wins = np.searchsorted(ys, xs, side="left")  # y < x
    ties = np.searchsorted(ys, xs, side="right") - wins  # y == x
    return float((wins.sum() + 0.5 * ties.sum()) / (xs.size * ys.size))


# -- multiplicity ---------------------------------------------------------------------------


def holm(p_values: ArrayLike) -> FloatArray:
    """Holm's step-down adjusted p-values along the last axis (R's ``p.adjust(p, "holm")``).

    Sorted ascending, ``p_(i) · (m - i + 1)``, made monotone by a running maximum, capped at 1.
    Rejecting where the adjusted p is ``<= alpha`` controls the family-wise error rate at alpha
    under any dependence between the tests.
    """
    p = np.asarray(p_values, dtype=np.float64)
    m = p.shape[-1]
    if m == 0:
        return p.copy()
    order = np.argsort(p, axis=-1, kind="stable")
    ranked = np.take_along_axis(p, order, axis=-1) * (m - np.arange(m))
    adjusted = np.minimum(np.maximum.accumulate(ranked, axis=-1), 1.0)
    out = np.empty_like(adjusted)
    np.put_along_axis(out, order, adjusted, axis=-1)
    return out


def benjamini_hochberg(p_values: ArrayLike) -> FloatArray:
    """Benjamini–Hochberg adjusted p-values along the last axis (R's ``p.adjust(p, "BH")``).

    Sorted ascending, ``p_(i) · m / i``, made monotone by a running minimum from the top,
    capped at 1. Controls the false discovery rate (not the family-wise error) for independent
    or positively dependent tests.
    """
    p = np.asarray(p_values, dtype=np.float64)
    m = p.shape[-1]
    if m == 0:
        return p.copy()
    order = np.argsort(p, axis=-1, kind="stable")
    ranked = np.take_along_axis(p, order, axis=-1) * m / np.arange(1, m + 1)
    adjusted = np.minimum(np.minimum.accumulate(ranked[..., ::-1], axis=-1)[..., ::-1], 1.0)
    out = np.empty_like(adjusted)
    np.put_along_axis(out, order, adjusted, axis=-1)
    return out


def adjust(p_values: ArrayLike, method: Literal["holm", "bh"]) -> FloatArray:
    """Adjusted p-values by ``method``: ``"holm"`` (FWER) or ``"bh"`` (FDR)."""
    if method == "holm":
        return holm(p_values)
    if method == "bh":
        return benjamini_hochberg(p_values)
    raise ValueError(f"unknown correction {method!r} (use 'holm' or 'bh')")


def running_mean_sd(diffs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sd (ddof 1; nan at n = 1) after each observation along the last axis."""
    x = np.asarray(diffs, dtype=float)
    n = np.arange(1, x.shape[-1] + 1, dtype=float)
    # Prefix sums of data shifted by its first value: the variance is shift-invariant and the
    # shift removes the cancellation that raw sums of squares suffer when |mean| >> sd.
    shift = x[..., :1]
    y = x - shift
    s1 = np.cumsum(y, axis=-1)
    s2 = np.cumsum(y * y, axis=-1)
    mean = shift + s1 / n
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.where(n >= 2, np.sqrt(np.maximum(s2 - s1 * s1 / n, 0.0) / (n - 1.0)), np.nan)
    return mean, sd
