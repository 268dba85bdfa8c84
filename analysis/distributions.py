"""Student's t distribution: quantiles and tail probabilities (thin wrappers over scipy.special).

Only ``scipy.special`` is used (not ``scipy.stats``, whose import alone costs more than a second
and would dominate ``harness compare``). Every function broadcasts over its arguments.

:func:`t_inference` is the one t-test from an estimate, its standard error and df: every design
(paired, Welch, the seed-blocked model, per-group variances, factorial contrasts) calls it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self, TypedDict

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

FloatArray = NDArray[np.float64]


def t_quantile(q: ArrayLike, df: ArrayLike) -> FloatArray:
    """The ``q`` quantile of Student's t with ``df`` degrees of freedom."""
    return np.asarray(special.stdtrit(df, q), dtype=np.float64)


def t_two_sided_p(statistic: ArrayLike, df: ArrayLike) -> FloatArray:
    """Two-sided p-value ``P(|T| >= |t|)``; ``t = ±inf`` gives 0."""
    t = np.abs(np.asarray(statistic, dtype=np.float64))
    return np.asarray(np.minimum(1.0, 2.0 * special.stdtr(df, -t)), dtype=np.float64)


class TInference(TypedDict):
    """What a t-test adds to an estimate, its standard error and df (the field names of every
    t-test result type, so that ``**t_inference(...)`` fills them)."""

    statistic: FloatArray
    p_value: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray


def t_inference(
    estimate: ArrayLike,
    std_error: ArrayLike,
    df: ArrayLike,
    *,
    alpha: float,
    testable: ArrayLike = True,
) -> TInference:
    """The t-test of ``estimate = 0`` and its ``1 - alpha`` interval, from an estimate, its
    standard error and degrees of freedom: the one rule every t-test of the package uses.

    ``t = estimate / se``, ``p = P(|T_df| >= |t|)``, interval ``estimate ± t(1 - alpha/2, df)
    · se``. A zero standard error (identical runs) gives ``t = 0, p = 1`` for a zero estimate
    and ``t = ±inf, p = 0`` otherwise, with an interval of width 0. Nothing is tested (NaN
    statistic, p-value and interval) where ``df <= 0`` or is NaN (fewer than 2 observations),
    where the standard error is NaN (a variance that cannot be estimated), or where
    ``testable`` is False.

    Args:
        estimate: the estimates (NaN where not estimable).
        std_error: their standard errors (>= 0 or NaN).
        df: the degrees of freedom (any real > 0: Satterthwaite's need not be whole).
        alpha: two-sided level.
        testable: where the caller knows more that rules a test out (broadcast).

    Returns:
        The statistic, p-value and interval, broadcast alike.
    """
    est = np.asarray(estimate, dtype=np.float64)
    se = np.asarray(std_error, dtype=np.float64)
    dof = np.asarray(df, dtype=np.float64)
    tested = np.asarray(testable, dtype=bool) & (dof > 0) & ~np.isnan(se)
    positive = se > 0
    safe_df = np.where(tested, dof, 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        statistic = np.where(
            positive,
            est / np.where(positive, se, 1.0),
            np.where(est == 0, 0.0, np.copysign(np.inf, est)),
        )
        half = np.where(positive, t_quantile(1.0 - alpha / 2.0, safe_df) * se, 0.0)
    statistic = np.where(tested, statistic, np.nan)
    half = np.where(tested, half, np.nan)
    p_value = np.where(tested, t_two_sided_p(statistic, safe_df), np.nan)
    return TInference(statistic=statistic, p_value=p_value, ci_low=est - half, ci_high=est + half)


@dataclass(frozen=True, kw_only=True)
class TTest:
    """A t-test of ``estimate = 0`` with its ``1 - alpha`` interval (arrays broadcast alike):
    the fields every t-test result of the package shares (:class:`analysis.stats.TTestResult`,
    :class:`analysis.unequal_variances.ContrastTests` add their own).

    Attributes:
        estimate: the estimate (a mean difference, a contrast).
        std_error: its standard error.
        df: the test's degrees of freedom.
        statistic: ``estimate / std_error``.
        p_value: two-sided p-value.
        ci_low, ci_high: the ends of the ``1 - alpha`` interval.
    """

    estimate: FloatArray
    std_error: FloatArray
    df: FloatArray
    statistic: FloatArray
    p_value: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray

    @classmethod
    def of(
        cls,
        estimate: FloatArray,
        std_error: FloatArray,
        df: FloatArray,
        *,
        alpha: float,
        testable: ArrayLike = True,
        **fields: Any,
    ) -> Self:
        """The test of these estimates by :func:`t_inference` (one rule for every design).

        Args:
            estimate, std_error, df: as :func:`t_inference` takes them.
            alpha: two-sided level of the intervals.
            testable: where a test is ruled out besides (see :func:`t_inference`).
            **fields: the subclass's own fields.

        Returns:
            The result, of the class it is called on.
        """
        return cls(
            estimate=estimate,
            std_error=std_error,
            df=df,
            **t_inference(estimate, std_error, df, alpha=alpha, testable=testable),
            **fields,
        )


def noncentral_t_cdf(df: ArrayLike, noncentrality: ArrayLike, t: ArrayLike) -> FloatArray:
    """Noncentral t cdf ``P(T'(df, noncentrality) <= t)``.

    scipy's ``nctdtr`` returns NaN for some far-tail arguments (e.g. ``df=33, λ=40, t=2``)
    where the answer is within 1e-12 of 0 or 1; there the normal approximation ``Φ(t - λ)``
    gets the 0 or 1 right.
    """
    t = np.asarray(t, dtype=np.float64)
    noncentrality = np.asarray(noncentrality, dtype=np.float64)
    cdf = special.nctdtr(df, noncentrality, t)
    return np.asarray(np.where(np.isnan(cdf), special.ndtr(t - noncentrality), cdf))
