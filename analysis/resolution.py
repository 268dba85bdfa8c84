"""Is the noise of a comparison measured at all? The metric's resolution and the spread test.

A t-test divides a difference by its observed spread. When every seed gives the same
difference (the command ignores its seed, or two variants are the same code) or the
differences only differ by the rounding step of a metric logged with few decimals, the observed
spread measures nothing about run noise: the t statistic is infinite or absurdly large and the
"p-value" certifies only the rounding. Such comparisons get no verdict (docs/analysis.md,
docs/statistics.md).

The grid the values lie on is found from the values themselves, relative to their magnitude
(:func:`grid_step`): the coarsest step ``g · 10**-d`` on which every value lies, or 0 when the
values need more than :data:`SIGNIFICANT_DIGITS` significant digits (unrounded floats). Values
near 1e-15 are judged on their own scale, never against an absolute tolerance.

What the grid means depends on what lies on it (:func:`metric_resolution`):

- a decimal grid (losses logged with 2 decimals: 0.01; values rounded to halves: 0.5; tokens
  rounded to thousands: 1000) is a rounding of a finer quantity, so differences within one step
  are rounding, not noise;
- whole numbers whose step is not a multiple of 10 are integer-valued (:func:`is_integer_valued`:
  counts of correct answers, errors, tokens): one unit is the metric's own unit, a difference
  of one unit is measured noise, and only a zero spread leaves the noise unmeasured.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "SIGNIFICANT_DIGITS",
    "grid_step",
    "is_integer_valued",
    "metric_resolution",
    "spread_is_unmeasured",
]

#: Values needing more significant digits than this (relative to the largest value) are taken
#: as unrounded floats: a float64 carries about 16, and a grid within a few ulps of the values
#: could not be told from round-off.
SIGNIFICANT_DIGITS = 12
#: Float round-off allowed when testing whether a value lies on a grid, in ulps of the largest
#: value (0.1 is not exactly representable; sums of decimals carry a few ulps of error).
GRID_ULPS = 64


def _distinct_finite(values: ArrayLike) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64).ravel()
    return np.unique(x[np.isfinite(x)])


def _grid(x: np.ndarray) -> tuple[float, int]:
    """``(step, decimals)`` of the coarsest grid every value of ``x`` (distinct, finite) lies
    on; ``(0.0, -1)`` for unrounded values."""
    magnitude = float(np.abs(x).max()) if x.size else 0.0
    if magnitude == 0.0 or magnitude >= 2.0**53:
        return 0.0, -1  # all zero: no grid to see; beyond 2^53 every float is a whole number
    # Round-off relative to the values' own size: no absolute floor, so 3e-15 is not "0 on
    # the integer grid".
    tolerance = GRID_ULPS * np.finfo(np.float64).eps * magnitude
    # Grids from whole numbers down to SIGNIFICANT_DIGITS below the largest value.
    finest = SIGNIFICANT_DIGITS - 1 - math.floor(math.log10(magnitude))
    for decimals in range(0, max(finest, 0) + 1):
        factor = 10.0**decimals
        scaled = np.round(x * factor)
        if (np.abs(scaled / factor - x) <= tolerance).all():
            # The common step of the values on that grid (0.5 for values rounded to halves);
            # with few values it may overstate the step, which only withholds more verdicts.
            integers = scaled.astype(np.int64)
            step = int(np.gcd.reduce(np.abs(integers - integers[0]))) if x.size > 1 else 1
            return float(max(step, 1) / factor), decimals
    return 0.0, -1


def grid_step(values: ArrayLike) -> float:
    """The step of the grid the values lie on: ``g · 10**-d`` for the fewest decimals ``d``
    that represent every finite value, ``g`` the largest common step on that grid (values
    rounded to halves: 0.5; whole numbers: their common divisor, usually 1); 0.0 when the values
    need more than :data:`SIGNIFICANT_DIGITS` significant digits (unrounded).

    Args:
        values: metric values, any shape; NaN/inf are ignored.

    Returns:
        The step, in the values' unit.
    """
    return _grid(_distinct_finite(values))[0]


def is_integer_valued(values: ArrayLike) -> bool:
    """Whether the values are whole numbers whose common step is not a multiple of 10: counts
    (correct answers, errors, tokens) rather than a quantity rounded to tens or thousands.

    Args:
        values: metric values, any shape; NaN/inf are ignored.

    Returns:
        True for counts; False for decimals, unrounded values, or whole numbers on a grid of
        10, 100, ... (a rounding).
    """
    step, decimals = _grid(_distinct_finite(values))
    return decimals == 0 and step > 0 and round(step) % 10 != 0


def metric_resolution(values: ArrayLike) -> float:
    """The rounding step of ``values``: spreads within it are rounding, not measured noise.

    The grid step (:func:`grid_step`) of decimal values or of whole numbers rounded to tens,
    thousands, ...; 0.0 for unrounded values and for integer-valued ones (counts), whose unit is
    the metric's own rather than a rounding of something finer.

    Args:
        values: metric values, any shape; NaN/inf are ignored.

    Returns:
        The step, or 0.0.
    """
    if is_integer_valued(values):
        return 0.0
    return grid_step(values)


def spread_is_unmeasured(spread: ArrayLike, resolution: float, scale: float) -> np.ndarray:
    """Whether a spread (the range of a comparison's differences) is zero or at the metric's
    resolution.

    Args:
        spread: ranges (max - min) of differences, any shape; NaN gives False.
        resolution: the metric's rounding step (0 for unrounded values and counts).
        scale: the magnitude of the metric values, so that float round-off of a difference
            (about ``1e-15 * scale``) counts as zero spread.
    """
    spread = np.asarray(spread, dtype=np.float64)
    limit = resolution * (1.0 + 1e-6) + 1e-12 * max(abs(scale), 1e-300)
    with np.errstate(invalid="ignore"):
        return np.asarray(spread <= limit, dtype=bool)
