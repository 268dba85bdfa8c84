"""Runs that were planned but left no value: counts, the worst-case rule and divergence rates.

A run that diverged (non-finite loss) or failed leaves no metric, and a comparison of the runs
that survived is biased towards the variant that lost its bad seeds. Three things follow:

- **Counts.** Per variant, runs planned, done, diverged and failed are part of every result.
- **Worst-case rule.** A claim "X is better than Y" stands only if it still holds when each lost
  run of X counts as the worst outcome observed in the table (on its own seed), whichever of
  X and Y is the baseline (a variant called "worse" is a claim that the baseline is better):
  :func:`worst_case_stands`, which every design calls with its own test. This is the
  worst-rank idea of Lachin (1999, "Worst-rank score analysis with informatively missing
  observations in clinical trials", *Controlled Clinical Trials* 20:408-422): a run lost to
  divergence is treated as at least as bad as any run that finished.
- **Divergence rates.** Whether the share of diverged runs differs between variants beyond
  chance: the Freeman-Halton extension of Fisher's exact test on the variants x (diverged, not)
  table (conditional on the margins; R's ``fisher.test`` on the same table), reported as a
  finding of its own, separate from the metric's family of tests.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from analysis.verdict import Direction, improvement

__all__ = [
    "LOST_STATUSES",
    "DivergenceTest",
    "RunCounts",
    "count_runs",
    "divergence_test",
    "freeman_halton_p",
    "impute_worst",
    "survivors_only_notes",
    "worst_case_stands",
    "worst_value",
]

#: Statuses of runs that ended without a usable value.
LOST_STATUSES = ("diverged", "failed")
# Above this many tables the exact enumeration is replaced by the chi-square approximation.
MAX_TABLES = 2_000_000


@dataclass(frozen=True, kw_only=True)
class RunCounts:
    """One variant's runs.

    Attributes:
        variant: the variant.
        planned: runs the study planned (every status, including still pending ones).
        done: runs that finished with a record.
        diverged: runs stopped by a non-finite loss.
        failed: runs that crashed or exited non-zero.
    """

    variant: str
    planned: int
    done: int
    diverged: int
    failed: int

    @property
    def lost(self) -> int:
        return self.diverged + self.failed

    def to_dict(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "planned": self.planned,
            "done": self.done,
            "diverged": self.diverged,
            "failed": self.failed,
        }


@dataclass(frozen=True, kw_only=True)
class DivergenceTest:
    """Do divergence rates differ between variants?

    Attributes:
        p_value: two-sided p-value of "every variant has the same divergence probability".
        method: ``freeman_halton_exact`` (or ``chi_square`` for tables too large to enumerate).
        significant: ``p_value <= alpha``.
    """

    p_value: float
    method: Literal["freeman_halton_exact", "chi_square"]
    significant: bool

    def to_dict(self) -> dict[str, Any]:
        return {"p_value": self.p_value, "method": self.method, "significant": self.significant}


def count_runs(
    statuses: Sequence[tuple[str, str]], variants: Sequence[str]
) -> tuple[RunCounts, ...]:
    """Per-variant counts from ``(variant, status)`` pairs, in the order of ``variants``
    (variants that appear only in ``statuses`` follow)."""
    order = list(variants) + sorted({v for v, _ in statuses} - set(variants))
    tally: dict[str, dict[str, int]] = {v: {} for v in order}
    for variant, status in statuses:
        tally[variant][status] = tally[variant].get(status, 0) + 1
    return tuple(
        RunCounts(
            variant=v,
            planned=sum(tally[v].values()),
            done=tally[v].get("done", 0),
            diverged=tally[v].get("diverged", 0),
            failed=tally[v].get("failed", 0),
        )
        for v in order
    )


def freeman_halton_p(diverged: ArrayLike, ended: ArrayLike) -> tuple[float, str]:
    """Exact p-value that ``k`` binomial proportions are equal (Freeman-Halton for ``k x 2``).

    Conditional on the margins, the diverged counts follow the multivariate hypergeometric
    law; the p-value sums the probabilities of every table no more probable than the observed
    one (with R's relative tolerance ``1e-7``), as R's ``fisher.test``. For two variants it is
    Fisher's exact test.

    Args:
        diverged: per variant, runs that diverged.
        ended: per variant, runs that ended (diverged or not).

    Returns:
        ``(p_value, method)``; tables with more than ``MAX_TABLES`` margins-preserving tables
        fall back to the chi-square approximation (method ``chi_square``).
    """
    d = np.asarray(diverged, dtype=np.int64)
    n = np.asarray(ended, dtype=np.int64)
    total = int(d.sum())
    if total == 0 or total == int(n.sum()) or (n > 0).sum() < 2:
        return 1.0, "freeman_halton_exact"
    if _table_count(n, total) > MAX_TABLES:
        return _chi_square_p(d, n), "chi_square"
    log_choose = [special.gammaln(m + 1) - special.gammaln(np.arange(m + 1) + 1)
                  - special.gammaln(m - np.arange(m + 1) + 1) for m in n]  # fmt: skip
    sums = np.zeros(1, dtype=np.int64)
    log_p = np.zeros(1)
    for m, row in zip(n, log_choose, strict=True):
        counts = np.arange(int(m) + 1)
        sums = (sums[:, None] + counts[None, :]).ravel()
        log_p = (log_p[:, None] + row[None, :]).ravel()
        keep = sums <= total
        sums, log_p = sums[keep], log_p[keep]
    log_p = log_p[sums == total]
    observed = float(sum(row[int(x)] for row, x in zip(log_choose, d, strict=True)))
    norm = special.logsumexp(log_p)
    relative = np.exp(log_p - norm)
    p_observed = math.exp(observed - norm)
    return float(min(1.0, relative[relative <= p_observed * (1 + 1e-7)].sum())), (
        "freeman_halton_exact"
    )


def divergence_test(counts: Sequence[RunCounts], *, alpha: float) -> DivergenceTest | None:
    """The exact test of equal divergence rates over ``counts``; None when nothing diverged or
    fewer than two variants have ended runs."""
    ended = np.array([c.done + c.diverged + c.failed for c in counts])
    diverged = np.array([c.diverged for c in counts])
    if diverged.sum() == 0 or (ended > 0).sum() < 2:
        return None
    p_value, method = freeman_halton_p(diverged, ended)
    return DivergenceTest(
        p_value=p_value,
        method=method,  # type: ignore[arg-type]
        significant=p_value <= alpha,
    )


def worst_value(values: ArrayLike, direction: Direction) -> float:
    """The worst finite value in ``values`` (the largest when minimizing)."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    return float(x[np.argmin(improvement(x, direction))])


def worst_case_stands(
    values: ArrayLike,
    lost: ArrayLike,
    *,
    winner: int | Sequence[int],
    loser: int | Sequence[int],
    worst: float | np.ndarray,
    holds: Callable[[np.ndarray], bool],
) -> bool:
    """The worst-case rule, the one place every design (fixed, anytime-valid,
    group-sequential, the factorial's main effects, the curves over training and the sweep
    trend) asks it: does the claim "row
    ``winner`` is better than row ``loser``" stand once the lost runs count as the worst
    outcome?

    Lost runs count against whoever lost them: the claim's winner may be any row (a variant
    called better than the baseline, or the baseline when a variant is called worse), and
    every design asks the rule of every claim, both ways (issue 32). Only the winner's lost
    runs are imputed, at ``worst``: the loser's lost runs left out is the worse case for the
    claim (imputing them as its worst outcomes could only help it win). A claim by a row that
    lost nothing stands as it is. The design re-tests the imputed values with its own test
    (``holds``), so a change of the rule (which runs are imputed, at which value) is made here
    alone.

    Args:
        values: ``(k, S)`` values, NaN where a run left none; or ``(k, S, T)`` for curves
            (``T`` steps), all NaN for a run that left no curve.
        lost: ``(k, S)`` booleans, True for a run that diverged or failed (only runs without a
            finite value are imputed).
        winner: the row the claim calls better (or the rows: a factorial effect's winning
            level is every cell at that level).
        loser: the row(s) it is called better than.
        worst: the worst value of the table (:func:`worst_value`); for curves, one per step
            (the worst value logged at that step).
        holds: the design's test of the same claim on imputed ``values``.

    Returns:
        Whether the claim stands.
    """
    del loser  # the one-sided rule imputes the winner's lost runs only
    x = np.asarray(values, dtype=np.float64)
    rows = np.atleast_1d(np.asarray(winner, dtype=np.int64))
    lost_here = np.asarray(lost, dtype=bool)[rows] & _no_value(x[rows])
    if not lost_here.any():
        return True
    return holds(impute_worst(x, lost, rows, worst))


class ComparedWithLostRuns(Protocol):
    """A comparison against the baseline that knows whether either side lost runs."""

    @property
    def variant(self) -> str: ...

    @property
    def survivors_only(self) -> bool: ...


def survivors_only_notes(comparisons: Iterable[ComparedWithLostRuns]) -> list[str]:
    """The warning every design gives beside intervals computed from surviving runs alone.

    Args:
        comparisons: the comparisons against the baseline, in report order.

    Returns:
        One warning naming the comparisons that lost runs on either side, or none.
    """
    variants = [c.variant for c in comparisons if c.survivors_only]
    if not variants:
        return []
    return [
        f"{', '.join(variants)}: runs were lost, so the difference and its interval come from "
        "the surviving runs only (marked † in tables; 'survivors_only' in JSON): biased when "
        "the losses depend on the outcome. The verdict counts each lost run as its worst "
        "outcome (worst-case rule, docs/statistics.md)"
    ]


def impute_worst(
    values: ArrayLike,
    lost: ArrayLike,
    variant: int | Sequence[int] | np.ndarray,
    worst: float | np.ndarray,
) -> np.ndarray:
    """``values`` with every lost run of row(s) ``variant`` set to ``worst`` (a copy); for
    ``(k, S, T)`` curves a lost run's whole curve, at ``worst`` per step."""
    x = np.array(values, dtype=np.float64)
    mask = np.zeros(x.shape[:2], dtype=bool)
    rows = np.atleast_1d(np.asarray(variant, dtype=np.int64))
    mask[rows] = np.asarray(lost, dtype=bool)[rows] & _no_value(x[rows])
    x[mask] = worst
    return x


def _no_value(x: np.ndarray) -> np.ndarray:
    """Per run (the first two axes), True where it has no finite value at all."""
    finite = np.isfinite(x)
    return ~finite.reshape(*finite.shape[:2], -1).any(axis=2)


def _table_count(n: np.ndarray, total: int) -> int:
    """Number of ways to split ``total`` into parts bounded by ``n`` (a bound is enough)."""
    k = int((n > 0).sum())
    return math.comb(total + k - 1, k - 1) if k > 1 else 1


def _chi_square_p(d: np.ndarray, n: np.ndarray) -> float:
    keep = n > 0
    d, n = d[keep].astype(float), n[keep].astype(float)
    rate = d.sum() / n.sum()
    expected = np.stack([n * rate, n * (1 - rate)])
    observed = np.stack([d, n - d])
    statistic = float(((observed - expected) ** 2 / expected).sum())
    return float(special.chdtrc(d.size - 1, statistic))
