"""When do variants separate? Paired differences from the baseline at every logged step.

Per variant and step ``s``, the per-seed differences ``d_is = x_variant,i,s - x_baseline,i,s``
(runs with the same seed share init and data order) give the mean difference ``D_s``, its
standard error ``se_s = sd_s / sqrt(n)`` and the studentized ``T_s = D_s / se_s``:

- pointwise CI: ``D_s ± t(1 - alpha/2, n - 1) · se_s``, each step on its own;
- simultaneous band: ``D_s ± c · se_s``, where ``c`` is the ``1 - alpha/k`` quantile (``k``
  variants, Bonferroni) of the max-t statistic ``max_s |T_s|`` over sign flips of whole
  per-seed difference curves. Flipping the sign of seed i's curve is swapping the two variants'
  labels on that seed; with no difference at any step the curves are symmetric about zero, so
  the flip distribution is the statistic's exact null distribution whatever the correlation
  across steps (the max-T randomization test of Westfall & Young 1993; the sup-t band of
  Montiel Olea & Plagborg-Møller 2019 with a sign-flip critical value). The band therefore
  excludes zero anywhere with probability at most ``alpha`` when nothing differs;
- ``separated_from``: the first step from which the band excludes zero, on the side of the last
  step, at every later logged step.

Below the seeds the sign flips need (``2 / 2^n > alpha / k``: 6 seeds for one variant, 7 for
two at alpha 0.05) no sign-flip band can reach the level, and just above it the band has too
few patterns in its tail to be useful; so the band is chosen automatically from ``n`` and
``alpha / k`` alone (``band_method``): the sign-flip band when at least
:data:`MIN_TAIL_PATTERNS` sign patterns lie beyond its critical value (8 seeds for one
variant, 9 for two at alpha 0.05), else a Bonferroni-t band over
:data:`SMALL_SAMPLE_CHECKPOINTS` checkpoints evenly spaced over the compared steps and ending
at the last, ``c = t(1 - alpha / (2 k m), n - 1)``.
The union bound makes it simultaneous over the checkpoints whatever their correlation; it
assumes normal per-seed differences (the sign-flip band does not). ``separated_from`` is then
the first checkpoint from which the band excludes zero at every later checkpoint.

Early signal: the Spearman rank correlation, across seeds, of the per-seed differences at each
step with those at the last step, per variant and pooled over variants; ``informative_from``
is the first step from which it stays at least ``min_rho``. docs/analysis.md ("Over training")
has the method, its references and its simulation checks.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from analysis.compare import AnalysisError
from analysis.curves import logged_values
from analysis.distributions import FloatArray, t_quantile, t_two_sided_p
from analysis.lost_runs import LOST_STATUSES, survivors_only_notes, worst_case_stands, worst_value
from analysis.smoothing import Smoothing, resolve_smoothing, smooth_over_steps
from analysis.verdict import Direction, Verdict, improvement

if TYPE_CHECKING:
    import polars as pl


#: Enumerate every sign pattern up to this many; beyond it draw this many at random.
MAX_SIGN_FLIPS = 4096
#: Sign patterns handled at once: bounds memory to about this times the number of steps.
FLIP_CHUNK = 256
POOLED = "(all variants)"
#: Relative margin on the sign-flip critical value: far above float round-off (1e-15), far
#: below any real gap between two flip maxima.
CRITICAL_ROUNDOFF = 1e-9
#: Checkpoints of the Bonferroni-t band used below the seeds a sign-flip band needs.
SMALL_SAMPLE_CHECKPOINTS = 5
#: The sign-flip band is used when at least this many sign patterns lie beyond its critical
#: value (``floor(alpha' · 2^n)``): with fewer its critical value is one of the few largest
#: flips, which a real gap inflates too, and it found a 4-sd late gap at 6 seeds in half the
#: studies where the Bonferroni-t band found it in all (docs/statistics.md).
MIN_TAIL_PATTERNS = 10
BandMethod = Literal["sign_flip", "bonferroni_t"]


@dataclass(frozen=True, kw_only=True)
class StepDifference:
    """One variant at one logged step.

    Attributes:
        variant: the variant.
        step: the step.
        n: seeds paired at this step.
        diff: mean of the per-seed differences variant − baseline.
        ci_low, ci_high: the pointwise ``1 - alpha`` t interval.
        band_low, band_high: the simultaneous band (None at steps that are not checkpoints of
            a Bonferroni-t band, or with too few seeds for any band).
        spearman_final: rank correlation across seeds of the differences at this step with
            those at the last step (None with fewer than 3 seeds or tied ranks).
    """

    variant: str
    step: int
    n: int
    diff: float
    ci_low: float
    ci_high: float
    band_low: float | None
    band_high: float | None
    spearman_final: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "step": self.step,
            "n": self.n,
            "diff": _number(self.diff),
            "ci_low": _number(self.ci_low),
            "ci_high": _number(self.ci_high),
            "band_low": _number(self.band_low),
            "band_high": _number(self.band_high),
            "spearman_final": _number(self.spearman_final),
        }


@dataclass(frozen=True, kw_only=True)
class VariantOverSteps:
    """One variant's curve of differences, summarized.

    Attributes:
        variant: the variant.
        n_seeds: seeds that both it and the baseline logged at every compared step.
        n_steps: steps compared.
        band_alpha: the level of its band (``alpha / k`` over ``k`` variants).
        band_method: ``sign_flip`` (max-T over sign flips, every step) or ``bonferroni_t``
            (t quantile at ``band_alpha / m`` over ``m`` checkpoints: too few seeds for flips).
        checkpoints: the steps the band covers (every compared step for ``sign_flip``).
        critical_value: ``c`` of the band.
        pointwise_critical_value: ``t(1 - alpha/2, n - 1)`` of the pointwise CIs.
        n_sign_flips: sign patterns the critical value came from (all of them, or a random
            draw that includes the identity); 0 for ``bonferroni_t``.
        p_value: the p-value of "no difference at any step (checkpoint)": the max-t
            randomization p-value, or Bonferroni's ``m · min p`` over the checkpoints.
        separated_from: the first step from which the band excludes zero for good; None if
            never.
        separated_side: ``better`` or ``worse`` from ``separated_from`` on; None if never.
        informative_from: the first step from which ``spearman_final`` stays >= ``min_rho``.
        survivors_only: the variant or the baseline lost runs (diverged or failed): the
            differences and bands come from the surviving runs only.
        withheld: ``lost_runs`` when the survivors separate but the separation does not stand
            once each lost run of the side that would win counts as the worst value at every
            step (the worst-case rule); ``separated_from`` is then None.
    """

    variant: str
    n_seeds: int
    n_steps: int
    band_alpha: float
    critical_value: float | None
    pointwise_critical_value: float
    band_method: BandMethod = "sign_flip"
    checkpoints: tuple[int, ...] = ()
    n_sign_flips: int
    p_value: float
    separated_from: int | None
    separated_side: Verdict | None
    informative_from: int | None
    survivors_only: bool = False
    withheld: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "survivors_only": self.survivors_only,
            "withheld": self.withheld,
            "n_seeds": self.n_seeds,
            "n_steps": self.n_steps,
            "band_alpha": self.band_alpha,
            "band_method": self.band_method,
            "checkpoints": list(self.checkpoints),
            "critical_value": _number(self.critical_value),
            "pointwise_critical_value": _number(self.pointwise_critical_value),
            "n_sign_flips": self.n_sign_flips,
            "p_value": _number(self.p_value),
            "separated_from": self.separated_from,
            "separated_side": self.separated_side,
            "informative_from": self.informative_from,
        }


@dataclass(frozen=True, kw_only=True)
class EarlySignal:
    """Pooled over variants: how well the per-seed differences at ``step`` rank those at the
    last step (Spearman over every (variant, seed) pair)."""

    step: int
    n: int
    spearman: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "n": self.n, "spearman": _number(self.spearman)}


@dataclass(frozen=True, kw_only=True)
class OverStepsResult:
    """Every variant's paired difference from the baseline over training.

    Attributes:
        metric, baseline, direction, alpha: as compared.
        smoothing: the ``--smoothing`` value (0: none).
        smoothed: the step-axis EMA it resolved to (:mod:`analysis.smoothing`), or None.
        min_rho: the early-signal threshold of ``informative_from``.
        variants: one summary per compared variant.
        steps: one row per variant and compared step.
        early_signal: the pooled rank correlation per step (steps every variant has).
        informative_from: the first step from which the pooled correlation stays >= min_rho.
        warnings: what the data could not support, in words.
    """

    metric: str
    baseline: str
    direction: Direction
    alpha: float
    smoothing: float
    min_rho: float
    variants: tuple[VariantOverSteps, ...]
    steps: tuple[StepDifference, ...]
    early_signal: tuple[EarlySignal, ...]
    informative_from: int | None
    warnings: tuple[str, ...] = ()
    smoothed: Smoothing | None = None

    @property
    def separated_from(self) -> dict[str, int | None]:
        return {v.variant: v.separated_from for v in self.variants}

    def method(self) -> str:
        """How the numbers were computed, in one paragraph (shown by every output format)."""
        smoothing = (
            f"each run's curve smoothed first by {self.smoothed.describe()}, the same for "
            "every run whatever its logging interval; "
            if self.smoothed is not None
            else "unsmoothed curves; "
        )
        k = len(self.variants)
        few = [v.variant for v in self.variants if v.band_method == "bonferroni_t"]
        small_n = (
            f" With too few seeds for a useful sign-flip band ({', '.join(few)}: fewer than "
            f"{MIN_TAIL_PATTERNS} sign patterns beyond its critical value), the band is "
            "Bonferroni-t "
            f"instead: c = t(1 - alpha/(2·{k}·m), n - 1) over m = {SMALL_SAMPLE_CHECKPOINTS} "
            "checkpoints evenly spaced over the steps (the union bound holds whatever the "
            "correlation across steps; it assumes normal per-seed differences), and "
            "separated_from is read at the checkpoints."
            if few
            else ""
        )
        return (
            f"Paired by seed at each logged step; {smoothing}pointwise CIs are "
            f"{1 - self.alpha:.0%} t intervals, one step at a time. The band is simultaneous "
            f"over all steps: a sup-t band whose critical value is the 1 - alpha/{k} quantile of "
            "max over steps of |t| under sign flips of whole per-seed difference curves "
            "(max-T randomization, Westfall & Young 1993; Montiel Olea & Plagborg-Møller "
            f"2019), Bonferroni over the {k} variant(s), so the chance that any band excludes "
            f"zero anywhere when nothing differs is at most {self.alpha:g}. separated_from: "
            "the first step from which the band excludes zero at every later step. Early "
            "signal: Spearman rank correlation across seeds of the per-seed differences at a "
            f"step with those at the last step; informative_from: where it stays >= "
            f"{self.min_rho:g}.{small_n}"
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON-serializable result; non-finite numbers become None."""
        return {
            "metric": self.metric,
            "baseline": self.baseline,
            "direction": self.direction,
            "alpha": self.alpha,
            "smoothing": None if self.smoothed is None else self.smoothed.to_dict(),
            "band": "sup-t, sign-flip (max-T randomization) critical value, Bonferroni over "
            "variants"
            + (
                "; Bonferroni-t over checkpoints for variants with too few seeds for sign flips "
                f"(fewer than {MIN_TAIL_PATTERNS} patterns beyond the critical value)"
                if any(v.band_method == "bonferroni_t" for v in self.variants)
                else ""
            ),
            "min_rho": self.min_rho,
            "separated_from": self.separated_from,
            "variants": [v.to_dict() for v in self.variants],
            "steps": [s.to_dict() for s in self.steps],
            "early_signal": [e.to_dict() for e in self.early_signal],
            "informative_from": self.informative_from,
            "method": self.method(),
            "warnings": list(self.warnings),
        }

    def to_frame(self) -> pl.DataFrame:
        """The ``steps`` rows as a polars DataFrame (what ``--format csv`` writes)."""
        import polars as pl

        schema = {
            "variant": pl.Utf8,
            "step": pl.Int64,
            "n": pl.Int64,
            **{
                name: pl.Float64
                for name in (
                    "diff",
                    "ci_low",
                    "ci_high",
                    "band_low",
                    "band_high",
                    "spearman_final",
                )
            },
        }
        return pl.DataFrame([s.to_dict() for s in self.steps], schema=schema)


def compare_over_steps(
    curves: pl.DataFrame,
    *,
    metric: str,
    baseline: str,
    alpha: float = 0.05,
    direction: Direction = Direction.MINIMIZE,
    smoothing: float = 0.0,
    variants: list[str] | None = None,
    min_rho: float = 0.8,
    rng: np.random.Generator,
    lost: pl.DataFrame | None = None,
) -> OverStepsResult:
    """Each variant's paired difference from ``baseline`` at every logged step, with pointwise
    CIs, a band simultaneous over the steps, ``separated_from`` and the early signal.

    A variant is compared on the seeds that it and the baseline both logged, at the steps every
    one of those seeds logged in both (steps some seed lacks are left out and said in
    ``warnings``).

    Args:
        curves: long curves table: ``variant``, ``seed``, ``step``, ``metric``.
        metric: the metric column.
        baseline: the reference variant.
        alpha: family-wise level: pointwise CIs are ``1 - alpha``; every variant's band is at
            ``alpha / k`` so all ``k`` bands hold together.
        direction: whether lower or higher is better (names the side of a separation).
        smoothing: EMA applied to each run's curve first, on the step axis
            (:mod:`analysis.smoothing`): 0 for none, a weight in (0, 1) per logging interval
            of the coarsest run, or a half-life in steps (>= 1).
        variants: the variants to compare (default: every variant but the baseline, in order
            of appearance).
        min_rho: the rank correlation from which a step counts as informative of the final gap.
        rng: draws the sign patterns when there are more than :data:`MAX_SIGN_FLIPS`.
        lost: optional table of every planned run (``variant``, ``seed``, ``status``): a
            separation stands only if it survives the worst-case rule for lost runs
            (:func:`analysis.lost_runs.worst_case_stands`, both directions: the lost runs of
            whichever side the separation favours count as the worst value logged at each
            step), and a variant whose comparison lost runs is marked ``survivors_only``.

    Returns:
        The result; see :class:`OverStepsResult`.

    Raises:
        AnalysisError: a missing column or baseline, a bad alpha or smoothing, nothing to
            compare, or fewer than 2 paired seeds.
    """
    import polars as pl

    if not 0.0 < alpha < 1.0:
        raise AnalysisError(f"alpha must be in (0, 1), got {alpha}")
    logged = _last_per_step(logged_values(curves, metric), metric)
    smoothed = resolve_smoothing(logged, smoothing)
    logged = smooth_over_steps(logged, metric, smoothed)
    present = logged["variant"].cast(pl.Utf8).unique(maintain_order=True).to_list()
    if baseline not in present:
        raise AnalysisError(
            f"baseline '{baseline}' logged no {metric} (variants with it: "
            f"{', '.join(present) or 'none'})"
        )
    others = variants if variants is not None else [v for v in present if v != baseline]
    unknown = [v for v in others if v not in present]
    if unknown:
        raise AnalysisError(f"no {metric} curve for variant(s) {', '.join(unknown)}")
    if not others:
        raise AnalysisError("nothing to compare: no variant besides the baseline logged " + metric)
    band_alpha = alpha / len(others)
    warnings: list[str] = []
    summaries, rows, matrices = [], [], {}
    for variant in others:
        seeds, steps, diffs = _paired(logged, metric, baseline, variant, warnings)
        summary, variant_rows = _one_variant(
            variant,
            seeds,
            steps,
            diffs,
            alpha=alpha,
            band_alpha=band_alpha,
            direction=direction,
            min_rho=min_rho,
            rng=rng,
            warnings=warnings,
        )
        if lost is not None:
            summary = _lost_run_rule(
                summary, logged, metric, baseline, steps, lost, direction=direction,
                band_alpha=band_alpha, alpha=alpha, min_rho=min_rho, warnings=warnings,
            )  # fmt: skip
        summaries.append(summary)
        rows += variant_rows
        matrices[variant] = (steps, diffs)
    early, informative = _pooled_early_signal(matrices, min_rho)
    warnings += survivors_only_notes(summaries)
    return OverStepsResult(
        metric=metric,
        baseline=baseline,
        direction=direction,
        alpha=alpha,
        smoothing=smoothing,
        min_rho=min_rho,
        variants=tuple(summaries),
        steps=tuple(rows),
        early_signal=tuple(early),
        informative_from=informative,
        warnings=tuple(warnings),
        smoothed=smoothed,
    )


# -- the statistics -----------------------------------------------------------------------------


def sign_flip_max_t(
    diffs: FloatArray, rng: np.random.Generator, *, max_flips: int = MAX_SIGN_FLIPS
) -> FloatArray:
    """``max_s |T_s|`` for every sign pattern of the rows of ``diffs`` (seeds × steps).

    All ``2^n`` patterns when there are at most ``max_flips``; otherwise ``max_flips`` random
    ones whose first is the identity, which keeps the randomization test exact (Hemerik &
    Goeman 2018). Flipping signs leaves each column's sum of squares unchanged, so only the
    flipped means need computing.

    Args:
        diffs: per-seed differences, one row per seed (n >= 2), one column per step.
        rng: draws the patterns when they are not enumerated.
        max_flips: the enumeration limit.

    Returns:
        One max-t value per pattern (the identity's, the observed statistic, among them).
    """
    n = diffs.shape[0]
    if 2**n <= max_flips:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=n)))
    else:
        signs = rng.choice(np.array([1.0, -1.0]), size=(max_flips, n))
        signs[0] = 1.0
    squares = (diffs**2).sum(axis=0)
    maxima = np.empty(signs.shape[0])
    for start in range(0, signs.shape[0], FLIP_CHUNK):
        chunk = signs[start : start + FLIP_CHUNK]
        maxima[start : start + FLIP_CHUNK] = _max_abs_t(chunk @ diffs / n, squares, n)
    return maxima


def critical_value(maxima: FloatArray, alpha: float) -> float | None:
    """The ``c`` for which "``max_s |T_s| > c``" is the level-``alpha`` randomization test:
    the ``(B - floor(alpha·B))``-th smallest of the ``B`` flip maxima (p = share of maxima at
    least the observed one, rejected when p <= alpha). None when the identity and its mirror
    image alone exceed ``alpha·B``: then no data could exclude zero at this level."""
    ordered = np.sort(maxima)
    allowed = math.floor(alpha * ordered.size + 1e-9)
    if allowed < 2:  # the observed pattern and its mirror image give the same max
        return None
    return float(ordered[ordered.size - allowed - 1])


def spearman_columns(x: FloatArray, y: FloatArray) -> list[float | None]:
    """Spearman's rank correlation of each column of ``x`` (seeds × steps) with ``y`` (seeds),
    average ranks for ties; None with fewer than 3 seeds or a constant side.

    Args:
        x: one row per seed, one column per step.
        y: one value per seed.

    Returns:
        One correlation per column of ``x``.
    """
    if x.shape[0] < 3:
        return [None] * x.shape[1]
    rx = _average_ranks(x)
    ry = _average_ranks(y[:, None])
    rx = rx - rx.mean(axis=0)
    ry = ry - ry.mean(axis=0)
    scale = np.sqrt((rx**2).sum(axis=0) * (ry**2).sum(axis=0))
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = (rx * ry).sum(axis=0) / scale
    return [float(r) if scale[j] > 0 else None for j, r in enumerate(rho)]


def checkpoint_indices(n_steps: int, count: int = SMALL_SAMPLE_CHECKPOINTS) -> np.ndarray:
    """Indices of ``count`` checkpoints evenly spaced over ``n_steps`` compared steps, the last
    step always among them (the first is left out: it is where curves have not yet moved);
    every step when there are no more than ``count``.

    Args:
        n_steps: the number of compared steps.
        count: the number of checkpoints.

    Returns:
        Sorted distinct indices into the steps.
    """
    if n_steps <= count:
        return np.arange(n_steps)
    return np.unique(np.round(np.linspace(0, n_steps - 1, count + 1)[1:]).astype(int))


def _max_abs_t(means: FloatArray, squares: FloatArray, n: int) -> FloatArray:
    """``max_s |T_s|`` per row of ``means`` (patterns × steps) from the flipped means."""
    variance = np.maximum(squares - n * means**2, 0.0) / (n - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.abs(means) / np.sqrt(variance / n)
    # 0/0 (every seed's difference zero at a step) carries no evidence either way.
    return np.asarray(np.nan_to_num(t, nan=0.0, posinf=np.inf).max(axis=1), dtype=np.float64)


def _one_variant(
    variant: str,
    seeds: list[int],
    steps: list[int],
    diffs: FloatArray,
    *,
    alpha: float,
    band_alpha: float,
    direction: Direction,
    min_rho: float,
    rng: np.random.Generator,
    warnings: list[str],
) -> tuple[VariantOverSteps, list[StepDifference]]:
    n = len(seeds)
    if n < 2:
        raise AnalysisError(
            f"{variant} and the baseline share {n} seed(s) with a complete curve; paired "
            "differences need at least 2"
        )
    mean = diffs.mean(axis=0)
    se = diffs.std(axis=0, ddof=1) / math.sqrt(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.nan_to_num(mean / se, nan=0.0)
    pointwise = float(t_quantile(1 - alpha / 2, n - 1))
    maxima = sign_flip_max_t(diffs, rng)
    observed = float(np.abs(t).max())
    p_value = float(np.mean(maxima >= observed - 1e-12 * max(1.0, observed)))
    critical = critical_value(maxima, band_alpha)
    if critical is not None:
        # The pattern at the critical rank (and its mirror) ties with c; the band's t differs
        # from the flips' by float round-off, which must not tip it over (the test is exact).
        critical *= 1.0 + CRITICAL_ROUNDOFF
    method: BandMethod = "sign_flip"
    banded = np.arange(len(steps))
    n_flips = int(maxima.size)
    if critical is None or math.floor(band_alpha * maxima.size + 1e-9) < MIN_TAIL_PATTERNS:
        # Too few seeds for sign flips: Bonferroni-t over a few checkpoints fixed by the step
        # grid alone (never by the values), so the union bound holds.
        method, banded, n_flips = "bonferroni_t", checkpoint_indices(len(steps)), 0
        critical = float(t_quantile(1 - band_alpha / (2 * banded.size), n - 1))
        p_at = np.asarray(t_two_sided_p(t[banded], float(n - 1)), dtype=np.float64)
        p_value = float(min(1.0, banded.size * float(p_at.min())))
        needed = math.ceil(math.log2(MIN_TAIL_PATTERNS / band_alpha) - 1e-9)
        warnings.append(
            f"{variant}: {n} paired seeds are too few for a useful sign-flip band at level "
            f"{band_alpha:.3g} ({2**n} sign patterns; at least {needed} seeds put "
            f"{MIN_TAIL_PATTERNS} of them beyond its critical value), so the band is "
            f"Bonferroni-t over {banded.size} checkpoints "
            f"(steps {', '.join(str(steps[i]) for i in banded)}), assuming normal per-seed "
            "differences"
        )
    separated_from, side = _separated([steps[i] for i in banded], t[banded], critical, direction)
    rhos = spearman_columns(diffs, diffs[:, -1])
    in_band = set(banded.tolist())
    rows = [
        StepDifference(
            variant=variant,
            step=step,
            n=n,
            diff=float(mean[j]),
            ci_low=float(mean[j] - pointwise * se[j]),
            ci_high=float(mean[j] + pointwise * se[j]),
            band_low=float(mean[j] - critical * se[j]) if j in in_band else None,
            band_high=float(mean[j] + critical * se[j]) if j in in_band else None,
            spearman_final=rhos[j],
        )
        for j, step in enumerate(steps)
    ]
    summary = VariantOverSteps(
        variant=variant,
        n_seeds=n,
        n_steps=len(steps),
        band_alpha=band_alpha,
        critical_value=critical,
        pointwise_critical_value=pointwise,
        band_method=method,
        checkpoints=tuple(steps[i] for i in banded),
        n_sign_flips=n_flips,
        p_value=p_value,
        separated_from=separated_from,
        separated_side=side,
        informative_from=_stays_from(steps, rhos, min_rho),
    )
    return summary, rows


def _separated(
    steps: list[int], t: FloatArray, critical: float | None, direction: Direction
) -> tuple[int | None, Verdict | None]:
    """The first step from which ``|T| > c`` on the last step's side at every later step."""
    if critical is None or not steps:
        return None, None
    sign = np.sign(t[-1])
    excluded = (np.abs(t) > critical) & (np.sign(t) == sign)
    if not excluded[-1]:
        return None, None
    failing = np.flatnonzero(~excluded)
    first = int(failing[-1]) + 1 if failing.size else 0
    side = Verdict.BETTER if improvement(sign, direction) > 0 else Verdict.WORSE
    return steps[first], side


def _stays_from(steps: list[int], values: list[float | None], threshold: float) -> int | None:
    """The first step from which every value is >= ``threshold`` (None values fail)."""
    first = None
    for step, value in zip(reversed(steps), reversed(values), strict=True):
        if value is None or value < threshold:
            break
        first = step
    return first


def _pooled_early_signal(
    matrices: dict[str, tuple[list[int], FloatArray]], min_rho: float
) -> tuple[list[EarlySignal], int | None]:
    """Spearman over every (variant, seed) of the differences at a step with those at each
    variant's last step, at the steps every variant has."""
    if len(matrices) < 2:
        return [], None  # with one variant the pooled signal is that variant's own
    common = sorted(set.intersection(*(set(steps) for steps, _ in matrices.values())))
    finals = np.concatenate([diffs[:, -1] for _, diffs in matrices.values()])
    at_steps = np.concatenate(
        [diffs[:, [steps.index(step) for step in common]] for steps, diffs in matrices.values()]
    )
    rhos = spearman_columns(at_steps, finals)
    signal = [
        EarlySignal(step=step, n=int(finals.size), spearman=rho)
        for step, rho in zip(common, rhos, strict=True)
    ]
    informative = _stays_from(common, [e.spearman for e in signal], min_rho)
    return signal, informative


# -- lost runs ----------------------------------------------------------------------------------


def _lost_run_rule(
    summary: VariantOverSteps,
    logged: pl.DataFrame,
    metric: str,
    baseline: str,
    steps: list[int],
    lost: pl.DataFrame,
    *,
    direction: Direction,
    band_alpha: float,
    alpha: float,
    min_rho: float,
    warnings: list[str],
) -> VariantOverSteps:
    """``summary`` marked ``survivors_only`` when either side lost runs, and its separation
    withheld when it does not survive the worst-case rule: the lost runs of the side it
    favours (the variant for "better", the baseline for "worse") count as the worst value
    logged at each compared step, every run of the study considered, and the band is
    recomputed on the imputed pairs (:func:`analysis.lost_runs.worst_case_stands`)."""
    import polars as pl

    names = [baseline, summary.variant]
    statuses = lost.select(
        pl.col("variant").cast(pl.Utf8), pl.col("seed").cast(pl.Int64), pl.col("status")
    ).filter(pl.col("variant").is_in(names))
    lost_rows = statuses.filter(pl.col("status").is_in(LOST_STATUSES))
    if lost_rows.height == 0:
        return summary
    summary = dataclasses.replace(summary, survivors_only=True)
    if summary.separated_from is None:
        return summary
    runs = logged.filter(pl.col("variant").cast(pl.Utf8).is_in(names)).select(
        pl.col("variant").cast(pl.Utf8), pl.col("seed").cast(pl.Int64), "step", metric
    )
    seeds = sorted(set(statuses["seed"].to_list()) | set(runs["seed"].to_list()))
    values = np.full((2, len(seeds), len(steps)), np.nan)
    seed_index = {seed: i for i, seed in enumerate(seeds)}
    step_index = {step: j for j, step in enumerate(steps)}
    for variant, seed, step, value in runs.iter_rows():
        if step in step_index:
            values[names.index(variant), seed_index[seed], step_index[step]] = value
    # A run with only part of the compared steps has no comparable curve.
    values[~np.isfinite(values).all(axis=2)] = np.nan
    is_lost = np.zeros((2, len(seeds)), dtype=bool)
    for variant, seed in lost_rows.select("variant", "seed").iter_rows():
        is_lost[names.index(variant), seed_index[seed]] = True
    at_steps = logged.filter(pl.col("step").is_in(steps)).group_by("step").agg(pl.col(metric))
    by_step = dict(zip(at_steps["step"].to_list(), at_steps[metric].to_list(), strict=True))
    worst = np.array([worst_value(by_step[step], direction) for step in steps])
    winner = 1 if summary.separated_side == Verdict.BETTER else 0

    def holds(imputed: np.ndarray) -> bool:
        paired = np.isfinite(imputed).all(axis=2).all(axis=0)
        if paired.sum() < 2:
            return False
        again, _ = _one_variant(
            summary.variant, [s for s, keep in zip(seeds, paired, strict=True) if keep], steps,
            imputed[1, paired] - imputed[0, paired], alpha=alpha, band_alpha=band_alpha,
            direction=direction, min_rho=min_rho, rng=np.random.default_rng(0), warnings=[],
        )  # fmt: skip
        return again.separated_side == summary.separated_side

    if worst_case_stands(
        values, is_lost, winner=winner, loser=1 - winner, worst=worst, holds=holds
    ):
        return summary
    who = summary.variant if winner == 1 else f"the baseline {baseline}"
    warnings.append(
        f"{summary.variant}: the surviving runs separate from the baseline "
        f"({summary.separated_side} from step {summary.separated_from}), but not once each lost "
        f"run of {who} counts as the worst value logged at every step (worst-case rule, "
        "docs/statistics.md): no separated_from"
    )
    return dataclasses.replace(
        summary, separated_from=None, separated_side=None, withheld="lost_runs"
    )


# -- alignment ----------------------------------------------------------------------------------


def _last_per_step(logged: pl.DataFrame, metric: str) -> pl.DataFrame:
    """One value per run and step: a metric logged twice at a step counts with its last value."""
    return logged.unique(["variant", "seed", "step"], keep="last", maintain_order=True)


def _paired(
    logged: pl.DataFrame, metric: str, baseline: str, variant: str, warnings: list[str]
) -> tuple[list[int], list[int], FloatArray]:
    """Seeds both logged, the steps all of those seeds logged in both, and the differences
    (seeds × steps)."""
    import polars as pl

    def runs(name: str) -> pl.DataFrame:
        return logged.filter(pl.col("variant").cast(pl.Utf8) == name).select(
            pl.col("seed").cast(pl.Int64), pl.col("step").cast(pl.Int64), metric
        )

    base, other = runs(baseline), runs(variant)
    base_seeds, other_seeds = set(base["seed"].to_list()), set(other["seed"].to_list())
    seeds = sorted(base_seeds & other_seeds)
    unpaired = sorted(base_seeds ^ other_seeds)
    if unpaired:
        warnings.append(
            f"{variant}: seed(s) {', '.join(map(str, unpaired))} lack a run of {variant} or "
            "of the baseline and are left out"
        )
    pairs = other.join(base, on=["seed", "step"], suffix="_base").with_columns(
        (pl.col(metric) - pl.col(f"{metric}_base")).alias("diff")
    )
    counts = pairs.group_by("step").agg(pl.len().alias("n"))
    complete = counts.filter(pl.col("n") == len(seeds))["step"]
    partial = counts.filter(pl.col("n") < len(seeds))["step"]
    if partial.len():
        warnings.append(
            f"{variant}: {partial.len()} step(s) logged by only some seeds are left out "
            f"(e.g. step {min(partial.to_list())})"
        )
    if len(seeds) and not complete.len():
        first_variant, first_base = min(other["step"].to_list()), min(base["step"].to_list())
        raise AnalysisError(
            f"{variant} and the baseline have no step that every seed logged: their runs log "
            f"{metric} at different steps (e.g. {variant} first at step {first_variant}, the "
            f"baseline at {first_base}); log it at the same steps in every run (one logging "
            "interval for every variant), or compare one value per run without --over-steps "
            "(--agg final, or --agg step:S at a step every run logged)"
        )
    kept = pairs.filter(pl.col("step").is_in(complete.implode())).sort("seed", "step")
    steps = kept.filter(pl.col("seed") == seeds[0])["step"].to_list() if seeds else []
    diffs = kept["diff"].to_numpy().reshape(len(seeds), len(steps))
    return seeds, steps, diffs


def _average_ranks(values: FloatArray) -> FloatArray:
    """Ranks 1..n within each column, ties sharing their average rank: the number of smaller
    values plus (the number of equal ones + 1) / 2 (n is a seed count, so n² is small)."""
    below = (values[None, :, :] < values[:, None, :]).sum(axis=1)
    equal = (values[None, :, :] == values[:, None, :]).sum(axis=1)
    return np.asarray(below + (equal + 1) / 2.0, dtype=np.float64)


def _number(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
