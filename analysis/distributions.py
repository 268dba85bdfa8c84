"""Student's t distribution: quantiles and tail probabilities (thin wrappers over scipy.special).

Only ``scipy.special`` is used (not ``scipy.stats``, whose import alone costs more than a second
and would dominate ``harness compare``). Every function broadcasts over its arguments.
"""

from __future__ import annotations

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
