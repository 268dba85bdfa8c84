"""Is the noise of a comparison measured at all? The metric's resolution and the spread test.

A t-test divides a difference by its observed spread. When every seed gives the same
difference (the command ignores its seed, or two variants are the same code) or the
differences only differ by the rounding step of a metric logged with few decimals, the observed
spread measures nothing about run noise: the t statistic is infinite or absurdly large and the
"p-value" certifies only the rounding. Such comparisons get no verdict (docs/analysis.md).

The resolution is inferred from the values themselves: the smallest decimal step that
represents every value exactly (values logged with 2 decimals have resolution 0.01); values
carrying 12 or more decimals are treated as unrounded (resolution 0).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["MAX_DECIMALS", "metric_resolution", "spread_is_unmeasured"]

#: Values needing this many decimals or more are taken as unrounded floats.
MAX_DECIMALS = 12


def metric_resolution(values: ArrayLike) -> float:
    """The rounding step of ``values``: ``10**-d`` for the fewest decimals ``d`` that
    represent every finite value, times the largest common step of the values on that grid
    (values rounded to halves have resolution 0.5); 0.0 when they need ``MAX_DECIMALS``
    decimals or more (unrounded).

    Args:
        values: metric values, any shape; NaN/inf are ignored.
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    x = x[np.isfinite(x)]
    if x.size == 0:
        return 0.0
    # Distinct values suffice; a tolerance relative to the value absorbs the float error of
    # decimal fractions (0.1 is not exactly representable).
    x = np.unique(x)
    # A tolerance of a few ulps absorbs the float error of decimal fractions (0.1 is not
    # exactly representable) and stays far below the finest step tested (1e-11).
    tolerance = 64 * np.finfo(np.float64).eps * np.maximum(np.abs(x), 1.0)
    for decimals in range(MAX_DECIMALS):
        scaled = np.round(x * 10.0**decimals)
        if np.abs(scaled).max() >= 2.0**53:
            return 0.0
        if (np.abs(scaled / 10.0**decimals - x) <= tolerance).all():
            # The common step of the values (0.5 for values rounded to halves), not just the
            # last decimal; with few values it may overstate the step, which only withholds
            # more verdicts.
            integers = scaled.astype(np.int64)
            step = int(np.gcd.reduce(np.abs(integers - integers[0]))) if x.size > 1 else 1
            return float(max(step, 1) / 10.0**decimals)
    return 0.0


def spread_is_unmeasured(spread: ArrayLike, resolution: float, scale: float) -> np.ndarray:
    """Whether a spread (the range of a comparison's differences) is zero or at the metric's
    resolution.

    Args:
        spread: ranges (max - min) of differences, any shape; NaN gives False.
        resolution: the metric's rounding step (0 for unrounded values).
        scale: the magnitude of the metric values, so that float round-off of a difference
            (about ``1e-15 * scale``) counts as zero spread.
    """
    spread = np.asarray(spread, dtype=np.float64)
    limit = resolution * (1.0 + 1e-6) + 1e-12 * max(abs(scale), 1e-300)
    with np.errstate(invalid="ignore"):
        return np.asarray(spread <= limit, dtype=bool)
