"""The CI regression gate: is HEAD worse than a reference, beyond a tolerance, beyond noise?

HEAD and the reference (a revision measured in its own worktree, or stored results) are
measured at the same seeds and compared paired by seed through the analysis layer. With
``diff = HEAD - reference`` turned into "how much worse" (direction-aware) and its two-sided
``1 - alpha`` confidence interval ``[low, high]``:

- **regression** (exit 1): ``low > tolerance`` — HEAD is worse, significantly, by more than
  the tolerance. With tolerance 0 this is the plain paired t-test at level ``alpha``;
- **equivalent within tolerance** (exit 0): ``tolerance > 0`` and ``high <= tolerance`` — a
  regression larger than the tolerance is ruled out;
- **no regression detected** (exit 0): anything else; when ``high`` exceeds the tolerance the
  message says how large a regression the seeds cannot yet exclude.

Only the first outcome fails the gate, so a noisy benchmark never blocks a merge by chance more
often than ``alpha / 2`` (the CI's upper tail) when HEAD is exactly at the tolerance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from analysis.verdict import Direction, improvement, improvement_interval
from harness.bisect.paired import Paired
from harness.errors import UserError

RegressOutcome = Literal["regression", "equivalent", "no_regression"]


@dataclass(frozen=True, kw_only=True)
class Tolerance:
    """How much worse HEAD may be: absolute (metric units) or relative (a share of the
    reference mean, written ``"2%"``)."""

    value: float
    relative: bool = False

    @classmethod
    def parse(cls, text: str) -> Tolerance:
        """``"0.01"`` (metric units) or ``"1.5%"`` (of the reference mean).

        Raises:
            UserError: not a non-negative number.
        """
        raw = text.strip()
        relative = raw.endswith("%")
        try:
            value = float(raw[:-1] if relative else raw)
        except ValueError:
            raise UserError(f"--tolerance takes a number or a percentage, got {text!r}") from None
        if not math.isfinite(value) or value < 0:
            raise UserError(f"--tolerance must be a non-negative number, got {text!r}")
        return cls(value=value / 100 if relative else value, relative=relative)

    def absolute(self, reference_mean: float) -> float:
        return self.value * abs(reference_mean) if self.relative else self.value

    def __str__(self) -> str:
        return f"{self.value * 100:g}%" if self.relative else f"{self.value:g}"


@dataclass(frozen=True, kw_only=True)
class RegressResult:
    """The gate's decision.

    Attributes:
        outcome: "regression", "equivalent" or "no_regression".
        message: one line for the CI log.
        comparison: HEAD against the reference (None with fewer than 2 shared seeds).
        tolerance: the tolerance in metric units.
        head: what was measured as HEAD (a sha, or "working tree").
        reference: the reference (a sha, or the stored results' directory).
        metric: the metric.
        direction: whether lower or higher is better.
        alpha: the CI level is ``1 - alpha``.
    """

    outcome: RegressOutcome
    message: str
    comparison: Paired | None
    tolerance: float
    head: str
    reference: str
    metric: str
    direction: Direction
    alpha: float

    @property
    def exit_code(self) -> int:
        return 1 if self.outcome == "regression" else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "message": self.message,
            "head": self.head,
            "reference": self.reference,
            "metric": self.metric,
            "direction": self.direction,
            "alpha": self.alpha,
            "tolerance": self.tolerance,
            "comparison": self.comparison.to_dict() if self.comparison else None,
        }


def judge_regression(
    comparison: Paired | None,
    *,
    tolerance: float,
    direction: Direction,
    alpha: float,
    head: str = "HEAD",
    reference: str = "the reference",
    metric: str = "metric",
) -> RegressResult:
    """Decide the gate from a paired comparison (see the module docstring)."""
    common: dict[str, Any] = {
        "comparison": comparison,
        "tolerance": tolerance,
        "head": head,
        "reference": reference,
        "metric": metric,
        "direction": direction,
        "alpha": alpha,
    }
    if comparison is None or math.isnan(comparison.p_value):
        message = (
            f"no regression detected: fewer than 2 seeds measured on both {head} and "
            f"{reference}, so {metric} cannot be tested against seed noise (use --seeds 2+)"
        )
        return RegressResult(outcome="no_regression", message=message, **common)
    # How much worse HEAD is: the improvement turned round, its interval's ends swapped.
    good_low, good_high = improvement_interval(comparison.ci_low, comparison.ci_high, direction)
    worse, low, high = -improvement(comparison.diff, direction), -good_high, -good_low
    level = f"{100 * (1 - alpha):g}% CI"
    if worse == 0:
        relation = f"{head} matches {reference} on {metric}"
    else:
        relation = f"{head} is {'worse' if worse > 0 else 'better'} than {reference} by "
        relation += f"{abs(worse):.4g} {metric}"
    effect = (
        f"{relation} (how much worse: {level} {low:+.4g} .. {high:+.4g}, "
        f"p={comparison.p_value:.2g}, {comparison.n_pairs} paired seeds)"
    )
    if low > tolerance:
        message = f"REGRESSION: {effect}, beyond the tolerance {tolerance:g}"
        return RegressResult(outcome="regression", message=message, **common)
    if tolerance > 0 and high <= tolerance:
        message = f"equivalent within tolerance {tolerance:g}: {effect}"
        return RegressResult(outcome="equivalent", message=message, **common)
    message = f"no regression detected: {effect}"
    if high > tolerance:
        message += (
            f"; these seeds cannot exclude a regression of up to {high:.4g} "
            "(more --seeds narrow the CI)"
        )
    return RegressResult(outcome="no_regression", message=message, **common)
