"""The words of a verdict: which way is better (``Direction``), what a comparison concluded
(``Verdict``), why a verdict was held back (``Withheld``), and the one sign convention.

Every room speaks these: ``analysis`` decides with them, ``harness`` reads the study's
direction into a ``Direction`` and renders by ``Verdict``. They are ``StrEnum`` members, so
they compare equal to the plain strings a JSON file or an older record holds and are written
to JSON as those strings.

The sign convention lives in :func:`improvement` alone: a difference (variant minus baseline)
turned so that a positive number is better, whichever way the metric points. Code that needs
"is lower better here?" asks it rather than testing the direction itself.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any, TypeVar, overload

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "Direction",
    "Verdict",
    "Withheld",
    "as_direction",
    "improvement",
    "improvement_interval",
]


class Direction(enum.StrEnum):
    """Whether lower (``minimize``) or higher (``maximize``) values of a metric are better."""

    MINIMIZE = "minimize"
    MAXIMIZE = "maximize"


class Verdict(enum.StrEnum):
    """What a comparison (or an effect) concluded; the value is the word every report prints.

    Fixed-design comparisons: ``better``, ``worse``, ``equivalent`` (inside the margin, TOST),
    ``indistinguishable``; the baseline's own row says ``baseline``. Sequential and
    group-sequential designs add ``undecided`` (more seeds could decide) and ``inconclusive``
    (the seed budget is spent). Factorial effects add ``differs`` (a multi-level effect),
    ``interaction`` and ``not estimable`` (aliased away by the fraction).
    """

    BETTER = "better"
    WORSE = "worse"
    EQUIVALENT = "equivalent"
    INDISTINGUISHABLE = "indistinguishable"
    UNDECIDED = "undecided"
    INCONCLUSIVE = "inconclusive"
    BASELINE = "baseline"
    DIFFERS = "differs"
    INTERACTION = "interaction"
    NOT_ESTIMABLE = "not estimable"


class Withheld(enum.StrEnum):
    """Why a verdict the test alone would give was not made."""

    #: The difference's spread is zero or within the metric's rounding step.
    UNMEASURED_NOISE = "unmeasured_noise"
    #: Not better once each lost run counts as its worst outcome (the worst-case rule).
    LOST_RUNS = "lost_runs"
    #: A side has fewer than 2 runs (one seed): no noise of its own, so no verdict and no rank.
    TOO_FEW_SEEDS = "too_few_seeds"


def as_direction(value: Any) -> Direction:
    """``value`` ("minimize" or "maximize", or a ``Direction``) as a ``Direction``.

    Raises:
        ValueError: anything else, naming the value.
    """
    try:
        return Direction(value)
    except ValueError:
        raise ValueError(f"direction must be 'minimize' or 'maximize', got {value!r}") from None


_Signed = TypeVar("_Signed", bound="np.ndarray")


@overload
def improvement(difference: float, direction: Direction | str) -> float: ...
@overload
def improvement(difference: _Signed, direction: Direction | str) -> _Signed: ...
def improvement(difference: Any, direction: Direction | str) -> Any:
    """``difference`` turned so that positive means better: the one sign convention.

    Args:
        difference: a value or array of ``variant - reference`` in metric units (or anything
            measured in the metric's direction, such as a mean or a t statistic).
        direction: the metric's direction.

    Returns:
        ``-difference`` when lower is better, ``difference`` when higher is; same type.
    """
    return -difference if Direction(direction) is Direction.MINIMIZE else difference


@overload
def improvement_interval(
    low: float, high: float, direction: Direction | str
) -> tuple[float, float]: ...
@overload
def improvement_interval(
    low: _Signed, high: _Signed, direction: Direction | str
) -> tuple[_Signed, _Signed]: ...
def improvement_interval(low: Any, high: Any, direction: Direction | str) -> tuple[Any, Any]:
    """An interval ``[low, high]`` of differences as an interval of :func:`improvement`.

    Args:
        low, high: the ends of an interval (a CI or a confidence sequence) of differences.
        direction: the metric's direction.

    Returns:
        ``(low, high)`` in improvement units, ends swapped where the sign flips: the first
        end above 0 means "better" (the whole interval lies on the good side), the second
        below 0 means "worse".
    """
    turned_low, turned_high = improvement(low, direction), improvement(high, direction)
    if improvement(1.0, direction) < 0:
        return turned_high, turned_low
    return turned_low, turned_high
