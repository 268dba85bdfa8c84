"""Adaptive seeding with anytime-valid error control (issue 11).

A sequential test of the mean paired (by seed) difference between a variant and the baseline,
valid when looked at after every new seed and with the seed-noise standard deviation unknown.

The method is the Bayes-factor t-test with a normal prior on the standardized effect and the
right-Haar prior on the scale (Rouder et al. 2009; Pérez-Ortiz, Lardy, de Heide & Grünwald 2024,
"E-statistics, group invariance and anytime-valid testing"). For n paired differences with
t-statistic t and ν = n − 1,

    BF10(t, n) = (1 + n g)^(-1/2) · [(1 + t²/ν) / (1 + t²/(ν (1 + n g)))]^((ν + 1)/2),

where g is the prior variance of the standardized effect δ = mean/sd. BF10 is the likelihood
ratio of the scale-invariant part of the data, so under H0 (mean = 0, any sd) it is a
nonnegative martingale that starts at 1; Ville's inequality gives P(sup_n BF10 ≥ 1/α) ≤ α.
Testing every shifted null "mean = μ0" and keeping the μ0 not rejected gives a time-uniform
confidence sequence (CS): P(the true mean leaves the CS at any n) ≤ α. All verdicts are read off
that CS, so each comparison's error is ≤ α under any stopping rule, and Bonferroni over the m
comparisons (α/m each) keeps the family-wise error ≤ α. docs/sequential.md has the details.

Everything here is a pure function of arrays or a polars table; nothing draws random numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import polars as pl

# The fixed-n designs the report sets beside the sequential one; defined in analysis.power and
# importable from here as before.
from analysis.lost_runs import (
    LOST_STATUSES,
    survivors_only_notes,
    worst_case_stands,
    worst_value,
)
from analysis.power import fixed_n_equal_power, paired_t_power, tost_power
from analysis.resolution import metric_resolution, spread_is_unmeasured
from analysis.stats import running_mean_sd
from analysis.verdict import Direction, Verdict, Withheld, as_direction, improvement_interval

__all__ = [
    "DEFAULT_EFFECT_PRIOR_VARIANCE",
    "VERDICT_CODES",
    "ConfidenceSequence",
    "Direction",
    "SequentialComparison",
    "SequentialReport",
    "SequentialResult",
    "Verdict",
    "confidence_sequence",
    "decision_path",
    "fixed_n_equal_power",
    "log_bayes_factor",
    "paired_t_power",
    "sequential_compare",
    "sequential_test",
    "t_threshold",
    "tost_power",
    "variants_needing_seeds",
]


#: Prior variance g of the standardized effect δ ~ N(0, g). Chosen by simulation (see
#: docs/sequential.md): between g = 1 and g = 2 the expected number of seeds barely moves for
#: effects of 0.5–2 sd; g = 2 lets a 2-sd effect stop one seed earlier.
DEFAULT_EFFECT_PRIOR_VARIANCE = 2.0

#: Verdict codes used by the vectorised functions (index into this tuple).
VERDICT_CODES: tuple[Verdict, ...] = (
    Verdict.UNDECIDED,
    Verdict.BETTER,
    Verdict.WORSE,
    Verdict.EQUIVALENT,
)


# --------------------------------------------------------------------------- the e-process


def log_bayes_factor(
    t: np.ndarray | float,
    n: np.ndarray | float,
    *,
    effect_prior_variance: float = DEFAULT_EFFECT_PRIOR_VARIANCE,
) -> np.ndarray:
    """Log of the t-test Bayes factor BF10(t, n) for H0: mean = 0 against δ ~ N(0, g).

    Args:
        t: one-sample t-statistic(s); ±inf is allowed (zero sample sd, nonzero mean).
        n: number of observations (≥ 2), broadcast against ``t``.
        effect_prior_variance: g, the prior variance of the standardized effect.

    Returns:
        log BF10, same broadcast shape. It depends on the data only through (t, n).
    """
    _check_prior_variance(effect_prior_variance)
    t = np.asarray(t, dtype=float)
    n = np.asarray(n, dtype=float)
    if np.any(n < 2):
        raise ValueError("the t-test Bayes factor needs n >= 2")
    nu = n - 1.0
    c = 1.0 + n * effect_prior_variance
    u = t * t / nu
    with np.errstate(invalid="ignore"):
        # log[(1 + u) / (1 + u/c)], whose limit as |t| -> inf is log c.
        log_ratio = np.where(np.isinf(u), np.log(c), np.log1p(u) - np.log1p(u / c))
    return -0.5 * np.log(c) + 0.5 * (nu + 1.0) * log_ratio


def t_threshold(
    n: np.ndarray | float,
    *,
    alpha: float,
    effect_prior_variance: float = DEFAULT_EFFECT_PRIOR_VARIANCE,
) -> np.ndarray:
    """The |t| at which BF10(t, n) reaches 1/alpha; inf where no t can reach it.

    BF10 increases in |t| towards (1 + n g)^((n-1)/2), so solving BF10 = 1/α is closed-form:
    with c = 1 + n g and K = (√c / α)^(2/n), t*² = (n − 1)(K − 1) / (1 − K/c) when K < c.

    Args:
        n: number(s) of observations; entries < 2 give inf.
        alpha: level of the (per-comparison) test.
        effect_prior_variance: g.

    Returns:
        t*, same shape as ``n``.
    """
    _check_alpha(alpha)
    _check_prior_variance(effect_prior_variance)
    n = np.asarray(n, dtype=float)
    out = np.full(n.shape, np.inf)
    valid = n >= 2
    c = 1.0 + np.where(valid, n, 2.0) * effect_prior_variance
    log_k = (2.0 / np.where(valid, n, 2.0)) * (0.5 * np.log(c) - math.log(alpha))
    k = np.exp(log_k)
    reachable = valid & (log_k < np.log(c))
    out[reachable] = np.sqrt((n[reachable] - 1.0) * np.expm1(log_k[reachable]))
    out[reachable] /= np.sqrt(1.0 - k[reachable] / c[reachable])
    return out


@dataclass(frozen=True, kw_only=True)
class ConfidenceSequence:
    """Per-look statistics of a sequence of paired differences (last axis = looks n = 1..N).

    Attributes:
        n: (N,) look numbers 1..N.
        mean: sample mean after each look.
        sd: sample sd (ddof = 1) after each look; nan at n = 1.
        e_value: BF10 for H0: mean = 0 after each look; 1 at n = 1 (no scale-free information).
        look_low, look_high: the CS computed at that look alone, (mean ∓ t*·sd/√n).
        low, high: running intersection of the per-look CSs up to each look; this is what the
            verdicts use. It is empty (low > high) only if the true mean has left some per-look
            CS, an event of probability ≤ alpha under the model.
    """

    n: np.ndarray
    mean: np.ndarray
    sd: np.ndarray
    e_value: np.ndarray
    look_low: np.ndarray
    look_high: np.ndarray
    low: np.ndarray
    high: np.ndarray


def confidence_sequence(
    diffs: np.ndarray,
    *,
    alpha: float,
    effect_prior_variance: float = DEFAULT_EFFECT_PRIOR_VARIANCE,
    resolution: float = 0.0,
    scale: float = 1.0,
) -> ConfidenceSequence:
    """Anytime-valid confidence sequence for the mean of i.i.d. normal differences.

    Vectorised: ``diffs`` may have any leading shape (e.g. (simulations, seeds)); the last axis
    is the order in which observations arrive (for studies: ascending seed).

    Args:
        diffs: paired differences, shape (..., N); must be finite.
        alpha: miscoverage allowed over all looks together.
        effect_prior_variance: g.
        resolution: the metric's rounding step (0 for unrounded values). A look at which the
            differences so far span no more than it (zero spread included) has not measured
            the noise: its CS is the whole line, so it can decide nothing (dropping looks
            only widens the running intersection, which keeps its coverage).
        scale: magnitude of the metric values; float round-off below ``1e-12 * scale`` counts
            as zero spread.

    Returns:
        A ConfidenceSequence with arrays of shape (..., N).
    """
    x = np.asarray(diffs, dtype=float)
    if x.ndim == 0:
        raise ValueError("diffs must have at least one axis")
    if not np.all(np.isfinite(x)):
        raise ValueError("diffs must be finite")
    n_looks = x.shape[-1]
    n = np.arange(1, n_looks + 1, dtype=float)
    if n_looks == 0:
        empty = np.zeros(x.shape)
        return ConfidenceSequence(
            n=n, mean=empty, sd=empty, e_value=empty, look_low=empty, look_high=empty,
            low=empty, high=empty,
        )  # fmt: skip
    mean, sd = running_mean_sd(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = sd / np.sqrt(n)
        t = np.where(mean == 0.0, 0.0, mean / se)
    looks = n >= 2
    e_value = np.ones(x.shape)
    if n_looks >= 2:
        e_value[..., 1:] = np.exp(
            log_bayes_factor(t[..., 1:], n[1:], effect_prior_variance=effect_prior_variance)
        )
    t_star = t_threshold(n, alpha=alpha, effect_prior_variance=effect_prior_variance)
    spread = np.maximum.accumulate(x, axis=-1) - np.minimum.accumulate(x, axis=-1)
    measured = ~spread_is_unmeasured(spread, resolution, scale)
    with np.errstate(invalid="ignore"):
        half_width = np.where(np.isfinite(t_star) & looks & measured, t_star * se, np.inf)
    look_low = mean - half_width
    look_high = mean + half_width
    low = np.maximum.accumulate(look_low, axis=-1)
    high = np.minimum.accumulate(look_high, axis=-1)
    return ConfidenceSequence(
        n=n, mean=mean, sd=sd, e_value=e_value, look_low=look_low, look_high=look_high,
        low=low, high=high,
    )  # fmt: skip


def decision_path(
    low: np.ndarray,
    high: np.ndarray,
    *,
    margin: float | None = None,
    direction: Direction = Direction.MINIMIZE,
) -> np.ndarray:
    """Verdict codes (index into VERDICT_CODES) after each look, sticky from the first decision.

    At a look the CS [low, high] for mean(variant − baseline) decides "better" when it lies on
    the good side of 0 (below 0 when minimizing), "worse" on the other side, and "equivalent"
    when ``margin`` is given and the CS lies inside (−margin, +margin). A sign decision takes
    priority when both hold (the CS excludes 0 and lies inside the margin). The first decision
    is kept for all later looks: that is when a runner stops adding seeds.

    Args:
        low, high: running-intersection CS bounds, shape (..., N).
        margin: equivalence margin in metric units (> 0), or None for no equivalence verdict.
        direction: which sign of the difference is better.

    Returns:
        int array of shape (..., N).
    """
    _check_direction(direction)
    low = np.asarray(low, dtype=float)
    high = np.asarray(high, dtype=float)
    good_low, good_high = improvement_interval(low, high, direction)
    better, worse = good_low > 0.0, good_high < 0.0
    now = np.where(better, 1, np.where(worse, 2, 0))
    if margin is not None:
        _check_margin(margin)
        now = np.where((now == 0) & (low > -margin) & (high < margin), 3, now)
    if now.shape[-1] == 0:
        return now.astype(np.int8)
    decided = now > 0
    first = np.argmax(decided, axis=-1)[..., None]
    ever = np.any(decided, axis=-1, keepdims=True)
    looks = np.arange(now.shape[-1])
    code_at_first = np.take_along_axis(now, first, axis=-1)
    return np.where(ever & (looks >= first), code_at_first, 0).astype(np.int8)


# --------------------------------------------------------------------------- one comparison


@dataclass(frozen=True, kw_only=True)
class SequentialResult:
    """The sequential verdict for one comparison after its latest look.

    Attributes:
        n: number of paired differences seen.
        mean: mean of the differences (variant − baseline).
        sd: sd of the differences (ddof = 1); nan for n < 2.
        cs_low, cs_high: anytime-valid confidence sequence for the mean difference at level
            ``alpha`` (running intersection over looks); ±inf until enough seeds are in.
        e_value: BF10 for H0: mean difference = 0 at the latest look.
        p_value: anytime-valid p-value min(1, 1 / max over looks of e_value).
        verdict: "better" / "worse" / "equivalent" (decided), "undecided", or "inconclusive"
            (undecided with n ≥ max_seeds).
        decided_at: the look (number of seeds) at which the verdict was reached, or None.
        within_margin: whether the CS lies inside (−margin, +margin); None without a margin.
        cs_conflict: the running intersection became empty, which the model allows only with
            probability ≤ alpha; cs_low/cs_high are then the latest look's own CS.
        alpha: the per-comparison level used (already Bonferroni-adjusted where applicable).
        margin, direction, effect_prior_variance: as passed.
        noise_measured: False while the differences span no more than the metric's resolution
            (zero spread included): no look so far could decide.
        withheld: ``lost_runs`` when a "better" or "worse" verdict was withheld by the
            worst-case rule (the lost runs of the side it favours counted as the worst value).
        stopped: why the comparison stopped taking seeds under a group-sequential design
            (``efficacy``, ``futility``, ``budget``), None while it runs or for the anytime
            design (analysis.group_sequential).
    """

    n: int
    mean: float
    sd: float
    cs_low: float
    cs_high: float
    e_value: float
    p_value: float
    verdict: Verdict
    decided_at: int | None
    within_margin: bool | None
    cs_conflict: bool
    alpha: float
    margin: float | None
    direction: Direction
    effect_prior_variance: float
    noise_measured: bool = True
    withheld: Withheld | None = None
    stopped: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (non-finite floats become None)."""
        return {key: _json_float(value) for key, value in asdict(self).items()}


def sequential_test(
    diffs: np.ndarray | Sequence[float],
    *,
    alpha: float,
    margin: float | None = None,
    direction: Direction = Direction.MINIMIZE,
    max_seeds: int | None = None,
    effect_prior_variance: float = DEFAULT_EFFECT_PRIOR_VARIANCE,
    resolution: float = 0.0,
    scale: float = 1.0,
) -> SequentialResult:
    """Sequential verdict for one sequence of paired differences, looked at after each one.

    Args:
        diffs: variant − baseline, one per seed, in the order the seeds were run (1-D).
        alpha: error allowed for this comparison over all looks (pass α/m for m comparisons;
            ``sequential_compare`` does this for you).
        margin: equivalence margin in metric units, or None.
        direction: whether a lower or a higher metric is better.
        max_seeds: an undecided comparison with n ≥ max_seeds is "inconclusive".
        effect_prior_variance: g, prior variance of the standardized effect.
        resolution, scale: see :func:`confidence_sequence`; looks whose differences span no
            more than the resolution decide nothing.

    Returns:
        SequentialResult after the latest look.
    """
    x = np.asarray(diffs, dtype=float)
    if x.ndim != 1:
        raise ValueError(f"diffs must be 1-D, got shape {x.shape}")
    if max_seeds is not None and max_seeds < 2:
        raise ValueError("max_seeds must be >= 2")
    _check_alpha(alpha)
    _check_direction(direction)
    if margin is not None:
        _check_margin(margin)
    n = x.size
    if n < 2:
        verdict: Verdict = (
            Verdict.INCONCLUSIVE if max_seeds is not None and n >= max_seeds else Verdict.UNDECIDED
        )
        return SequentialResult(
            n=n, mean=float(x.mean()) if n else math.nan, sd=math.nan, cs_low=-math.inf,
            cs_high=math.inf, e_value=1.0, p_value=1.0, verdict=verdict, decided_at=None,
            within_margin=False if margin is not None else None, cs_conflict=False,
            alpha=alpha, margin=margin, direction=direction,
            effect_prior_variance=effect_prior_variance,
        )  # fmt: skip
    cs = confidence_sequence(
        x,
        alpha=alpha,
        effect_prior_variance=effect_prior_variance,
        resolution=resolution,
        scale=scale,
    )
    spread = float(x.max() - x.min())
    measured = not bool(spread_is_unmeasured(np.array([spread]), resolution, scale)[0])
    codes = decision_path(cs.low, cs.high, margin=margin, direction=direction)
    code = int(codes[-1])
    decided_at = int(np.argmax(codes > 0)) + 1 if code else None
    verdict = VERDICT_CODES[code]
    if code == 0 and max_seeds is not None and n >= max_seeds:
        verdict = Verdict.INCONCLUSIVE
    low, high = float(cs.low[-1]), float(cs.high[-1])
    conflict = low > high
    if conflict:
        low, high = float(cs.look_low[-1]), float(cs.look_high[-1])
    return SequentialResult(
        n=n,
        mean=float(cs.mean[-1]),
        sd=float(cs.sd[-1]),
        cs_low=low,
        cs_high=high,
        e_value=float(cs.e_value[-1]),
        p_value=float(min(1.0, 1.0 / np.max(cs.e_value))),
        verdict=verdict,
        decided_at=decided_at,
        within_margin=(-margin < low and high < margin) if margin is not None else None,
        cs_conflict=bool(conflict),
        alpha=alpha,
        margin=margin,
        direction=direction,
        effect_prior_variance=effect_prior_variance,
        noise_measured=measured,
    )


# --------------------------------------------------------------------------- a study table


@dataclass(frozen=True, kw_only=True)
class SequentialComparison:
    """One variant against the baseline.

    Attributes:
        variant: the variant's name.
        result: its SequentialResult (at level alpha / m).
        seeds: the paired seeds used, ascending (the order of the looks).
        needs_seed: still undecided and below max_seeds: the runner should add a seed.
        fixed_n: seeds per arm that a fixed-n design at the same level would need for
            ``target_power`` at the observed standardized effect |mean| / sd (paired t-test;
            for an "equivalent" verdict the TOST with the margin). None when not computable
            (n < 2, zero sd, or more than 100 000 seeds).
        lost_runs: the variant's runs that diverged or failed (0 without run statuses).
        baseline_lost_runs: the baseline's runs that diverged or failed.
    """

    variant: str
    result: SequentialResult
    seeds: tuple[int, ...]
    needs_seed: bool
    fixed_n: int | None
    lost_runs: int = 0
    baseline_lost_runs: int = 0

    @property
    def survivors_only(self) -> bool:
        """Whether the interval comes from the surviving runs alone (either side lost runs):
        biased when the losses depend on the outcome, which only the worst-case rule bounds."""
        return self.lost_runs + self.baseline_lost_runs > 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict, the result's fields flattened in."""
        return {
            "variant": self.variant,
            **self.result.to_dict(),
            "seeds": list(self.seeds),
            "needs_seed": self.needs_seed,
            "fixed_n": self.fixed_n,
            "lost_runs": self.lost_runs,
            "baseline_lost_runs": self.baseline_lost_runs,
            "survivors_only": self.survivors_only,
        }


@dataclass(frozen=True, kw_only=True)
class SequentialReport:
    """Sequential verdicts for every variant against the baseline.

    Attributes:
        metric, baseline, direction, margin, max_seeds, effect_prior_variance: as passed.
        alpha: family-wise error level; alpha_per_comparison = alpha / m (Bonferroni).
        target_power: power used for the fixed-design comparison.
        comparisons: one per variant, in the order given.
        needs_seeds: variants that still need another seed (with ``needs_seed``).
        runs_used: runs that entered a comparison: Σ_v n_v plus the distinct baseline seeds.
        runs_fixed_design: runs a fixed design would need at ``target_power`` for the observed
            effects: Σ_v fixed_n_v + max_v fixed_n_v (the baseline pairs with every variant);
            None if any comparison's fixed_n is None.
        resolution: the metric's rounding step inferred from the table (0: unrounded).
        warnings: unmeasured noise, verdicts withheld by the worst-case rule for lost runs.
        design: ``anytime-valid`` (this module) or ``group-sequential``
            (analysis.group_sequential); ``design_details`` holds the latter's design and
            per-look boundaries.
    """

    metric: str
    baseline: str
    direction: Direction
    alpha: float
    alpha_per_comparison: float
    margin: float | None
    max_seeds: int | None
    effect_prior_variance: float
    target_power: float
    comparisons: tuple[SequentialComparison, ...]
    resolution: float = 0.0
    warnings: tuple[str, ...] = ()
    design: str = "anytime-valid"
    design_details: dict[str, Any] | None = None

    @property
    def needs_seeds(self) -> tuple[str, ...]:
        return tuple(c.variant for c in self.comparisons if c.needs_seed)

    @property
    def runs_used(self) -> int:
        baseline_seeds = {seed for c in self.comparisons for seed in c.seeds}
        return sum(c.result.n for c in self.comparisons) + len(baseline_seeds)

    @property
    def runs_fixed_design(self) -> int | None:
        return runs_of_fixed_design(self.comparisons)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (non-finite floats become None)."""
        if self.design == "anytime-valid":
            method = (
                "anytime-valid t-test confidence sequence (normal prior on effect, "
                "right-Haar prior on scale), Bonferroni over comparisons"
            )
        else:
            from analysis.group_sequential import GroupSequentialDesign

            details = self.design_details or {}
            recycles = "design" in details and (
                GroupSequentialDesign.from_dict(details["design"]).recycles
            )
            method = (
                "group-sequential t-test with error spending (Lan-DeMets), non-binding "
                "futility, "
                + (
                    "Holm over comparisons (a rejected comparison's level passed on, "
                    "Maurer & Bretz)"
                    if recycles
                    else "Bonferroni over comparisons"
                )
            )
        return {
            "method": method,
            "design": self.design,
            "design_details": self.design_details,
            "metric": self.metric,
            "baseline": self.baseline,
            "direction": self.direction,
            "alpha": self.alpha,
            "alpha_per_comparison": self.alpha_per_comparison,
            "margin": self.margin,
            "max_seeds": self.max_seeds,
            "effect_prior_variance": self.effect_prior_variance,
            "target_power": self.target_power,
            "comparisons": [c.to_dict() for c in self.comparisons],
            "needs_seeds": list(self.needs_seeds),
            "runs_used": self.runs_used,
            "runs_fixed_design": self.runs_fixed_design,
            "resolution": self.resolution,
            "warnings": list(self.warnings),
        }


def sequential_compare(
    table: pl.DataFrame,
    *,
    metric: str,
    baseline: str,
    alpha: float = 0.05,
    margin: float | None = None,
    direction: Direction = Direction.MINIMIZE,
    max_seeds: int | None = None,
    variants: Sequence[str] | None = None,
    target_power: float = 0.8,
    effect_prior_variance: float = DEFAULT_EFFECT_PRIOR_VARIANCE,
    lost: pl.DataFrame | None = None,
    resolution: float | None = None,
) -> SequentialReport:
    """Sequential verdicts for each variant against the baseline, paired by seed.

    Rows are paired on ``seed``; the looks are taken in ascending seed order, which must be the
    order in which seeds are added (a runner that adds seeds above the ones it has satisfies
    it). Rows whose metric is null or non-finite are dropped with their pair.

    Args:
        table: columns ``variant`` (str), ``seed`` (int) and ``metric``; one row per run.
        metric: the column compared.
        baseline: the baseline variant's name.
        alpha: family-wise error level; each of the m comparisons runs at alpha / m.
        margin: equivalence margin in metric units, or None.
        direction: whether lower or higher is better.
        max_seeds: undecided comparisons with this many paired seeds are "inconclusive".
        variants: every variant to compare, fixed in advance (it sets m); default: all
            variants in the table except the baseline. Listed variants without rows count.
        target_power: power for the fixed-design comparison (``fixed_n``).
        effect_prior_variance: g.
        lost: optional ``variant``, ``seed``, ``status`` of every planned run: a claim stands
            only if it still holds with each lost run of the side it favours (the variant for
            "better", the baseline for "worse") counted as the worst value in the table,
            paired with the other's run on that seed: the rule of :func:`analysis.compare`;
            else the comparison stays undecided.
        resolution: the metric's rounding step; None infers it from the table's values.
            Looks whose differences span no more than it decide nothing.

    Returns:
        SequentialReport.
    """
    _check_alpha(alpha)
    prepared = paired_with_baseline(
        table, metric=metric, baseline=baseline, variants=variants, lost=lost,
        resolution=resolution,
    )  # fmt: skip
    variants = prepared.variants
    resolution, scale = prepared.resolution, prepared.scale
    m = max(len(variants), 1)
    alpha_each = alpha / m

    warnings: list[str] = []

    comparisons = []
    for variant in variants:
        diffs = prepared.diffs(variant)
        settings = {
            "alpha": alpha_each,
            "margin": margin,
            "direction": direction,
            "max_seeds": max_seeds,
            "effect_prior_variance": effect_prior_variance,
            "resolution": resolution,
            "scale": scale,
        }
        result = sequential_test(diffs, **settings)  # type: ignore[arg-type]
        claim = result.verdict
        result = with_worst_case_rule(
            result, prepared, variant, holds=_latest_look_holds(result, settings)
        )
        if result.withheld == Withheld.LOST_RUNS:
            claimant_lost = lost_by_claimant(claim, prepared.lost(variant))
            warnings.append(lost_runs_warning(variant, baseline, claim, len(claimant_lost)))
        if not result.noise_measured and result.n >= 2:
            warnings.append(
                f"{variant}: its differences from {baseline} span no more than the metric's "
                f"resolution ({resolution:g}): the noise is not measured, so no verdict yet; "
                + (
                    "log more decimals"
                    if float(np.ptp(diffs)) > 0
                    else "the command may ignore its seed (pass {seed} or $HARNESS_SEED to it)"
                )
            )
        result = with_budget_spent(
            result, tried=seeds_tried(prepared, variant), max_seeds=max_seeds
        )
        comparisons.append(
            comparison_of(prepared, variant, result, alpha=alpha_each, target_power=target_power)
        )
    warnings += survivors_only_notes(comparisons)
    return SequentialReport(
        metric=metric,
        baseline=baseline,
        direction=direction,
        alpha=alpha,
        alpha_per_comparison=alpha_each,
        margin=margin,
        max_seeds=max_seeds,
        effect_prior_variance=effect_prior_variance,
        target_power=target_power,
        comparisons=tuple(comparisons),
        resolution=resolution,
        warnings=tuple(warnings),
    )


@dataclass(frozen=True)
class PairedWithBaseline:
    """A results table prepared for sequential tests against one baseline.

    Attributes:
        baseline: the baseline's name.
        variants: the variants compared with the baseline, in table order.
        base: the baseline's finite values (``seed``, ``base_value``).
        pairs: per variant, its finite values joined to the baseline's by seed (``seed``,
            ``value``, ``base_value``), sorted by seed.
        own: per variant, all its finite values (``seed``, ``value``), paired or not: the
            worst-case rule pairs them with the baseline's lost runs.
        values: every finite value of the table (for the worst value of the lost-run rule).
        resolution: the metric's rounding step (given, or inferred from ``values``).
        scale: the largest absolute value (1.0 for an empty table).
        lost_seeds: per variant, the seeds whose runs diverged or failed.
    """

    baseline: str
    variants: list[str]
    base: pl.DataFrame
    pairs: dict[str, pl.DataFrame]
    own: dict[str, pl.DataFrame]
    values: np.ndarray
    resolution: float
    scale: float
    lost_seeds: dict[str, list[int]]

    def diffs(self, variant: str) -> np.ndarray:
        """The variant's paired differences, variant − baseline, in seed order."""
        paired = self.pairs[variant]
        return (paired.get_column("value") - paired.get_column("base_value")).to_numpy()

    def paired_seeds(self, variant: str) -> tuple[int, ...]:
        """The seeds on which the variant pairs with the baseline, ascending."""
        return tuple(int(s) for s in self.pairs[variant].get_column("seed").to_list())

    def lost(self, variant: str) -> tuple[list[int], list[int]]:
        """(the variant's lost seeds, the baseline's lost seeds)."""
        return self.lost_seeds.get(variant, []), self.lost_seeds.get(self.baseline, [])


def paired_with_baseline(
    table: pl.DataFrame,
    *,
    metric: str,
    baseline: str,
    variants: Sequence[str] | None = None,
    lost: pl.DataFrame | None = None,
    resolution: float | None = None,
) -> PairedWithBaseline:
    """Check ``table`` and pair every variant's runs with the baseline's by seed: what the
    anytime-valid and the group-sequential reports both start from.

    Raises:
        ValueError: a missing column, a duplicated (variant, seed), an absent baseline, or
            ``variants`` that include the baseline or repeat a name.
    """
    for column in ("variant", "seed", metric):
        if column not in table.columns:
            raise ValueError(f"table has no column {column!r} (columns: {table.columns})")
    if table.select(pl.struct("variant", "seed").is_duplicated().any()).item():
        raise ValueError("table has more than one row for some (variant, seed)")
    present = table.get_column("variant").unique(maintain_order=True).to_list()
    if baseline not in present:
        raise ValueError(f"baseline {baseline!r} not in table (variants: {present})")
    names = [v for v in present if v != baseline] if variants is None else list(variants)
    if baseline in names:
        raise ValueError("variants must not include the baseline")
    if len(set(names)) != len(names):
        raise ValueError("variants must be distinct")
    clean = table.select("variant", "seed", pl.col(metric).cast(pl.Float64).alias("value"))
    clean = clean.filter(pl.col("value").is_not_null() & pl.col("value").is_finite())
    base = clean.filter(pl.col("variant") == baseline).select("seed", base_value="value")
    values = clean.get_column("value").to_numpy()
    lost_seeds: dict[str, list[int]] = {}
    if lost is not None:
        rows = lost.filter(pl.col("status").is_in(list(LOST_STATUSES)))
        for name, seed in zip(rows["variant"].to_list(), rows["seed"].to_list(), strict=True):
            lost_seeds.setdefault(str(name), []).append(int(seed))
    pairs = {
        name: clean.filter(pl.col("variant") == name)
        .join(base, on="seed", how="inner")
        .sort("seed")
        for name in names
    }
    own = {name: clean.filter(pl.col("variant") == name).select("seed", "value") for name in names}
    return PairedWithBaseline(
        baseline=baseline,
        variants=names,
        base=base,
        pairs=pairs,
        own=own,
        values=values,
        resolution=metric_resolution(values) if resolution is None else float(resolution),
        scale=float(np.abs(values).max()) if values.size else 1.0,
        lost_seeds=lost_seeds,
    )


def runs_of_fixed_design(comparisons: Sequence[SequentialComparison]) -> int | None:
    """Runs a fixed design with each comparison's observed fixed-n seeds would need: every
    variant's seeds plus the baseline at the largest; None when any comparison has none."""
    fixed = [c.fixed_n for c in comparisons]
    if not fixed or any(f is None for f in fixed):
        return None
    counts = [f for f in fixed if f is not None]
    return sum(counts) + max(counts)


def variants_needing_seeds(
    table: pl.DataFrame,
    *,
    metric: str,
    baseline: str,
    alpha: float = 0.05,
    margin: float | None = None,
    direction: Direction = Direction.MINIMIZE,
    max_seeds: int | None = None,
    variants: Sequence[str] | None = None,
    effect_prior_variance: float = DEFAULT_EFFECT_PRIOR_VARIANCE,
) -> tuple[str, ...]:
    """Which variants to run at the next seed, for a runner that looks after every seed.

    Same arguments as ``sequential_compare``. Returns the undecided variants below
    ``max_seeds`` followed by the baseline (every comparison pairs with it), or () when every
    comparison is decided or inconclusive: the study is done.
    """
    report = sequential_compare(
        table,
        metric=metric,
        baseline=baseline,
        alpha=alpha,
        margin=margin,
        direction=direction,
        max_seeds=max_seeds,
        variants=variants,
        effect_prior_variance=effect_prior_variance,
    )
    return (*report.needs_seeds, baseline) if report.needs_seeds else ()


# --------------------------------------------------------------------------- helpers


def with_worst_case_rule(
    result: SequentialResult,
    prepared: PairedWithBaseline,
    variant: str,
    *,
    holds: Callable[[np.ndarray], bool],
) -> SequentialResult:
    """The worst-case rule (:func:`analysis.lost_runs.worst_case_stands`) for a sequential
    claim, whichever way it goes: "better" is re-tested with the variant's lost runs at the
    table's worst value, "worse" with the baseline's; ``result`` stands if the claim still
    holds, else it is undecided and withheld (:func:`with_budget_spent` makes it inconclusive
    once the budget is spent). The two variants' runs form one ``(2, seeds)`` table (baseline
    row 0, variant row 1), their lost seeds marked.

    Args:
        result: the design's verdict for ``variant``.
        prepared: the table paired with the baseline.
        variant: the variant compared.
        holds: the design's test of the claim on imputed differences (variant − baseline on
            the seeds where both have a value, ascending seed), judged at the latest look: the
            lost runs happened whether or not an earlier look had decided.

    Returns:
        ``result``, or it undecided with ``withheld`` set.
    """
    claim = result.verdict
    if not lost_by_claimant(claim, prepared.lost(variant)):
        return result
    own, base = prepared.own[variant], prepared.base
    variant_lost, baseline_lost = prepared.lost(variant)
    variant_seeds = np.asarray(variant_lost, dtype=np.int64)
    baseline_seeds = np.asarray(baseline_lost, dtype=np.int64)
    base_at, own_at = base.get_column("seed").to_numpy(), own.get_column("seed").to_numpy()
    seeds = np.unique(np.concatenate([base_at, own_at, variant_seeds, baseline_seeds]))
    values = np.full((2, seeds.size), np.nan)
    values[0, np.searchsorted(seeds, base_at)] = base.get_column("base_value").to_numpy()
    values[1, np.searchsorted(seeds, own_at)] = own.get_column("value").to_numpy()
    lost = np.stack([np.isin(seeds, baseline_seeds), np.isin(seeds, variant_seeds)])

    def holds_on_pairs(imputed: np.ndarray) -> bool:
        both = np.isfinite(imputed).all(axis=0)
        return holds(imputed[1, both] - imputed[0, both])

    winner = 1 if Verdict(claim) is Verdict.BETTER else 0
    worst = worst_value(prepared.values, result.direction)
    if worst_case_stands(
        values, lost, winner=winner, loser=1 - winner, worst=worst, holds=holds_on_pairs
    ):
        return result
    return replace(
        result,
        verdict=Verdict.UNDECIDED,
        decided_at=None,
        stopped=None,
        withheld=Withheld.LOST_RUNS,
    )


def interval_side(low: float, high: float, direction: Direction) -> Verdict | None:
    """Which side of 0 an interval of differences (variant − baseline) lies on: ``better``,
    ``worse``, or None when it covers 0."""
    good_low, good_high = improvement_interval(low, high, direction)
    if good_low > 0.0:
        return Verdict.BETTER
    if good_high < 0.0:
        return Verdict.WORSE
    return None


def lost_by_claimant(claim: Verdict, lost: tuple[list[int], list[int]]) -> list[int]:
    """The lost seeds of the side a claim favours, which the worst-case rule counts as the
    worst value: the variant's (``lost[0]``) for "better", the baseline's (``lost[1]``) for
    "worse"; none for any other verdict."""
    variant_lost, baseline_lost = lost
    return {Verdict.BETTER: variant_lost, Verdict.WORSE: baseline_lost}.get(claim, [])


def lost_runs_warning(
    comparison_variant: str, baseline: str, claim: Verdict, lost_runs: int
) -> str:
    """The warning of a claim withheld by the worst-case rule, naming who lost the runs: the
    variant for a "better" claim, the baseline for a "worse" one."""
    lost_by = comparison_variant if claim == Verdict.BETTER else baseline
    return (
        f"{lost_by} lost {lost_runs} run(s): counting each as the worst value in the table, "
        f"{comparison_variant} is no longer shown {claim} than {baseline}, so it stays "
        "undecided (worst-case rule, docs/analysis.md)"
    )


def comparison_of(
    prepared: PairedWithBaseline,
    variant: str,
    result: SequentialResult,
    *,
    alpha: float,
    target_power: float,
) -> SequentialComparison:
    """The report's entry for ``variant``: its final ``result`` with its paired seeds, its
    lost-run counts and the fixed-design seeds at ``alpha`` and ``target_power``.

    Args:
        prepared: the table paired with the baseline.
        variant: the variant compared.
        result: its verdict after the lost-run rule and the seed budget.
        alpha: its level, for the fixed design set beside it.
        target_power: the fixed design's power.

    Returns:
        SequentialComparison.
    """
    variant_lost, baseline_lost = prepared.lost(variant)
    return SequentialComparison(
        variant=variant,
        result=result,
        seeds=prepared.paired_seeds(variant),
        needs_seed=result.verdict == Verdict.UNDECIDED,
        fixed_n=_observed_fixed_n(result, alpha, target_power),
        lost_runs=len(variant_lost),
        baseline_lost_runs=len(baseline_lost),
    )


def seeds_tried(prepared: PairedWithBaseline, variant: str) -> int:
    """Seeds on which both the variant and the baseline ran, finished or lost: what a
    comparison has spent of its seed budget (a lost run spent its seed without a pair)."""
    variant_lost, baseline_lost = prepared.lost(variant)
    variant_seeds = set(prepared.own[variant].get_column("seed").to_list())
    variant_seeds.update(variant_lost)
    base_seeds = set(prepared.base.get_column("seed").to_list())
    base_seeds.update(baseline_lost)
    return len(variant_seeds & base_seeds)


def with_budget_spent(
    result: SequentialResult, *, tried: int, max_seeds: int | None, stopped: str | None = None
) -> SequentialResult:
    """``result``, an undecided one made inconclusive when ``tried`` seeds reach the budget:
    more seeds cannot decide what the budget did not (lost runs leave fewer pairs than seeds
    run, so the pairs alone would call it undecided). ``stopped`` is recorded with it (the
    group-sequential design's ``budget``)."""
    if result.verdict != Verdict.UNDECIDED or max_seeds is None or tried < max_seeds:
        return result
    return replace(result, verdict=Verdict.INCONCLUSIVE, stopped=stopped)


def _latest_look_holds(
    result: SequentialResult, settings: dict[str, Any]
) -> Callable[[np.ndarray], bool]:
    """The anytime design's test of ``result``'s claim for the worst-case rule: the latest
    look's own CS on the imputed differences, not the sticky verdict."""

    def still_holds(diffs: np.ndarray) -> bool:
        cs = confidence_sequence(
            diffs,
            alpha=settings["alpha"],
            effect_prior_variance=settings["effect_prior_variance"],
            resolution=settings["resolution"],
            scale=settings["scale"],
        )
        low, high = float(cs.look_low[-1]), float(cs.look_high[-1])
        return interval_side(low, high, settings["direction"]) == result.verdict

    return still_holds


def _observed_fixed_n(result: SequentialResult, alpha: float, power: float) -> int | None:
    """fixed_n for SequentialComparison: see its docstring."""
    if result.n < 2 or not result.sd > 0.0:
        return None
    effect = abs(result.mean) / result.sd
    if result.verdict == Verdict.EQUIVALENT and result.margin is not None:
        return fixed_n_equal_power(
            effect, alpha=alpha, power=power, margin=result.margin / result.sd
        )
    if effect == 0.0:
        return None
    return fixed_n_equal_power(effect, alpha=alpha, power=power)


def _json_float(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")


def _check_prior_variance(g: float) -> None:
    if not g > 0.0:
        raise ValueError(f"effect_prior_variance must be > 0, got {g}")


def _check_margin(margin: float) -> None:
    if not margin > 0.0:
        raise ValueError(f"margin must be > 0, got {margin}")


def _check_direction(direction: str) -> None:
    as_direction(direction)
