"""Quality against efficiency: which variants are Pareto-optimal once seed noise is respected.

A plain Pareto front on means calls a variant dominated because another one is 0.1 % faster
and 0.001 lower in loss — differences that seed noise alone produces. Here every axis (the
quality metric and each cost: tokens/s, peak memory, KV-cache bytes per token, parameters) is
first sorted into **tiers** by :func:`analysis.compare.compare` (all pairs tested, Holm, a tier
boundary only where everything above separates from everything below). On each axis a variant
is then *better* than another only when it sits in a better tier, *worse* when in a worse one,
and *not separated* when they share a tier.

Variant B is **dominated** by A when A is better than B on at least one axis and worse on none.
Variants that nothing dominates are **Pareto-optimal**. Sharing a tier is not a claim that two
variants are equal — only that the data do not separate them — so a dominated verdict always
rests on at least one separation, and no separated axis speaks against it.

The K axes are each compared at level alpha / K (Bonferroni), so the probability that any
"better"/"worse" used in the table is false — and hence that any "dominated" claim rests on a
false separation — is at most alpha.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from analysis.compare import AnalysisError, compare
from analysis.verdict import Direction


@dataclass(frozen=True, kw_only=True)
class ParetoAxis:
    """One axis: its tiers (best first, at the axis's level) and per-variant means.

    Attributes:
        name: the metric column.
        direction: whether lower or higher is better.
        tiers: variant names by tier, best first.
        means: variant -> mean across seeds.
    """

    name: str
    direction: Direction
    tiers: tuple[tuple[str, ...], ...]
    means: Mapping[str, float]

    def tier_of(self) -> dict[str, int]:
        """Variant -> 1-based tier (1 = best)."""
        return {name: i + 1 for i, tier in enumerate(self.tiers) for name in tier}


@dataclass(frozen=True, kw_only=True)
class ParetoResult:
    """The tier-based Pareto analysis.

    Attributes:
        quality: the quality axis.
        costs: the efficiency axes that could be analysed.
        alpha: family-wise level over all axes; alpha_per_axis = alpha / number of axes.
        optimal: variants that no variant dominates on all axes together, best quality first.
        dominated_by: variant -> the variants that dominate it (empty when optimal).
        optimal_by_cost: cost name -> the Pareto-optimal variants on (quality, that cost) alone,
            what each quality-against-cost plot marks.
        warnings: axes that were left out, and why.
    """

    quality: ParetoAxis
    costs: tuple[ParetoAxis, ...]
    alpha: float
    alpha_per_axis: float
    optimal: tuple[str, ...]
    dominated_by: Mapping[str, tuple[str, ...]]
    optimal_by_cost: Mapping[str, tuple[str, ...]]
    warnings: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        axes = [self.quality, *self.costs]
        return {
            "alpha": self.alpha,
            "alpha_per_axis": self.alpha_per_axis,
            "axes": [
                {"name": a.name, "direction": a.direction, "tiers": [list(t) for t in a.tiers]}
                for a in axes
            ],
            "optimal": list(self.optimal),
            "dominated_by": {k: list(v) for k, v in self.dominated_by.items()},
            "optimal_by_cost": {k: list(v) for k, v in self.optimal_by_cost.items()},
            "warnings": list(self.warnings),
        }


def dominators(ranks: Mapping[str, Sequence[int]]) -> dict[str, tuple[str, ...]]:
    """Who dominates whom, given each variant's rank on every axis (lower is better).

    A dominates B when A's rank is ≤ B's on every axis and < on at least one. Equal ranks are
    "not separated", never a win for either side.

    Args:
        ranks: variant -> its rank (tier number) on each axis, all of the same length.

    Returns:
        variant -> the variants dominating it, in the order of ``ranks``.
    """
    names = list(ranks)
    out: dict[str, tuple[str, ...]] = {}
    for b in names:
        out[b] = tuple(
            a
            for a in names
            if a != b
            and all(ra <= rb for ra, rb in zip(ranks[a], ranks[b], strict=True))
            and any(ra < rb for ra, rb in zip(ranks[a], ranks[b], strict=True))
        )
    return out


def pareto_front(
    table: Any,
    *,
    metric: str,
    costs: Mapping[str, Direction],
    direction: Direction = Direction.MINIMIZE,
    alpha: float = 0.05,
    paired: bool | None = None,
) -> ParetoResult:
    """Tier-based Pareto analysis of quality (``metric``) against the ``costs`` columns.

    Args:
        table: ``variant``, ``seed``, ``metric`` and cost columns, one row per run (anything
            :func:`analysis.compare.compare` accepts).
        metric: the quality column.
        costs: cost column -> its direction (maximize tokens/s, minimize memory).
            Columns missing from the table, or that cannot be compared (a variant with fewer
            than 2 values), are left out with a warning.
        direction: the quality metric's direction.
        alpha: family-wise level over all axes together.
        paired: force the paired or Welch design on every axis (None: decide per axis).

    Returns:
        A :class:`ParetoResult`.

    Raises:
        AnalysisError: the quality axis itself cannot be compared.
    """
    import polars as pl

    frame = table if isinstance(table, pl.DataFrame) else pl.DataFrame(table)
    present = [c for c in costs if c in frame.columns]
    warnings = [f"no column '{c}': left out" for c in costs if c not in frame.columns]
    level = alpha / (1 + len(present))
    quality = _axis(frame, metric, direction, level, paired)
    axes: list[ParetoAxis] = []
    for column in present:
        try:
            axis = _axis(frame, column, costs[column], level, paired)
        except AnalysisError as error:
            warnings.append(f"{column} left out: {error}")
            continue
        if set(axis.means) != set(quality.means):
            warnings.append(f"{column} left out: not recorded for every variant")
            continue
        axes.append(axis)
    quality_tier = quality.tier_of()
    tiers = [a.tier_of() for a in axes]
    # Variants ranked on every axis (a single-run variant has no tier: it cannot dominate).
    order = [n for t in quality.tiers for n in t if all(n in tier for tier in tiers)]
    ranks = {n: [quality_tier[n], *(t[n] for t in tiers)] for n in order}
    dominated = dominators(ranks)
    by_cost = {}
    for axis, tier in zip(axes, tiers, strict=True):
        pair = dominators({n: [quality_tier[n], tier[n]] for n in order})
        by_cost[axis.name] = tuple(n for n in order if not pair[n])
    return ParetoResult(
        quality=quality,
        costs=tuple(axes),
        alpha=alpha,
        alpha_per_axis=level,
        optimal=tuple(n for n in order if not dominated[n]),
        dominated_by=dominated,
        optimal_by_cost=by_cost,
        warnings=tuple(warnings),
    )


def _axis(
    frame: Any, column: str, direction: Direction, level: float, paired: bool | None
) -> ParetoAxis:
    result = compare(frame, metric=column, alpha=level, paired=paired, direction=direction)
    return ParetoAxis(
        name=column,
        direction=direction,
        tiers=result.tiers,
        means={v.variant: v.mean for v in result.variants},
    )
