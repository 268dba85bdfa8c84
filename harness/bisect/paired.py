"""One paired comparison with the good endpoint, and the good / bad / unknown read from it.

The statistics are the analysis layer's (:func:`analysis.compare.compare`, paired t-test by
seed); this module only asks it twice — once at the user's ``alpha`` for the CI that is
reported, once at ``2 * alpha_test`` for the one-sided bounds the decisions use — and reads the
verdict of :func:`judge` off the result. See :mod:`harness.bisect.search` for how the verdicts
drive the bisection and why the per-test level is ``alpha_test``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from analysis.verdict import Direction, improvement, improvement_interval

#: What one probe says of a commit (a bisect word, not a comparison's Verdict).
CommitVerdict = Literal["good", "bad", "unknown"]


@dataclass(frozen=True, kw_only=True)
class Paired:
    """A paired comparison of ``variant`` with ``baseline`` (``diff = variant - baseline``).

    Attributes:
        n_pairs: seeds measured on both.
        diff: mean paired difference, in metric units.
        ci_low: lower end of the reported ``1 - alpha`` CI of ``diff``.
        ci_high: upper end.
        p_value: two-sided p-value of ``diff == 0``.
        effect_size: ``d_z`` (mean difference over the sd of the differences).
        bound_low: lower end of the ``1 - 2 alpha_test`` CI (the decision's one-sided bounds).
        bound_high: upper end.
    """

    n_pairs: int
    diff: float
    ci_low: float
    ci_high: float
    p_value: float
    effect_size: float
    bound_low: float
    bound_high: float

    def worse_by(self, direction: Direction) -> float:
        """How much worse the variant is (negative: better), direction-aware."""
        return -improvement(self.diff, direction)

    def worse_upper(self, direction: Direction) -> float:
        """One-sided upper confidence bound on :meth:`worse_by`, at level ``1 - alpha_test``."""
        return -improvement_interval(self.bound_low, self.bound_high, direction)[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_pairs": self.n_pairs,
            "diff": _finite(self.diff),
            "ci_low": _finite(self.ci_low),
            "ci_high": _finite(self.ci_high),
            "p_value": _finite(self.p_value),
            "effect_size": _finite(self.effect_size),
        }


def compare_paired(
    table: Any,
    *,
    metric: str,
    variant: str,
    baseline: str,
    alpha: float,
    alpha_test: float | None = None,
    direction: Direction = Direction.MINIMIZE,
) -> Paired | None:
    """Compare ``variant`` with ``baseline`` over the seeds both have, through the analysis
    layer's paired t-test. None when fewer than 2 seeds are shared (nothing can be tested).

    Args:
        table: polars DataFrame with ``variant``, ``seed`` and ``metric``.
        alpha: level of the reported CI (``1 - alpha``).
        alpha_test: per-test level of the decisions; the decision bounds are the
            ``1 - 2 alpha_test`` CI, i.e. one-sided ``1 - alpha_test`` bounds. Default ``alpha``.
    """
    import polars as pl

    from analysis.compare import compare

    rows = table.filter(pl.col("variant").is_in([variant, baseline]))
    by_variant = {
        name: set(rows.filter(pl.col("variant") == name)["seed"].to_list())
        for name in (variant, baseline)
    }
    shared = by_variant[variant] & by_variant[baseline]
    if len(shared) < 2:
        return None
    rows = rows.filter(pl.col("seed").is_in(sorted(shared)))

    def run(level: float) -> dict[str, Any]:
        result = compare(
            rows, metric=metric, baseline=baseline, alpha=level, paired=True, direction=direction
        )
        return result.comparisons[0].to_dict()

    shown = run(alpha)
    decision = run(2 * (alpha_test if alpha_test is not None else alpha))
    return Paired(
        n_pairs=int(shown["n_pairs"]),
        diff=_nan(shown["diff"]),
        ci_low=_nan(shown["ci_low"]),
        ci_high=_nan(shown["ci_high"]),
        p_value=_nan(shown["p_value"]),
        effect_size=_nan(shown["effect_size"]),
        bound_low=_nan(decision["ci_low"]),
        bound_high=_nan(decision["ci_high"]),
    )


def judge(
    comparison: Paired | None, *, alpha_test: float, margin: float, direction: Direction
) -> CommitVerdict:
    """good / bad / unknown for a commit compared with the good endpoint (module docstring)."""
    if comparison is None or math.isnan(comparison.p_value):
        return "unknown"
    if comparison.p_value < alpha_test and comparison.worse_by(direction) > 0:
        return "bad"
    if comparison.worse_upper(direction) < margin:
        return "good"
    return "unknown"


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _nan(value: float | None) -> float:
    return float("nan") if value is None else float(value)
