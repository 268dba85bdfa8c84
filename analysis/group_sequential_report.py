"""Group-sequential verdicts for a study table: every variant against the baseline (issue 24).

The table-level companion of :mod:`analysis.group_sequential`, returning the same
:class:`~analysis.sequential.SequentialReport` as the anytime-valid design so that the runner,
``harness compare --sequential`` and the views read either design alike.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import polars as pl

from analysis.group_sequential import (
    EFFICACY_BETTER,
    EFFICACY_WORSE,
    FUTILITY,
    GroupSequentialDesign,
    LookBoundaries,
    decision_codes,
    design_boundaries,
    planned_looks,
)
from analysis.lost_runs import survivors_only_notes
from analysis.resolution import spread_is_unmeasured
from analysis.sequential import (
    SequentialReport,
    SequentialResult,
    comparison_of,
    interval_side,
    lost_by_claimant,
    lost_runs_warning,
    paired_with_baseline,
    seeds_tried,
    with_budget_spent,
    with_worst_case_rule,
)
from analysis.stats import running_mean_sd
from analysis.verdict import Direction, Verdict, Withheld

__all__ = ["group_sequential_compare", "group_sequential_test"]


def group_sequential_test(
    diffs: np.ndarray | Sequence[float],
    design: GroupSequentialDesign,
    *,
    looks: Sequence[int] | None = None,
    direction: Direction = Direction.MINIMIZE,
    resolution: float = 0.0,
    scale: float = 1.0,
    level: float | None = None,
) -> tuple[SequentialResult, LookBoundaries]:
    """The group-sequential verdict for one sequence of paired differences.

    Args:
        diffs: variant − baseline, one per seed, in run order (1-D).
        design: the design (its ``level`` is this comparison's efficacy level).
        looks: the seed counts at which the comparison was looked at; default the planned
            looks (:func:`~analysis.group_sequential.planned_looks`). Only looks with data
            (≤ len(diffs)) and within the budget count.
        direction: which sign of the difference is better.
        resolution, scale: looks whose differences span no more than ``resolution`` decide
            nothing (see :func:`analysis.sequential.confidence_sequence`).
        level: this comparison's efficacy level; default ``design.level`` (alpha / m). Holm's
            recycling passes a larger one (:meth:`GroupSequentialDesign.level_after`).

    Returns:
        (the result after the latest look, the boundaries at the looks used). ``cs_low`` /
        ``cs_high`` are the repeated confidence interval (Jennison & Turnbull 2000, ch. 9):
        mean ± b_k·se intersected over the looks, valid simultaneously at every look.
    """
    x = np.asarray(diffs, dtype=float)
    if x.ndim != 1:
        raise ValueError(f"diffs must be 1-D, got shape {x.shape}")
    n = x.size
    schedule = planned_looks(design) if looks is None else tuple(looks)
    used = tuple(k for k in schedule if 2 <= k <= min(n, design.max_seeds))
    level = design.level if level is None else level
    bounds = design_boundaries(design, used, level=level)
    mean_all, sd_all = running_mean_sd(x) if n else (np.zeros(0), np.zeros(0))
    index = np.asarray(used, dtype=int) - 1
    mean, sd = mean_all[index], sd_all[index]
    spread = np.array([float(np.ptp(x[:k])) for k in used])
    measured = ~spread_is_unmeasured(spread, resolution, scale) if used else np.zeros(0, bool)
    codes = decision_codes(
        mean, sd, bounds, margin=design.margin, direction=direction, measured=measured
    )
    code = int(codes[-1]) if codes.size else 0
    decided_at = used[int(np.argmax(codes > 0))] if code else None
    with np.errstate(invalid="ignore", divide="ignore"):
        half = np.where(measured, np.asarray(bounds.t_efficacy) * sd / np.sqrt(used), math.inf)
    low = float(np.max(mean - half)) if used else -math.inf
    high = float(np.min(mean + half)) if used else math.inf
    verdict: Verdict
    stopped: str | None
    if code in (EFFICACY_BETTER, EFFICACY_WORSE):
        verdict = Verdict.BETTER if code == EFFICACY_BETTER else Verdict.WORSE
        stopped = "efficacy"
    elif code == FUTILITY:
        # Against a stated margin a futility stop rules the margin out (error ≤ the futility
        # level); against the default one it only says the budget would not decide.
        verdict = Verdict.EQUIVALENT if design.margin is not None else Verdict.INCONCLUSIVE
        stopped = "futility"
    elif n >= design.max_seeds:
        verdict, stopped = Verdict.INCONCLUSIVE, "budget"
    else:
        verdict, stopped = Verdict.UNDECIDED, None
    margin = design.margin
    return (
        SequentialResult(
            n=n,
            mean=float(mean_all[-1]) if n else math.nan,
            sd=float(sd_all[-1]) if n >= 2 else math.nan,
            cs_low=low,
            cs_high=high,
            e_value=math.nan,
            p_value=math.nan,
            verdict=verdict,
            decided_at=decided_at,
            within_margin=(-margin < low and high < margin) if margin is not None else None,
            cs_conflict=low > high,
            alpha=level,
            margin=margin,
            direction=direction,
            effect_prior_variance=math.nan,
            noise_measured=bool(measured.any()) if used else n < 2,
            stopped=stopped,
        ),
        bounds,
    )


def group_sequential_compare(
    table: pl.DataFrame,
    *,
    metric: str,
    baseline: str,
    design: GroupSequentialDesign,
    looks: Mapping[str, Sequence[int]] | None = None,
    direction: Direction = Direction.MINIMIZE,
    variants: Sequence[str] | None = None,
    target_power: float = 0.8,
    resolution: float | None = None,
    lost: pl.DataFrame | None = None,
) -> SequentialReport:
    """Group-sequential verdicts for each variant against the baseline, paired by seed.

    Args:
        table: columns ``variant``, ``seed`` and ``metric``; one row per run.
        metric: the column compared.
        baseline: the baseline variant.
        design: the design; its ``comparisons`` must equal the number of variants compared.
            When it recycles (Holm, no stated margin), a variant rejected (better or worse)
            passes its level on: the others are decided at alpha / (m − r) at every look,
            r = the other variants rejected (``design_details["levels"]`` says which level).
        looks: variant -> the seed counts at which it was looked at (the study's record of
            looks); default every variant at the design's planned looks.
        direction: whether lower or higher is better.
        variants: the variants compared, fixed in advance; default all but the baseline.
        target_power: power of the fixed design set beside it.
        resolution: the metric's rounding step; None infers it from the values.
        lost: optional ``variant``, ``seed``, ``status`` of every planned run: a "better"
            ("worse") claim stands only if, with each lost run of the variant (the baseline)
            counted as the worst value in the table and paired with the other's run on its
            seed, the interval at the boundary of the latest look stays on the claim's side
            of 0 — the worst-case rule of :func:`analysis.compare`; else it is withheld.

    Returns:
        A :class:`~analysis.sequential.SequentialReport` with ``design="group-sequential"``.
    """
    prepared = paired_with_baseline(
        table, metric=metric, baseline=baseline, variants=variants, lost=lost,
        resolution=resolution,
    )  # fmt: skip
    names = prepared.variants
    if design.comparisons != max(len(names), 1):
        raise ValueError(
            f"the design shares alpha over {design.comparisons} comparison(s) but "
            f"{len(names)} variant(s) are compared"
        )
    resolution, scale = prepared.resolution, prepared.scale

    def decide(variant: str, level: float) -> tuple[SequentialResult, LookBoundaries]:
        result, bounds = group_sequential_test(
            prepared.diffs(variant),
            design,
            looks=None if looks is None else looks.get(variant, ()),
            direction=direction,
            resolution=resolution,
            scale=scale,
            level=level,
        )
        claim = result.verdict
        result = with_worst_case_rule(
            result, prepared, variant, holds=_latest_boundary_holds(result, bounds)
        )
        if result.withheld == Withheld.LOST_RUNS:
            claimant_lost = lost_by_claimant(claim, prepared.lost(variant))
            withheld_claims[variant] = (claim, len(claimant_lost))
        result = with_budget_spent(
            result,
            tried=seeds_tried(prepared, variant),
            max_seeds=design.max_seeds,
            stopped="budget",
        )
        return result, bounds

    withheld_claims: dict[str, tuple[Verdict, int]] = {}

    # Holm's recycling (a no-op for Bonferroni): re-decide with the levels the rejections so
    # far allow until nothing changes; levels only grow, so this ends within m rounds.
    rejected_others = dict.fromkeys(names, 0)
    while True:
        decided = {v: decide(v, design.level_after(rejected_others[v])) for v in names}
        rejected = {
            v for v, (r, _) in decided.items() if r.verdict in (Verdict.BETTER, Verdict.WORSE)
        }
        now = {v: len(rejected - {v}) for v in names}
        if now == rejected_others:
            break
        rejected_others = now
    comparisons = []
    boundaries: dict[str, object] = {}
    levels: dict[str, float] = {}
    warnings: list[str] = []
    for variant in names:
        result, bounds = decided[variant]
        boundaries[variant] = bounds.to_dict()
        levels[variant] = result.alpha
        if result.withheld and variant in withheld_claims:
            claim, count = withheld_claims[variant]
            warnings.append(lost_runs_warning(variant, baseline, claim, count))
        paired_seeds = len(prepared.paired_seeds(variant))
        if paired_seeds > design.max_seeds:
            warnings.append(
                f"{variant} has {paired_seeds} paired seeds, more than the design's budget of "
                f"{design.max_seeds}: seeds past the budget are not part of the design"
            )
        comparisons.append(
            comparison_of(prepared, variant, result, alpha=result.alpha, target_power=target_power)
        )
    warnings += survivors_only_notes(comparisons)
    return SequentialReport(
        metric=metric,
        baseline=baseline,
        direction=direction,
        alpha=design.alpha,
        alpha_per_comparison=design.level,
        margin=design.margin,
        max_seeds=design.max_seeds,
        effect_prior_variance=math.nan,
        target_power=target_power,
        comparisons=tuple(comparisons),
        resolution=resolution,
        warnings=tuple(warnings),
        design="group-sequential",
        design_details={"design": design.to_dict(), "boundaries": boundaries, "levels": levels},
    )


def _latest_boundary_holds(
    result: SequentialResult, bounds: LookBoundaries
) -> Callable[[np.ndarray], bool]:
    """The group-sequential design's test of ``result``'s claim for the worst-case rule: the
    interval at the latest look's boundary, like the anytime design's latest-look interval."""

    def still_holds(diffs: np.ndarray) -> bool:
        bound = bounds.t_efficacy[-1]
        n = diffs.size
        half = bound * float(np.std(diffs, ddof=1)) / math.sqrt(n) if n >= 2 else math.inf
        mean = float(diffs.mean())
        return interval_side(mean - half, mean + half, result.direction) == result.verdict

    return still_holds
