"""Seed-aware comparison of variants: per-variant CIs, tests against the baseline and between
all pairs, one multiplicity family, verdicts, tiers and seed advice.

The statistics, in one place (docs/analysis.md says the same at more length):

- **Design.** Runs of two variants with the same seed share init and data order, so their
  metrics are correlated; a paired t-test on the per-seed differences removes the seed effect.
  ``paired=None`` pairs when every pair of variants shares at least 2 seeds (using the shared
  seeds only) and uses Welch's t-test otherwise; ``True``/``False`` force it. One design is
  used for the whole report so that verdicts, tiers and effect sizes mean the same everywhere.
- **One family.** Every pair of variants is tested (``m = k(k-1)/2`` tests, which include the
  ``k - 1`` comparisons with the baseline); with a margin, the ``k - 1`` equivalence tests
  (TOST) against the baseline join the same family. All p-values are adjusted together (Holm
  by default) and both the verdicts and the tiers are read from those adjusted p-values, so
  the chance that the report contains *any* false claim — a wrong verdict or a wrong tier
  boundary — is at most alpha (Holm). With ``correction="bh"`` the false discovery rate is
  controlled instead.
- **Verdicts** (variant against baseline, direction-aware): ``better``/``worse`` when the
  adjusted difference p-value is ``<= alpha``; else ``equivalent`` when a margin is given and
  the adjusted TOST p-value is ``<= alpha``; else ``indistinguishable``.
- **Tiers.** Variants sorted by mean, best first; a tier boundary is drawn between two
  neighbours only where every variant above it is significantly better (adjusted) than every
  variant below it. Variants in different tiers have therefore separated; variants that have
  not separated share a tier; only tiers are ranked (order inside a tier is by mean, no claim).
- **CIs** of differences are per comparison at ``1 - alpha`` (not adjusted), so a CI can
  exclude 0 while the adjusted verdict is still ``indistinguishable``; a warning says so.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from analysis import power, stats

if TYPE_CHECKING:
    import polars as pl

Direction = Literal["minimize", "maximize"]
Correction = Literal["holm", "bh"]
Verdict = Literal["better", "worse", "indistinguishable", "equivalent"]

# A study whose smallest significant difference is more than this many seed-sds of the
# difference can practically never separate variants: warn.
HOPELESS_STANDARDIZED_DIFF = 3.0
POWER = 0.8


class AnalysisError(ValueError):
    """Input that cannot be analysed (missing column, unknown variant, too few seeds ...)."""


@dataclass(frozen=True, kw_only=True)
class VariantSummary:
    """One variant's metric across seeds: ``mean ± t(1 - alpha/2, n - 1) · sd / sqrt(n)``."""

    variant: str
    n: int
    mean: float
    sd: float
    ci_low: float
    ci_high: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "n": self.n,
            "mean": _number(self.mean),
            "sd": _number(self.sd),
            "ci_low": _number(self.ci_low),
            "ci_high": _number(self.ci_high),
        }


@dataclass(frozen=True, kw_only=True)
class PairComparison:
    """``variant`` against ``baseline`` (for tiers, any pair: the second name is the reference).

    Attributes:
        variant: the variant.
        baseline: what it is compared with.
        n_pairs: shared seeds used by the paired test; 0 for Welch (unpaired).
        diff: ``mean(variant - baseline)`` in metric units (paired: over shared seeds).
        ci_low: lower end of the (unadjusted) ``1 - alpha`` CI of ``diff``.
        ci_high: upper end.
        p_value: two-sided p-value of ``diff == 0``.
        p_adjusted: the same, adjusted over the report's whole family.
        effect_size: paired: ``d_z = mean diff / sd diff``; Welch: Hedges' g. Sign of ``diff``.
        prob_improvement: probability that the variant beats the baseline (direction-aware):
            paired, the share of shared seeds on which it does; Welch, ``P(X better than Y)``
            over all cross pairs of runs. Ties count one half.
        verdict: ``better``, ``worse``, ``indistinguishable`` or ``equivalent``.
        seeds_needed: for ``indistinguishable`` comparisons, the paired seeds that would detect
            the observed ``diff`` with 80 % power at the report's strictest level; else None.
    """

    variant: str
    baseline: str
    n_pairs: int
    diff: float
    ci_low: float
    ci_high: float
    p_value: float
    p_adjusted: float
    effect_size: float
    prob_improvement: float
    verdict: Verdict
    seeds_needed: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "baseline": self.baseline,
            "n_pairs": self.n_pairs,
            "diff": _number(self.diff),
            "ci_low": _number(self.ci_low),
            "ci_high": _number(self.ci_high),
            "p_value": _number(self.p_value),
            "p_adjusted": _number(self.p_adjusted),
            "effect_size": _number(self.effect_size),
            "prob_improvement": _number(self.prob_improvement),
            "verdict": self.verdict,
            "seeds_needed": self.seeds_needed,
        }


@dataclass(frozen=True, kw_only=True)
class ComparisonResult:
    """Everything :func:`compare` found. ``to_dict()`` is the ``--format json`` output.

    Attributes:
        metric: the metric compared.
        direction: ``minimize`` or ``maximize``.
        alpha: family-wise level (two-sided).
        correction: ``holm`` or ``bh``.
        paired: whether the paired design was used (else Welch).
        seed_noise_sd: pooled within-variant sd across seeds, in metric units.
        min_detectable_effect: the difference detected with 80 % power at the current n and at
            the report's strictest level ``alpha / n_comparisons`` (see docs/analysis.md).
        variants: per-variant summaries, baseline first.
        comparisons: each other variant against the baseline.
        tiers: variant names by tier, best tier first.
        test: ``paired_t`` or ``welch_t``.
        effect_size_kind: ``d_z`` (paired) or ``hedges_g`` (Welch).
        n_comparisons: size of the multiplicity family.
        warnings: things the reader should know before trusting the verdicts.
        pairwise: every pair of variants (the tiers' evidence); not part of ``to_dict()``.
    """

    metric: str
    direction: Direction
    alpha: float
    correction: Correction
    paired: bool
    seed_noise_sd: float
    min_detectable_effect: float
    variants: tuple[VariantSummary, ...]
    comparisons: tuple[PairComparison, ...]
    tiers: tuple[tuple[str, ...], ...]
    test: str
    effect_size_kind: str
    n_comparisons: int
    warnings: tuple[str, ...] = ()
    pairwise: tuple[PairComparison, ...] = field(default=(), repr=False)

    @property
    def baseline(self) -> str:
        return self.variants[0].variant

    def to_dict(self) -> dict[str, Any]:
        """The JSON-serializable result; non-finite numbers become None."""
        return {
            "metric": self.metric,
            "direction": self.direction,
            "alpha": self.alpha,
            "correction": self.correction,
            "paired": self.paired,
            "seed_noise_sd": _number(self.seed_noise_sd),
            "min_detectable_effect": _number(self.min_detectable_effect),
            "variants": [v.to_dict() for v in self.variants],
            "comparisons": [c.to_dict() for c in self.comparisons],
            "tiers": [list(tier) for tier in self.tiers],
            "test": self.test,
            "effect_size_kind": self.effect_size_kind,
            "n_comparisons": self.n_comparisons,
            "warnings": list(self.warnings),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def tier_of(self) -> dict[str, int]:
        """Variant -> 1-based tier number (1 = best)."""
        return {name: i + 1 for i, tier in enumerate(self.tiers) for name in tier}

    def to_rows(self) -> list[dict[str, Any]]:
        """One flat row per variant (summary, tier and its comparison with the baseline)."""
        by_variant = {c.variant: c for c in self.comparisons}
        tier = self.tier_of()
        rows = []
        for summary in self.variants:
            row: dict[str, Any] = {"variant": summary.variant, "tier": tier[summary.variant]}
            row.update({k: v for k, v in summary.to_dict().items() if k != "variant"})
            comparison = by_variant.get(summary.variant)
            details = comparison.to_dict() if comparison else {}
            row["baseline"] = self.baseline
            for key in ("n_pairs", "diff"):
                row[key] = details.get(key)
            row["diff_ci_low"] = details.get("ci_low")
            row["diff_ci_high"] = details.get("ci_high")
            for key in (
                "p_value",
                "p_adjusted",
                "effect_size",
                "prob_improvement",
                "verdict",
                "seeds_needed",
            ):
                row[key] = details.get(key, "baseline" if key == "verdict" else None)
            rows.append(row)
        return rows

    def to_frame(self) -> pl.DataFrame:
        """:meth:`to_rows` as a polars DataFrame (what ``--format csv`` writes)."""
        import polars as pl

        return pl.DataFrame(self.to_rows(), infer_schema_length=None)


def _number(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


# -- entry points ---------------------------------------------------------------------------


def compare(
    table: Any,
    *,
    metric: str,
    baseline: str | None = None,
    alpha: float = 0.05,
    paired: bool | None = None,
    margin: float | None = None,
    direction: Direction = "minimize",
    correction: Correction = "holm",
) -> ComparisonResult:
    """Compare the variants of a results table against seed noise.

    Args:
        table: a polars DataFrame (or anything ``polars.DataFrame()`` accepts, e.g. a pandas
            DataFrame or a dict of columns) with columns ``variant``, ``seed`` and ``metric``,
            one row per run. Rows with a missing or non-finite metric are left out (a warning
            says how many).
        metric: the column to compare.
        baseline: the reference variant; default: the first variant in the table.
        alpha: family-wise level (two-sided), also the CI level ``1 - alpha``.
        paired: force the paired (True) or Welch (False) design; None decides from the seeds.
        margin: equivalence margin in metric units; enables the ``equivalent`` verdict (TOST).
        direction: ``minimize`` (lower is better) or ``maximize``.
        correction: ``holm`` (family-wise error) or ``bh`` (false discovery rate).

    Returns:
        A :class:`ComparisonResult`.

    Raises:
        AnalysisError: a missing column, an unknown baseline, duplicate (variant, seed) rows,
            fewer than 2 variants, a variant with fewer than 2 seeds, or bad arguments.
    """
    import polars as pl

    frame = table if isinstance(table, pl.DataFrame) else pl.DataFrame(table)
    _require_columns(frame, ("variant", "seed", metric))
    if not frame.schema[metric].is_numeric():
        raise AnalysisError(f"column '{metric}' is not numeric ({frame.schema[metric]})")
    try:
        frame = frame.select(
            pl.col("variant").cast(pl.Utf8),
            pl.col("seed").cast(pl.Int64),
            pl.col(metric).cast(pl.Float64),
        )
    except pl.exceptions.PolarsError as error:
        raise AnalysisError(f"column 'seed' must hold integers: {error}") from None
    notes = []
    usable = frame.filter(
        pl.col(metric).is_not_null()
        & pl.col(metric).is_finite()
        & pl.col("variant").is_not_null()
        & pl.col("seed").is_not_null()
    )
    if usable.height < frame.height:
        notes.append(
            f"{frame.height - usable.height} row(s) with a missing or non-finite "
            f"{metric}, variant or seed were left out"
        )
    names = usable["variant"].unique(maintain_order=True).to_list()
    if not names:
        raise AnalysisError(f"no runs with a value for '{metric}'")
    codes = usable["variant"].replace_strict(names, list(range(len(names))), return_dtype=pl.Int64)
    seed_values = usable["seed"].to_numpy()
    seeds, seed_index = np.unique(seed_values, return_inverse=True)
    variant_index = codes.to_numpy()
    flat = variant_index * len(seeds) + seed_index
    if np.unique(flat).size < flat.size:
        counts = np.bincount(flat)
        first = int(np.argmax(counts > 1))
        raise AnalysisError(
            f"more than one row for variant '{names[first // len(seeds)]}', seed "
            f"{seeds[first % len(seeds)]}: expected one row per run (for a curves table with "
            "a 'step' column, aggregate it first, e.g. --agg final)"
        )
    values = np.full((len(names), len(seeds)), np.nan)
    values[variant_index, seed_index] = usable[metric].to_numpy()
    return compare_values(
        values,
        names,
        metric=metric,
        baseline=baseline,
        alpha=alpha,
        paired=paired,
        margin=margin,
        direction=direction,
        correction=correction,
        notes=notes,
    )


def compare_values(
    values: ArrayLike,
    variants: Sequence[str],
    *,
    metric: str = "metric",
    baseline: str | None = None,
    alpha: float = 0.05,
    paired: bool | None = None,
    margin: float | None = None,
    direction: Direction = "minimize",
    correction: Correction = "holm",
    notes: Sequence[str] = (),
) -> ComparisonResult:
    """:func:`compare` on a matrix: ``values[i, s]`` is variant ``i``'s metric on seed column
    ``s`` (NaN where that run is missing). Same arguments and result as :func:`compare`; this
    is the core, callable directly from simulations."""
    x = np.asarray(values, dtype=np.float64)
    names = [str(v) for v in variants]
    _check_arguments(
        x, names, alpha=alpha, margin=margin, direction=direction, correction=correction
    )
    baseline = names[0] if baseline is None else baseline
    if baseline not in names:
        match = difflib.get_close_matches(baseline, names, n=1, cutoff=0.5)
        hint = f" (did you mean '{match[0]}'?)" if match else ""
        raise AnalysisError(
            f"unknown baseline variant '{baseline}'{hint}; variants: {', '.join(names)}"
        )
    order = [names.index(baseline)] + [i for i, name in enumerate(names) if name != baseline]
    x = x[order]
    names = [names[i] for i in order]
    k = len(names)

    counts = np.isfinite(x).sum(axis=1)
    too_few = [f"{names[i]} ({counts[i]})" for i in range(k) if counts[i] < 2]
    if too_few:
        raise AnalysisError(
            f"fewer than 2 seeds for {', '.join(too_few)}: a single run per variant cannot be "
            "told apart from seed noise, so nothing can be compared or ranked; run more seeds"
        )

    # All pairs (a, b) with diff = a - b: the baseline pairs (j, 0) first, then the rest.
    pairs = [(j, 0) for j in range(1, k)] + [(j, i) for i in range(1, k) for j in range(i + 1, k)]
    ia = np.array([a for a, _ in pairs])
    ib = np.array([b for _, b in pairs])
    n_baseline_pairs = k - 1
    present = np.isfinite(x).astype(np.float64)
    shared = (present @ present.T)[ia, ib].astype(int)

    if paired is None:
        use_paired = bool((shared >= 2).all())
    else:
        use_paired = bool(paired)
        if use_paired and (shared < 2).any():
            worst = int(np.argmin(shared))
            raise AnalysisError(
                f"--paired needs at least 2 seeds shared by every pair of variants, but "
                f"'{names[ia[worst]]}' and '{names[ib[worst]]}' share {shared[worst]}; "
                "use --unpaired (Welch)"
            )

    summary = stats.mean_ci(x, alpha=alpha)
    n_runs, means, sds = summary["n"], summary["mean"], summary["sd"]
    if use_paired:
        differences = x[ia] - x[ib]  # NaN where the pair does not share the seed
        n_diff, mean_diff, sd_diff = stats.sample_stats(differences)
        result = stats.paired_from_stats(n_diff, mean_diff, sd_diff, alpha=alpha)
        with np.errstate(invalid="ignore", divide="ignore"):
            effect = np.where(sd_diff > 0, mean_diff / sd_diff, np.nan)  # d_z
        prob = stats.prob_improvement_paired(x[ia], x[ib], direction)
        n_pairs = shared
    else:
        result = stats.welch_from_stats(
            n_runs[ia], means[ia], sds[ia], n_runs[ib], means[ib], sds[ib], alpha=alpha
        )
        effect = stats.hedges_g_from_stats(
            n_runs[ia], means[ia], sds[ia], n_runs[ib], means[ib], sds[ib]
        )
        # No pairing to estimate the covariance from: the sd of a difference of independent
        # runs, which over-states it (so seeds_needed errs high) when seeds are correlated.
        sd_diff = np.sqrt(sds[ia] ** 2 + sds[ib] ** 2)
        prob = np.array([stats.prob_improvement_unpaired(x[a], x[b], direction) for a, b in pairs])
        n_pairs = np.zeros(len(pairs), dtype=int)

    family = [result.p_value]
    if margin is not None:
        head = slice(0, n_baseline_pairs)
        family.append(
            stats.tost_p(result.estimate[head], result.std_error[head], result.df[head], margin)
        )
    adjusted = stats.adjust(np.concatenate(family), correction)
    n_comparisons = adjusted.size
    p_adjusted = adjusted[: len(pairs)]
    equivalent = np.zeros(len(pairs), dtype=bool)
    if margin is not None:
        equivalent[:n_baseline_pairs] = adjusted[len(pairs) :] <= alpha

    improvement = -result.estimate if direction == "minimize" else result.estimate
    rejected = p_adjusted <= alpha
    verdicts: list[Verdict] = []
    for i in range(len(pairs)):
        if rejected[i]:
            verdicts.append("better" if improvement[i] > 0 else "worse")
        elif equivalent[i]:
            verdicts.append("equivalent")
        else:
            verdicts.append("indistinguishable")

    # Seeds advice and the MDE at the strictest level a test meets in the family (Bonferroni's
    # alpha/m): reaching it guarantees significance under Holm whatever the other tests do.
    strict_alpha = alpha / n_comparisons
    advice = np.array([v == "indistinguishable" for v in verdicts])
    needed = power.seeds_needed(
        np.where(advice, result.estimate, np.nan), sd_diff, alpha=strict_alpha, power=POWER
    )

    comparisons = [
        PairComparison(
            variant=names[a],
            baseline=names[b],
            n_pairs=int(n_pairs[i]),
            diff=float(result.estimate[i]),
            ci_low=float(result.ci_low[i]),
            ci_high=float(result.ci_high[i]),
            p_value=float(result.p_value[i]),
            p_adjusted=float(p_adjusted[i]),
            effect_size=float(effect[i]),
            prob_improvement=float(prob[i]),
            verdict=verdicts[i],
            seeds_needed=None if needed[i] < 0 else int(needed[i]),
        )
        for i, (a, b) in enumerate(pairs)
    ]
    variant_summaries = tuple(
        VariantSummary(
            variant=names[i],
            n=int(n_runs[i]),
            mean=float(means[i]),
            sd=float(sds[i]),
            ci_low=float(summary["ci_low"][i]),
            ci_high=float(summary["ci_high"][i]),
        )
        for i in range(k)
    )

    separated = np.zeros((k, k), dtype=bool)  # separated[a, b]: a significantly better than b
    for i, (a, b) in enumerate(pairs):
        if rejected[i]:
            better, worse = (a, b) if improvement[i] > 0 else (b, a)
            separated[better, worse] = True
    tiers = make_tiers(means, separated, direction=direction, names=names)

    seed_noise_sd = stats.pooled_sd(sds, n_runs)
    if use_paired:
        n_design = float(shared[:n_baseline_pairs].min())
        noise_for_mde = stats.pooled_sd(sd_diff[:n_baseline_pairs], shared[:n_baseline_pairs])
    else:
        n_design = float(n_runs.min())
        noise_for_mde = seed_noise_sd
    mde = power.minimum_detectable_effect(
        noise_for_mde, n_design, alpha=strict_alpha, power=POWER, paired=use_paired
    )

    warnings = list(notes)
    tier_of = {name: i for i, tier in enumerate(tiers) for name in tier}
    for comparison in comparisons[:n_baseline_pairs]:
        if comparison.verdict in ("better", "worse") and (
            tier_of[comparison.variant] == tier_of[baseline]
        ):
            warnings.append(
                f"{comparison.variant} is {comparison.verdict} than {baseline} but shares its "
                "tier: a tier boundary needs every variant above it to beat every variant "
                "below it, and a variant in between has not separated"
            )
    warnings += _design_warnings(
        names=names,
        pairs=pairs,
        shared=shared,
        n_runs=n_runs,
        use_paired=use_paired,
        n_design=n_design,
        strict_alpha=strict_alpha,
        n_comparisons=n_comparisons,
        correction=correction,
        comparisons=comparisons[:n_baseline_pairs],
        alpha=alpha,
    )

    return ComparisonResult(
        metric=metric,
        direction=direction,
        alpha=float(alpha),
        correction=correction,
        paired=use_paired,
        seed_noise_sd=seed_noise_sd,
        min_detectable_effect=mde,
        variants=variant_summaries,
        comparisons=tuple(comparisons[:n_baseline_pairs]),
        tiers=tiers,
        test="paired_t" if use_paired else "welch_t",
        effect_size_kind="d_z" if use_paired else "hedges_g",
        n_comparisons=int(n_comparisons),
        warnings=tuple(warnings),
        pairwise=tuple(comparisons),
    )


def make_tiers(
    means: ArrayLike, separated: ArrayLike, *, direction: Direction, names: Sequence[str]
) -> tuple[tuple[str, ...], ...]:
    """Partition variants into ranked tiers.

    Variants are sorted by mean, best first (ties keep input order). A boundary after
    position ``c`` is drawn only when every variant at or above ``c`` is significantly better
    than every variant below it (``separated[a, b]``). Each boundary's validity does not depend
    on the others, so taking all valid boundaries gives the finest such partition.

    Args:
        means: per-variant means.
        separated: ``(k, k)`` booleans, ``separated[a, b]`` when a is significantly better
            than b after correction.
        direction: ``minimize`` or ``maximize``.
        names: variant names.
    """
    means = np.asarray(means, dtype=np.float64)
    separated = np.asarray(separated, dtype=bool)
    key = means if direction == "minimize" else -means
    order = np.argsort(key, kind="stable")
    ranked = separated[np.ix_(order, order)]
    tiers: list[tuple[str, ...]] = []
    current: list[str] = []
    for position, index in enumerate(order):
        current.append(names[index])
        last = position == len(order) - 1
        if last or ranked[: position + 1, position + 1 :].all():
            tiers.append(tuple(current))
            current = []
    return tuple(tiers)


def _check_arguments(
    x: np.ndarray,
    names: list[str],
    *,
    alpha: float,
    margin: float | None,
    direction: str,
    correction: str,
) -> None:
    if x.ndim != 2 or x.shape[0] != len(names):
        raise AnalysisError(f"values must be (variants, seeds); got {x.shape} for {len(names)}")
    if len(set(names)) != len(names):
        raise AnalysisError("variant names must be unique")
    if len(names) < 2:
        only = names[0] if names else "none"
        raise AnalysisError(f"need at least 2 variants to compare; found 1 ({only})")
    if not 0 < alpha < 1:
        raise AnalysisError(f"alpha must be between 0 and 1, got {alpha}")
    if margin is not None and not (math.isfinite(margin) and margin > 0):
        raise AnalysisError(f"margin must be a positive number, got {margin}")
    if direction not in ("minimize", "maximize"):
        raise AnalysisError(f"direction must be 'minimize' or 'maximize', got {direction!r}")
    if correction not in ("holm", "bh"):
        raise AnalysisError(f"correction must be 'holm' or 'bh', got {correction!r}")


def _require_columns(frame: pl.DataFrame, needed: Sequence[str]) -> None:
    missing = [c for c in needed if c not in frame.columns]
    if not missing:
        return
    parts = []
    for column in missing:
        match = difflib.get_close_matches(column, frame.columns, n=1, cutoff=0.5)
        parts.append(f"'{column}'" + (f" (did you mean '{match[0]}'?)" if match else ""))
    raise AnalysisError(
        f"the table has no column {', '.join(parts)}; columns: {', '.join(frame.columns)}"
    )


def _design_warnings(
    *,
    names: list[str],
    pairs: list[tuple[int, int]],
    shared: np.ndarray,
    n_runs: np.ndarray,
    use_paired: bool,
    n_design: float,
    strict_alpha: float,
    n_comparisons: int,
    correction: str,
    comparisons: list[PairComparison],
    alpha: float,
) -> list[str]:
    warnings = []
    threshold = power.significance_threshold(n_design, alpha=strict_alpha, paired=use_paired)
    if threshold > HOPELESS_STANDARDIZED_DIFF:
        unit = "pairs" if use_paired else "seeds per variant"
        spread = "its seed-to-seed sd" if use_paired else "the seed sd"
        warnings.append(
            f"too few seeds: with {n_design:.0f} {unit} and {n_comparisons} comparison(s), a "
            f"difference can reach significance (level {strict_alpha:.3g}) only when it is "
            f"over {threshold:.1f} x {spread}; add seeds (see seeds_needed) before trusting "
            "'indistinguishable' or a single tier"
        )
    if use_paired:
        for i, (a, b) in enumerate(pairs[: len(comparisons)]):
            unused = int(n_runs[a] + n_runs[b] - 2 * shared[i])
            if unused:
                warnings.append(
                    f"{names[a]} vs {names[b]}: paired on the {shared[i]} shared seeds; "
                    f"{unused} run(s) without a partner are left out"
                )
    if correction == "bh":
        warnings.append(
            "BH controls the false discovery rate, not the family-wise error: some of the "
            "separations may be false even when each looks significant"
        )
    loose = [
        c.variant
        for c in comparisons
        if c.verdict == "indistinguishable" and (c.ci_low > 0 or c.ci_high < 0)
    ]
    if loose:
        warnings.append(
            f"the unadjusted {1 - alpha:.0%} CI excludes 0 for {', '.join(loose)}, but not "
            f"after correcting for {n_comparisons} comparisons: suggestive, not established"
        )
    return warnings
