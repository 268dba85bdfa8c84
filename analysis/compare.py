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
import functools
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from analysis import power, stats
from analysis.blocked import BlockedFit, bridged_pair_tests, fit_seed_blocked
from analysis.lost_runs import (
    LOST_STATUSES,
    DivergenceTest,
    RunCounts,
    count_runs,
    divergence_test,
    survivors_only_notes,
    worst_case_stands,
    worst_value,
)
from analysis.resolution import is_integer_valued, metric_resolution, spread_is_unmeasured
from analysis.verdict import Direction, Verdict, Withheld, as_direction, improvement

if TYPE_CHECKING:
    import polars as pl

Correction = Literal["holm", "bh"]

# A study whose smallest significant difference is more than this many seed-sds of the
# difference can practically never separate variants: warn.
HOPELESS_STANDARDIZED_DIFF = 3.0
POWER = 0.8


class AnalysisError(ValueError):
    """Input that cannot be analysed (missing column, unknown variant, too few seeds ...)."""


@dataclass(frozen=True, kw_only=True)
class VariantSummary:
    """One variant's metric across seeds: ``mean ± t(1 - alpha/2, n - 1) · sd / sqrt(n)``.

    ``adjusted_mean`` is the seed-adjusted (least-squares) mean of the seed-blocked model: the
    mean the variant would have on every seed of the table; equal to ``mean`` on a complete
    table, NaN when variants are not all linked by shared seeds. Tiers are ordered by it. It is
    not in ``to_dict()`` (whose keys stay those of earlier versions): the result's
    ``adjusted_means`` carries it.
    """

    variant: str
    n: int
    mean: float
    sd: float
    ci_low: float
    ci_high: float
    adjusted_mean: float = math.nan

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
        design: ``paired`` (paired t-test: both ran the same seeds), ``seed_blocked`` (least
            squares with seed fixed effects over the whole table: they did not) or ``welch``.
        df: degrees of freedom of the test.
        noise_measured: False when the differences have zero spread or spread at the metric's
            resolution: then no verdict, tier boundary or equivalence comes from it.
        withheld: why a verdict the test alone would give was withheld: ``unmeasured_noise``,
            ``lost_runs`` (not better once each lost run counts as its worst outcome), or None.
        survivors_only: either side lost runs (diverged or failed): ``diff`` and its CI come
            from the surviving runs alone, biased when the losses depend on the outcome; only
            the verdict (through the worst-case rule) accounts for them.
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
    design: str = "paired"
    df: float = math.nan
    noise_measured: bool = True
    withheld: Withheld | None = None
    survivors_only: bool = False

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
            "design": self.design,
            "df": _number(self.df),
            "noise_measured": self.noise_measured,
            "withheld": self.withheld,
            "survivors_only": self.survivors_only,
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
        tiers: variant names by tier, best tier first (the unranked ones left out).
        test: ``paired_t`` or ``welch_t``.
        effect_size_kind: ``d_z`` (paired) or ``hedges_g`` (Welch).
        n_comparisons: size of the multiplicity family.
        warnings: things the reader should know before trusting the verdicts.
        pairwise: every pair of variants (the tiers' evidence); not part of ``to_dict()``.
        runs: per variant, runs planned / done / diverged / failed; empty when the input had
            no run statuses (e.g. a results file without a ``status`` column) or when every
            planned run is done (then ``n`` says it all).
        divergence_test: the exact test of equal divergence rates; None when nothing diverged.
        resolution: the metric's rounding step inferred from the values (0: unrounded).
        unranked: variants with a single run: no verdict (``undecided``, withheld
            ``too_few_seeds``), in no tier.

    ``to_dict()`` also has ``adjusted_means``: variant -> seed-adjusted mean (the tiers' order).
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
    runs: tuple[RunCounts, ...] = ()
    divergence_test: DivergenceTest | None = None
    resolution: float = 0.0
    unranked: tuple[str, ...] = ()

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
            "runs": [r.to_dict() for r in self.runs],
            "divergence_test": (
                self.divergence_test.to_dict() if self.divergence_test is not None else None
            ),
            "resolution": self.resolution,
            "adjusted_means": {v.variant: _number(v.adjusted_mean) for v in self.variants},
            "unranked": list(self.unranked),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def tier_of(self) -> dict[str, int]:
        """Variant -> 1-based tier number (1 = best); unranked variants have none."""
        return {name: i + 1 for i, tier in enumerate(self.tiers) for name in tier}

    def to_rows(self) -> list[dict[str, Any]]:
        """One flat row per variant (summary, tier and its comparison with the baseline)."""
        by_variant = {c.variant: c for c in self.comparisons}
        tier = self.tier_of()
        rows = []
        for summary in self.variants:
            row: dict[str, Any] = {"variant": summary.variant, "tier": tier.get(summary.variant)}
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
    direction: Direction = Direction.MINIMIZE,
    correction: Correction = "holm",
    lost: Any = None,
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
        lost: optional table of every planned run with columns ``variant``, ``seed`` and
            ``status`` (``done``, ``diverged``, ``failed``, or anything else for a run not
            ended yet), e.g. ``harness.store.load_run_statuses``. With it the result counts
            runs per variant, tests divergence rates, and applies the worst-case rule to lost
            runs (a variant that lost runs is better only if it stays better with each lost
            run counted as the worst value in the table).

    Returns:
        A :class:`ComparisonResult`.

    Raises:
        AnalysisError: a missing column, an unknown baseline, duplicate (variant, seed) rows,
            fewer than 2 variants, a variant that cannot be compared (fewer than 2 seeds and
            no seed-blocked comparison), or bad arguments.
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
    statuses = _status_frame(lost) if lost is not None else None
    codes = usable["variant"].replace_strict(names, list(range(len(names))), return_dtype=pl.Int64)
    seed_values = usable["seed"].to_numpy()
    if statuses is not None:
        seeds = np.unique(np.concatenate([seed_values, statuses["seed"].to_numpy()]))
    else:
        seeds = np.unique(seed_values)
    seed_index = np.searchsorted(seeds, seed_values)
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
    status_matrix = None
    run_counts: tuple[RunCounts, ...] = ()
    if statuses is not None:
        pairs = list(zip(statuses["variant"].to_list(), statuses["status"].to_list(), strict=True))
        run_counts = count_runs(pairs, names)
        status_matrix = np.full((len(names), len(seeds)), "", dtype=object)
        known = statuses.filter(pl.col("variant").is_in(names))
        rows = [names.index(v) for v in known["variant"].to_list()]
        columns = np.searchsorted(seeds, known["seed"].to_numpy())
        status_matrix[rows, columns] = np.asarray(known["status"].to_list(), dtype=object)
        for absent in (c for c in run_counts if c.variant not in names):
            notes.append(
                f"{absent.variant} has no finished run with a value for {metric} "
                f"({absent.diverged} diverged, {absent.failed} failed of {absent.planned} "
                "planned): it is not compared"
            )
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
        status=status_matrix,
        run_counts=run_counts,
    )


def _status_frame(lost: Any) -> pl.DataFrame:
    """The ``lost`` argument of :func:`compare` as ``variant``, ``seed``, ``status``."""
    import polars as pl

    frame = lost if isinstance(lost, pl.DataFrame) else pl.DataFrame(lost)
    _require_columns(frame, ("variant", "seed", "status"))
    return frame.select(
        pl.col("variant").cast(pl.Utf8),
        pl.col("seed").cast(pl.Int64),
        pl.col("status").cast(pl.Utf8),
    ).drop_nulls()


def compare_values(
    values: ArrayLike,
    variants: Sequence[str],
    *,
    metric: str = "metric",
    baseline: str | None = None,
    alpha: float = 0.05,
    paired: bool | None = None,
    margin: float | None = None,
    direction: Direction = Direction.MINIMIZE,
    correction: Correction = "holm",
    notes: Sequence[str] = (),
    status: ArrayLike | None = None,
    run_counts: Sequence[RunCounts] = (),
    resolution: float | None = None,
) -> ComparisonResult:
    """:func:`compare` on a matrix: ``values[i, s]`` is variant ``i``'s metric on seed column
    ``s`` (NaN where that run is missing). Same arguments and result as :func:`compare`; this
    is the core, callable directly from simulations.

    The steps, each a function below: select the runs (baseline first, lost runs marked),
    pair every two variants, choose each pair's design, estimate, adjust over the family,
    apply the worst-case rule for lost runs, decide the verdicts; then the tiers, the seed
    advice and the warnings are read from those decisions.

    Args:
        status: optional ``(k, S)`` array of run statuses (``done``, ``diverged``, ``failed``,
            anything else for a run not ended) aligned with ``values``; it drives the
            worst-case rule for lost runs and, without ``run_counts``, the run counts.
        run_counts: per-variant run counts to report (``compare`` passes them).
        resolution: the metric's rounding step; None infers it from ``values``.
    """
    _check_arguments(
        np.asarray(values, dtype=np.float64),
        [str(v) for v in variants],
        alpha=alpha,
        margin=margin,
        direction=direction,
        correction=correction,
    )
    direction = Direction(direction)
    runs = _select_runs(values, variants, baseline=baseline, status=status, run_counts=run_counts)
    pairs = _pair(runs)
    fit = _choose_design(runs, pairs, paired=paired)
    resolution = metric_resolution(runs.values) if resolution is None else float(resolution)

    def test(x: np.ndarray, fit: BlockedFit | None) -> tuple[_PairTests, _Family]:
        """Estimate every pair and adjust over the family: the steps the worst-case rule
        repeats on imputed values."""
        tests = _estimate(x, pairs, paired=paired, fit=fit, alpha=alpha, direction=direction,
                          resolution=resolution, scale=runs.scale)  # fmt: skip
        return tests, _adjust(tests, pairs, alpha=alpha, margin=margin, correction=correction)

    tests, family = test(runs.values, fit)
    withheld, lost_notes = _apply_worst_case_rule(
        runs, pairs, tests, family, direction=direction, paired=paired, test=test
    )
    rejected = family.rejected & np.array([w is None for w in withheld])
    for i in map(int, np.flatnonzero(tests.unmeasured)):
        withheld[i] = Withheld.UNMEASURED_NOISE
    verdicts = _decide(rejected, family.equivalent, improvement(tests.estimate, direction))
    for i in map(int, np.flatnonzero(tests.too_few)):  # no noise of its own: more seeds decide
        withheld[i], verdicts[i] = Withheld.TOO_FEW_SEEDS, Verdict.UNDECIDED
    return _result(
        runs, pairs, fit, tests, family, rejected, verdicts, withheld,
        metric=metric, alpha=alpha, direction=direction, correction=correction,
        resolution=resolution, notes=list(notes), lost_notes=lost_notes,
    )  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class _Runs:
    """The runs compared: ``values[i, s]`` of variant ``names[i]`` (the baseline first) on seed
    column ``s``; ``lost`` marks runs that diverged or failed and left no value."""

    values: np.ndarray
    names: list[str]
    lost: np.ndarray
    run_counts: tuple[RunCounts, ...]

    @property
    def present(self) -> np.ndarray:
        return np.isfinite(self.values)

    @property
    def scale(self) -> float:
        return float(np.nanmax(np.abs(self.values))) if self.present.any() else 1.0


@dataclass(frozen=True, kw_only=True)
class _Pairs:
    """Every pair ``(a, b)`` of variants, ``diff = a - b``: the baseline pairs ``(j, 0)``
    first (``n_baseline`` of them), then the rest; ``shared`` seeds per pair."""

    pairs: list[tuple[int, int]]
    ia: np.ndarray
    ib: np.ndarray
    n_baseline: int
    shared: np.ndarray


def _select_runs(
    values: ArrayLike,
    variants: Sequence[str],
    *,
    baseline: str | None,
    status: ArrayLike | None,
    run_counts: Sequence[RunCounts],
) -> _Runs:
    """Put the baseline first and mark the lost runs (a lost status and no value)."""
    x = np.asarray(values, dtype=np.float64)
    names = [str(v) for v in variants]
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
    lost = np.zeros(x.shape, dtype=bool)
    if status is not None:
        status_array = np.asarray(status, dtype=object)[order]
        lost = np.isin(status_array, LOST_STATUSES) & ~np.isfinite(x)
        if not run_counts:
            run_counts = count_runs(
                [(names[i], str(v)) for i in range(len(names)) for v in status_array[i] if v],
                names,
            )
    return _Runs(values=x, names=names, lost=lost, run_counts=tuple(run_counts))


def _pair(runs: _Runs) -> _Pairs:
    """All pairs of variants, the baseline pairs first, and the seeds each pair shares."""
    k = len(runs.names)
    pairs = [(j, 0) for j in range(1, k)] + [(j, i) for i in range(1, k) for j in range(i + 1, k)]
    ia = np.array([a for a, _ in pairs])
    ib = np.array([b for _, b in pairs])
    presence = runs.present.astype(np.float64)
    shared = (presence @ presence.T)[ia, ib].astype(int)
    return _Pairs(pairs=pairs, ia=ia, ib=ib, n_baseline=k - 1, shared=shared)


def _choose_design(runs: _Runs, pairs: _Pairs, *, paired: bool | None) -> BlockedFit | None:
    """The seed-blocked fit when some pair did not run the same seeds (else None), after
    checking that the design asked for, and every variant, can be compared at all. Each pair's
    own design (paired, seed-blocked or Welch) is chosen from it by :func:`_estimate`."""
    shared, present = pairs.shared, runs.present
    counts = present.sum(axis=1)
    if paired is True and (shared < 2).any():
        worst = int(np.argmin(shared))
        raise AnalysisError(
            f"--paired needs at least 2 seeds shared by every pair of variants, but "
            f"'{runs.names[pairs.ia[worst]]}' and '{runs.names[pairs.ib[worst]]}' share "
            f"{shared[worst]}; use --unpaired (Welch)"
        )
    fit = (
        fit_seed_blocked(runs.values)
        if paired is None and not present.all() and counts.min() > 0
        else None
    )
    _check_comparable(runs.names, counts, fit, paired)
    return fit


def _apply_worst_case_rule(
    runs: _Runs,
    pairs: _Pairs,
    tests: _PairTests,
    family: _Family,
    *,
    direction: Direction,
    paired: bool | None,
    test: Callable[[np.ndarray, BlockedFit | None], tuple[_PairTests, _Family]],
) -> tuple[list[Withheld | None], list[str]]:
    """Each significant claim by a variant that lost runs, through the worst-case rule
    (:func:`analysis.lost_runs.worst_case_stands`): re-tested, the whole family, with the
    variant's lost runs at the worst value of the table. Returns, per pair, ``lost_runs``
    where the claim is withheld (else None), and a note for each."""
    withheld: list[Withheld | None] = [None] * len(pairs.pairs)
    notes: list[str] = []
    if not runs.lost.any():
        return withheld, notes
    worst = worst_value(runs.values, direction)
    retested: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def still_wins(imputed: np.ndarray, *, winner: int, i: int) -> bool:
        """The claim of pair ``i`` on the re-tested family: still significant, same winner."""
        if winner not in retested:
            fit = (
                fit_seed_blocked(imputed)
                if paired is None and not np.isfinite(imputed).all()
                else None
            )
            again, again_family = test(imputed, fit)
            again_winner = np.where(improvement(again.estimate, direction) > 0, pairs.ia, pairs.ib)
            retested[winner] = (again_family.rejected, again_winner)
        still, again_winner = retested[winner]
        return bool(still[i] and again_winner[i] == winner)

    winners = np.where(improvement(tests.estimate, direction) > 0, pairs.ia, pairs.ib)
    # Claims grouped by winner (one re-test each), so the notes come variant by variant.
    claims = [(int(w), int(i)) for w in range(len(runs.names))
              for i in np.flatnonzero(family.rejected & (winners == w))]  # fmt: skip
    for winner, i in claims:
        loser = int(pairs.ib[i] if pairs.ia[i] == winner else pairs.ia[i])
        stands = worst_case_stands(
            runs.values,
            runs.lost,
            winner=winner,
            loser=loser,
            worst=worst,
            holds=functools.partial(still_wins, winner=winner, i=i),
        )
        if stands:
            continue
        withheld[i] = Withheld.LOST_RUNS
        notes.append(
            f"{runs.names[winner]} lost {int(runs.lost[winner].sum())} run(s): counting each "
            f"as its worst outcome (the worst value in the table, {worst:.6g}), it is no "
            f"longer better than {runs.names[loser]}, so no 'better' claim is made "
            "(worst-case rule, docs/analysis.md)"
        )
    return withheld, notes


def _decide(rejected: np.ndarray, equivalent: np.ndarray, gain: np.ndarray) -> list[Verdict]:
    """Each pair's verdict: better / worse where the difference is significant (by the sign
    of its improvement ``gain``), else equivalent where the TOST is, else indistinguishable."""
    verdicts: list[Verdict] = []
    for i in range(rejected.size):
        if rejected[i]:
            verdicts.append(Verdict.BETTER if gain[i] > 0 else Verdict.WORSE)
        elif equivalent[i]:
            verdicts.append(Verdict.EQUIVALENT)
        else:
            verdicts.append(Verdict.INDISTINGUISHABLE)
    return verdicts


def _result(
    runs: _Runs,
    pairs: _Pairs,
    fit: BlockedFit | None,
    tests: _PairTests,
    family: _Family,
    rejected: np.ndarray,
    verdicts: list[Verdict],
    withheld: list[Withheld | None],
    *,
    metric: str,
    alpha: float,
    direction: Direction,
    correction: Correction,
    resolution: float,
    notes: list[str],
    lost_notes: list[str],
) -> ComparisonResult:
    """The :class:`ComparisonResult` of the decisions: comparisons with their seed advice,
    variant summaries, tiers, the minimum detectable effect and the warnings."""
    x, names, k = runs.values, runs.names, len(runs.names)
    n_baseline_pairs, n_comparisons = pairs.n_baseline, family.size
    # Seeds advice and the MDE at the strictest level a test meets in the family (Bonferroni's
    # alpha/m): reaching it guarantees significance under Holm whatever the other tests do.
    strict_alpha = alpha / n_comparisons
    advice = np.array([v == Verdict.INDISTINGUISHABLE for v in verdicts]) & ~tests.unmeasured
    advice |= tests.too_few
    # A side with a single run has no noise of its own: its advice assumes the noise of the
    # pairs that have one (said in its warning), and is never below 2 seeds.
    measured = np.isfinite(tests.sd_diff) & ~tests.too_few
    noise_guess = (
        stats.pooled_sd(tests.sd_diff[measured], tests.n_effective[measured])
        if measured.any()
        else math.nan
    )
    needed = power.seeds_needed(
        np.where(advice, tests.estimate, np.nan),
        np.where(tests.too_few, noise_guess, tests.sd_diff),
        alpha=strict_alpha,
        power=POWER,
    )
    needed = np.where(tests.too_few & (needed >= 0), np.maximum(needed, 2), needed)

    comparisons = [
        PairComparison(
            variant=names[a],
            baseline=names[b],
            n_pairs=int(tests.n_pairs[i]),
            diff=float(tests.estimate[i]),
            ci_low=float(tests.ci_low[i]),
            ci_high=float(tests.ci_high[i]),
            p_value=float(tests.p_value[i]),
            p_adjusted=float(family.p_adjusted[i]),
            effect_size=float(tests.effect[i]),
            prob_improvement=float(tests.prob[i]),
            verdict=verdicts[i],
            seeds_needed=None if needed[i] < 0 else int(needed[i]),
            design=tests.design[i],
            df=float(tests.df[i]),
            noise_measured=not bool(tests.unmeasured[i]),
            withheld=withheld[i],
            survivors_only=bool(runs.lost[a].any() or runs.lost[b].any()),
        )
        for i, (a, b) in enumerate(pairs.pairs)
    ]
    summary = stats.mean_ci(x, alpha=alpha)
    n_runs, means, sds = summary["n"], summary["mean"], summary["sd"]
    connected = fit is None or bool((fit.component == 0).all())
    adjusted = means if fit is None else (fit.adjusted_means if connected else means * np.nan)
    variant_summaries = tuple(
        VariantSummary(
            variant=names[i],
            n=int(n_runs[i]),
            mean=float(means[i]),
            sd=float(sds[i]),
            ci_low=float(summary["ci_low"][i]),
            ci_high=float(summary["ci_high"][i]),
            adjusted_mean=float(adjusted[i]),
        )
        for i in range(k)
    )

    gain = improvement(tests.estimate, direction)
    separated = np.zeros((k, k), dtype=bool)  # separated[a, b]: a significantly better than b
    for i, (a, b) in enumerate(pairs.pairs):
        if rejected[i]:
            better, worse = (a, b) if gain[i] > 0 else (b, a)
            separated[better, worse] = True
    # Seed-adjusted means order the tiers, so a variant run only on easy seeds is not listed
    # above one that beats it on every seed they share. A variant with a single run is not
    # ranked at all (nor does it keep the others from separating).
    ranked = np.flatnonzero(n_runs >= 2)
    order_by = adjusted if connected else means
    tiers = make_tiers(
        order_by[ranked],
        separated[np.ix_(ranked, ranked)],
        direction=direction,
        names=[names[i] for i in ranked],
    )
    unranked = tuple(names[i] for i in np.flatnonzero(n_runs < 2))

    seed_noise_sd = stats.pooled_sd(sds, n_runs)
    use_paired = all(d != "welch" for d in tests.design)
    # The design's size and noise from the comparisons that can be tested at all.
    head = np.flatnonzero(~tests.too_few[:n_baseline_pairs])
    head = head if head.size else np.arange(n_baseline_pairs)
    if use_paired:
        n_design = float(np.min(tests.n_effective[head]))
        noise_for_mde = stats.pooled_sd(tests.sd_diff[head], tests.n_effective[head])
    else:
        n_design = float(n_runs.min())
        noise_for_mde = seed_noise_sd
    mde = power.minimum_detectable_effect(
        noise_for_mde, n_design, alpha=strict_alpha, power=POWER, paired=use_paired
    )

    baseline = names[0]
    warnings = list(notes)
    tier_of = {name: i for i, tier in enumerate(tiers) for name in tier}
    for comparison in comparisons[:n_baseline_pairs]:
        if comparison.verdict in (Verdict.BETTER, Verdict.WORSE) and (
            tier_of.get(comparison.variant) == tier_of.get(baseline)
        ):
            warnings.append(
                f"{comparison.variant} is {comparison.verdict} than {baseline} but shares its "
                "tier: a tier boundary needs every variant above it to beat every variant "
                "below it, and a variant in between has not separated"
            )
    warnings += _design_warnings(
        names=names,
        pairs=pairs.pairs,
        shared=pairs.shared,
        n_runs=n_runs,
        designs=tests.design,
        present=runs.present,
        n_design=n_design,
        use_paired=use_paired,
        strict_alpha=strict_alpha,
        n_comparisons=n_comparisons,
        correction=correction,
        comparisons=comparisons[:n_baseline_pairs],
        alpha=alpha,
    )
    warnings += _noise_warnings(
        comparisons, tests.unmeasured, tests.zero_spread, resolution, is_integer_valued(x)
    )
    warnings += lost_notes
    warnings += _too_few_warnings(names, n_runs, comparisons[:n_baseline_pairs], noise_guess)
    warnings += survivors_only_notes(comparisons[:n_baseline_pairs])
    run_counts = runs.run_counts
    divergence = divergence_test(run_counts, alpha=alpha) if run_counts else None
    if all(c.planned == c.done for c in run_counts):
        run_counts = ()  # every planned run is done: the counts would only repeat n
    if divergence is not None and divergence.significant:
        rates = ", ".join(
            f"{c.variant} {c.diverged}/{c.done + c.diverged + c.failed}" for c in run_counts
        )
        warnings.append(
            f"finding: divergence rates differ between variants beyond chance ({rates} "
            f"diverged; exact test p = {divergence.p_value:.3g}): stability is itself a result"
        )
    if all(d == "paired" for d in tests.design):
        test, effect_kind = "paired_t", "d_z"
    elif all(d == "welch" for d in tests.design):
        test, effect_kind = "welch_t", "hedges_g"
    elif use_paired:
        test, effect_kind = "seed_blocked", "d_z"
    else:
        test, effect_kind = "mixed", "mixed"
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
        test=test,
        effect_size_kind=effect_kind,
        n_comparisons=int(n_comparisons),
        warnings=tuple(warnings),
        pairwise=tuple(comparisons),
        runs=tuple(run_counts),
        divergence_test=divergence,
        resolution=resolution,
        unranked=unranked,
    )


def _too_few_warnings(
    names: list[str], n_runs: np.ndarray, comparisons: list[PairComparison], noise: float
) -> list[str]:
    """What a variant with a single run gets instead of a verdict, and how many seeds would
    give it one."""
    warnings = []
    for i in np.flatnonzero(n_runs < 2):
        name = names[int(i)]
        advice = next((c.seeds_needed for c in comparisons if c.variant == name), None)
        detect = (
            f"; about {advice} seeds would detect the difference seen here if it is as noisy "
            "as the variants that have a noise estimate"
            if advice is not None and math.isfinite(noise)
            else ""
        )
        warnings.append(
            f"{name} has {int(n_runs[i])} seed: a single run has no seed noise of its own, so "
            f"it gets no verdict and no rank; 2 or more seeds (the seeds the others ran) give "
            f"it one{detect}"
        )
    return warnings


@dataclass(frozen=True, kw_only=True)
class _PairTests:
    """Every pair's test, by the design chosen for it (arrays over the pairs)."""

    estimate: np.ndarray
    std_error: np.ndarray
    df: np.ndarray
    p_value: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    effect: np.ndarray
    sd_diff: np.ndarray
    prob: np.ndarray
    n_pairs: np.ndarray
    n_effective: np.ndarray
    design: list[str]
    unmeasured: np.ndarray
    zero_spread: np.ndarray
    too_few: np.ndarray


def _estimate(
    x: np.ndarray,
    pairs: _Pairs,
    *,
    paired: bool | None,
    fit: BlockedFit | None,
    alpha: float,
    direction: Direction,
    resolution: float,
    scale: float,
) -> _PairTests:
    """Test every pair (a, b) with the design that uses all its information.

    ``paired=None``: on a complete table the paired t-test; where runs are missing, each pair
    linked by shared seeds gets :func:`analysis.blocked.bridged_pair_tests` (its shared seeds,
    plus a third variant that ran where only one of the pair did, one variance per variant;
    ``seed_blocked`` when a bridge is used, else ``paired``), and Welch where nothing links
    the pair. ``True``: paired t on the shared seeds for every pair; ``False``: Welch. A pair
    with a side of fewer than 2 runs is marked ``too_few`` and gets no test.
    """
    ia, ib = pairs.ia, pairs.ib
    present = np.isfinite(x)
    presence = present.astype(np.float64)
    shared = (presence @ presence.T)[ia, ib].astype(int)
    bridged = None
    if paired is True:
        design = np.full(ia.size, "paired", dtype=object)
    elif paired is False:
        design = np.full(ia.size, "welch", dtype=object)
    else:
        linked = np.zeros(ia.size, dtype=bool)
        if fit is not None:
            linked = fit.component[ia] == fit.component[ib]
        # Each pair on its own shared seeds, plus a bridge through a third variant where one
        # of them lost a run: valid whatever the other variants' noise (docs/statistics.md).
        design = np.where(linked | (shared >= 2), "paired", "welch").astype(object)
        if fit is not None and linked.any():
            bridged = bridged_pair_tests(x, ia, ib, alpha=alpha)
            design = np.where(linked & (bridged.bridge >= 0), "seed_blocked", design)
    is_paired = design == "paired"
    is_blocked = design == "seed_blocked"
    is_welch = design == "welch"

    summary = stats.mean_ci(x, alpha=alpha)
    n_runs, means, sds = summary["n"], summary["mean"], summary["sd"]
    differences = x[ia] - x[ib]  # NaN where the pair does not share the seed
    n_diff, mean_diff, sd_paired = stats.sample_stats(differences)
    paired_test = stats.paired_from_stats(n_diff, mean_diff, sd_paired, alpha=alpha)
    welch_test = stats.welch_from_stats(
        n_runs[ia], means[ia], sds[ia], n_runs[ib], means[ib], sds[ib], alpha=alpha
    )
    columns = {
        name: np.where(is_paired, getattr(paired_test, name), getattr(welch_test, name))
        for name in ("estimate", "std_error", "df", "p_value", "ci_low", "ci_high")
    }
    with np.errstate(invalid="ignore", divide="ignore"):
        effect = np.where(
            is_paired,
            np.where(sd_paired > 0, mean_diff / sd_paired, np.nan),  # d_z
            stats.hedges_g_from_stats(
                n_runs[ia], means[ia], sds[ia], n_runs[ib], means[ib], sds[ib]
            ),
        )
    # Welch has no pairing to estimate the covariance from: the sd of a difference of
    # independent runs, which over-states it (so seeds_needed errs high) when seeds are
    # correlated.
    sd_diff = np.where(is_paired, sd_paired, np.sqrt(sds[ia] ** 2 + sds[ib] ** 2))
    n_effective = np.where(is_paired, shared, np.minimum(n_runs[ia], n_runs[ib])).astype(float)

    filled_high = np.where(np.isfinite(differences), differences, -np.inf)
    filled_low = np.where(np.isfinite(differences), differences, np.inf)
    paired_range = np.where(shared >= 2, filled_high.max(axis=1) - filled_low.min(axis=1), np.nan)
    run_range = np.where(present, x, -np.inf).max(axis=1) - np.where(present, x, np.inf).min(axis=1)
    run_range = np.where(n_runs >= 2, run_range, np.nan)
    unmeasured = np.where(
        is_welch,
        spread_is_unmeasured(run_range[ia], resolution, scale)
        & spread_is_unmeasured(run_range[ib], resolution, scale),
        spread_is_unmeasured(paired_range, resolution, scale),
    )
    zero_spread = np.where(
        is_welch,
        spread_is_unmeasured(run_range[ia], 0.0, scale)
        & spread_is_unmeasured(run_range[ib], 0.0, scale),
        spread_is_unmeasured(paired_range, 0.0, scale),
    )

    if bridged is not None and is_blocked.any():
        for name in ("estimate", "std_error", "df", "p_value", "ci_low", "ci_high"):
            columns[name] = np.where(is_blocked, getattr(bridged.tests, name), columns[name])
        with np.errstate(invalid="ignore", divide="ignore"):
            effect = np.where(is_blocked, bridged.tests.estimate / bridged.sd_diff, effect)
            # Seeds a paired test would need for this precision (kept as is where the
            # variant variances leave no positive sd of a difference).
            n_effective = np.where(
                is_blocked & (bridged.sd_diff > 0),
                (bridged.sd_diff / bridged.tests.std_error) ** 2,
                n_effective,
            )
        sd_diff = np.where(is_blocked, bridged.sd_diff, sd_diff)
        # Noise at the resolution: the pair's run sd (sd_diff / sqrt 2) below half a rounding
        # step, or its own shared-seed differences all within one step.
        model_unmeasured = spread_is_unmeasured(np.sqrt(2.0) * bridged.sd_diff, resolution, scale)
        unmeasured = np.where(is_blocked, unmeasured | model_unmeasured, unmeasured)
        zero_spread = np.where(is_blocked, zero_spread | (bridged.sd_diff == 0), zero_spread)

    # A side with fewer than 2 runs (or a pair with fewer than 2 seeds to pair) has no noise
    # of its own to test against: no verdict. Its difference is still estimated (least
    # squares where the seeds link it, else the raw means) for the seed advice.
    too_few = (n_runs[ia] < 2) | (n_runs[ib] < 2) | (is_paired & (shared < 2))
    if too_few.any():
        if fit is not None:
            guess = np.where(
                fit.component[ia] == fit.component[ib], fit.effects[ia] - fit.effects[ib], np.nan
            )
        else:
            guess = means[ia] - means[ib]
        columns["estimate"] = np.where(too_few, guess, columns["estimate"])
        for name in ("std_error", "df", "p_value", "ci_low", "ci_high"):
            columns[name] = np.where(too_few, np.nan, columns[name])
        effect = np.where(too_few, np.nan, effect)
        unmeasured = np.where(too_few, False, unmeasured)

    prob = stats.prob_improvement_paired(x[ia], x[ib], direction)
    for i in np.flatnonzero(is_welch | (shared == 0)):
        prob[i] = stats.prob_improvement_unpaired(x[ia[i]], x[ib[i]], direction)
    # No test, no bridge: the pair is labelled by how its runs line up, and a share of one
    # seed is no probability.
    prob = np.where(too_few, np.nan, prob)
    design = np.where(too_few & is_blocked, "paired", design)
    return _PairTests(
        estimate=columns["estimate"],
        std_error=columns["std_error"],
        df=columns["df"],
        p_value=columns["p_value"],
        ci_low=columns["ci_low"],
        ci_high=columns["ci_high"],
        effect=effect,
        sd_diff=sd_diff,
        prob=prob,
        n_pairs=np.where(is_welch, 0, shared),
        n_effective=n_effective,
        design=[str(d) for d in design],
        unmeasured=np.asarray(unmeasured, dtype=bool) & np.isfinite(columns["estimate"]),
        zero_spread=np.asarray(zero_spread, dtype=bool),
        too_few=too_few,
    )


@dataclass(frozen=True, kw_only=True)
class _Family:
    """The family's adjusted decisions, per pair: ``rejected`` (difference significant),
    ``p_adjusted`` (NaN where the comparison cannot make a claim), ``equivalent`` (TOST
    significant, baseline pairs only); ``size`` is the number of tests in the family."""

    rejected: np.ndarray
    p_adjusted: np.ndarray
    equivalent: np.ndarray
    size: int


def _adjust(
    tests: _PairTests,
    pairs: _Pairs,
    *,
    alpha: float,
    margin: float | None,
    correction: Correction,
) -> _Family:
    """One multiplicity family over every pair (and the TOSTs against the baseline).

    A comparison whose noise is unmeasured, or that cannot be tested, enters with p = 1: it
    keeps its place in the family (the family size does not depend on the data) but can make
    no claim.
    """
    n_baseline_pairs = pairs.n_baseline
    silent = tests.unmeasured | ~np.isfinite(tests.p_value)
    family = [np.where(silent, 1.0, tests.p_value)]
    head = slice(0, n_baseline_pairs)
    if margin is not None:
        tost = stats.tost_p(tests.estimate[head], tests.std_error[head], tests.df[head], margin)
        family.append(np.where(silent[head] | ~np.isfinite(tost), 1.0, tost))
    adjusted = stats.adjust(np.concatenate(family), correction)
    n_pairs = tests.p_value.size
    p_adjusted = np.where(silent, np.nan, adjusted[:n_pairs])
    equivalent = np.zeros(n_pairs, dtype=bool)
    if margin is not None:
        equivalent[:n_baseline_pairs] = adjusted[n_pairs:] <= alpha
    rejected = np.asarray(p_adjusted <= alpha, dtype=bool)
    return _Family(
        rejected=rejected, p_adjusted=p_adjusted, equivalent=equivalent, size=int(adjusted.size)
    )


def _check_comparable(
    names: list[str], counts: np.ndarray, fit: BlockedFit | None, paired: bool | None
) -> None:
    """At least two variants need 2 or more runs: a variant with a single run has no noise of
    its own, so it gets no verdict and no rank (the others are still compared)."""
    if int((counts >= 2).sum()) >= 2:
        return
    too_few = [f"{names[i]} ({n})" for i, n in enumerate(counts) if n < 2]
    raise AnalysisError(
        f"fewer than 2 seeds for {', '.join(too_few)}: a single run per variant cannot be "
        "told apart from seed noise, so nothing can be compared or ranked; run more seeds"
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
    key = -improvement(means, direction)  # best first
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
    try:
        as_direction(direction)
    except ValueError as error:
        raise AnalysisError(str(error)) from None
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
    designs: list[str],
    present: np.ndarray,
    n_design: float,
    use_paired: bool,
    strict_alpha: float,
    n_comparisons: int,
    correction: str,
    comparisons: list[PairComparison],
    alpha: float,
) -> list[str]:
    warnings = []
    threshold = (
        power.significance_threshold(n_design, alpha=strict_alpha, paired=use_paired)
        if n_design >= 2
        else math.inf
    )
    if threshold > HOPELESS_STANDARDIZED_DIFF:
        unit = "pairs" if use_paired else "seeds per variant"
        spread = "its seed-to-seed sd" if use_paired else "the seed sd"
        warnings.append(
            f"too few seeds: with {n_design:.0f} {unit} and {n_comparisons} comparison(s), a "
            f"difference can reach significance (level {strict_alpha:.3g}) only when it is "
            f"over {threshold:.1f} x {spread}; add seeds (see seeds_needed) before trusting "
            "'indistinguishable' or a single tier"
        )
    if all(d == "paired" for d in designs):
        for i, (a, b) in enumerate(pairs[: len(comparisons)]):
            unused = int(n_runs[a] + n_runs[b] - 2 * shared[i])
            if unused and comparisons[i].withheld != Withheld.TOO_FEW_SEEDS:
                warnings.append(
                    f"{names[a]} vs {names[b]}: paired on the {shared[i]} shared seeds; "
                    f"{unused} run(s) without a partner are left out"
                )
    elif any(d == "seed_blocked" for d in designs):
        blocked = sorted({names[v] for (a, b), d in zip(pairs, designs, strict=True)
                          if d == "seed_blocked" for v in (a, b)})  # fmt: skip
        warnings.append(
            f"{', '.join(blocked)}: not every variant ran the same seeds, so a pair that lost a "
            "run is tested on its shared seeds plus a third variant that ran where only one of "
            "the pair did (least squares with seed effects and each variant's own noise, "
            "Satterthwaite df; design seed_blocked)"
        )
        alone = present & (present.sum(axis=0) == 1)[None, :]
        for lone in np.flatnonzero(alone.any(axis=1)):
            warnings.append(
                f"{names[lone]}: {int(alone[lone].sum())} run(s) without a partner (on seeds no "
                "other variant ran) carry no information about differences and are left out"
            )
    welch = sorted({f"{names[a]} vs {names[b]}" for (a, b), d in zip(pairs, designs, strict=True)
                    if d == "welch"})  # fmt: skip
    if welch and len(welch) < len(pairs):
        warnings.append(
            f"{', '.join(welch)}: no chain of shared seeds links them, so they are compared "
            "by Welch's t-test (unpaired), which the seed effect makes much less sensitive"
        )
    if correction == "bh":
        warnings.append(
            "BH controls the false discovery rate, not the family-wise error: some of the "
            "separations may be false even when each looks significant"
        )
    loose = [
        c.variant
        for c in comparisons
        if c.verdict == Verdict.INDISTINGUISHABLE
        and c.noise_measured
        and c.withheld is None
        and (c.ci_low > 0 or c.ci_high < 0)
    ]
    if loose:
        warnings.append(
            f"the unadjusted {1 - alpha:.0%} CI excludes 0 for {', '.join(loose)}, but not "
            f"after correcting for {n_comparisons} comparisons: suggestive, not established"
        )
    return warnings


def _noise_warnings(
    comparisons: list[PairComparison],
    unmeasured: np.ndarray,
    zero_spread: np.ndarray,
    resolution: float,
    integer_valued: bool = False,
) -> list[str]:
    """A warning per comparison whose noise is unmeasured: why, and what to do."""
    warnings = []
    for comparison, flag, zero in zip(comparisons, unmeasured, zero_spread, strict=True):
        if not flag:
            continue
        pair = f"{comparison.variant} vs {comparison.baseline}"
        seed_hint = (
            "the command may ignore its seed; pass it through, e.g. '--seed {seed}' in the "
            "command or the HARNESS_SEED environment variable, and seed the model init and "
            "data order with it"
        )
        rounding_hint = (
            f"the metric is logged with resolution {resolution:g} (inferred from the decimals "
            "logged): log more decimals (or the unrounded value)"
        )
        if zero and resolution > 0:
            why = (
                "every seed gives the same difference, so the run noise is not measured: "
                f"either {rounding_hint}, or {seed_hint}"
            )
        elif zero and integer_valued:
            # A count's unit is its own (docs/statistics.md): not a rounding to log more of.
            why = (
                "the metric is integer-valued (a count) and every seed gives the same "
                f"difference, so the run noise is not measured: either {seed_hint}, or the "
                "count is too coarse to vary between these seeds (count over more items, or "
                "run more seeds)"
            )
        elif zero:
            why = f"every seed gives the same difference (zero spread): {seed_hint}"
        else:
            why = f"its differences vary by no more than one rounding step: {rounding_hint}"
        warnings.append(f"{pair}: no verdict and no tier boundary from this comparison: {why}")
    return warnings
