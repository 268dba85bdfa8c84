"""Bisection through seed noise: each step is a statistical decision, made with enough seeds.

The algorithm
-------------
``commits[0]`` is the good endpoint, ``commits[-1]`` the bad one.

1. **Confirm the endpoints.** Measure both at the initial seeds and compare bad with good,
   paired by seed. ``bad`` must be significantly worse (at the per-test level below); while it
   is not, add seeds (the seed count doubles, up to ``max_seeds``). If it never is, or it is
   significantly *better*, stop: there is nothing to bisect. Its estimated regression
   ``R = bad - good`` (direction-aware) fixes the equivalence margin ``margin = R / 2`` unless
   one is given.
2. **Bisect.** Probe the commit nearest the middle of the open range (a commit whose command
   fails is skipped like ``git bisect skip``: its nearest untried neighbour is probed instead).
   The probe is compared with the good endpoint, paired by seed (analysis.compare), and is

   - **bad** when significantly worse than the good endpoint: two-sided ``p < alpha_test``;
   - **good** when it is not, and its one-sided ``1 - alpha_test`` upper confidence bound on
     "how much worse" is below ``margin`` (equivalence, the TOST half that matters);
   - **unknown** otherwise: the seed count doubles (good endpoint and probe both get the new
     seeds) and the test is repeated, up to ``max_seeds``.

   An **unknown** at ``max_seeds`` is *forced* to the nearer endpoint (worse by less than
   ``R / 2``: good) and flagged in the output: that step is not error-controlled.
3. The first bad commit is the bad end of the final range; if untestable (skipped) commits lie
   between the last good and the first bad one, the culprit is ambiguous and all are listed.

Error control
-------------
One wrong decision anywhere can misplace the culprit, so the whole bisect is one family. A
bisection without skips makes ``K = ceil(log2(n_between + 1)) + 1`` decisions (its steps over
the commits strictly between the endpoints, plus the endpoint check), but a skipped commit
(its command crashed) moves the probe to a neighbour and can add decisions: 5 against K = 4 on
9 commits with one skipped. So the budget is *spent* decision by decision rather than split
over a count fixed in advance (Bonferroni with an alpha-spending sequence): decision ``j``
(1 = the endpoint check, then every probe that reaches a verdict, in order) gets

    alpha_j = 0.8 · alpha / K                          for j <= K
    alpha_j = 0.2 · alpha · 6 / (pi² (j - K)²)         for j > K

and each of its up to ``L`` looks (seed counts of the doubling schedule) runs at
``alpha_test = alpha_j / L``. Since sum 1/i² = pi²/6, the alpha_j add up to ``alpha`` over any
number of decisions: the skip-free path keeps 80 % of the budget, and skips draw on the rest.
A skipped probe ends without a verdict, so it cannot be a wrong decision and does not use an
index: its looks ran at the level of the decision that takes its place. The chance that any
non-forced decision is wrong — a good commit called bad, or, provided the margin is below the
true regression, a bad commit called good — is therefore at most ``alpha``, skips or not
(``benchmarks/bisect_error_rate.py`` checks it by simulation with crashing commits). Both
conditions are printed so the user can judge them: the margin comes from an estimate, and a
commit with a partial regression (between 0 and ``R``) is called bad if significantly worse,
good only if worse by less than the margin.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from analysis.verdict import Direction
from harness.bisect.paired import CommitVerdict, Paired, compare_paired, judge
from harness.bisect.worktrees import Commit
from harness.errors import UserError

Outcome = Literal["found", "ambiguous", "not_confirmed"]


# -- the schedule and the error budget --------------------------------------------------------


def seed_schedule(initial: Sequence[int], max_seeds: int) -> list[tuple[int, ...]]:
    """The seed sets tried in turn: the initial seeds, then doubling, up to ``max_seeds``.

    Seeds added to the study's own are the smallest non-negative integers not yet used, so a
    larger ``max_seeds`` extends the same sequence (and reuses every cached measurement).
    """
    if not initial:
        raise UserError("bisect needs at least one seed")
    seeds = list(dict.fromkeys(initial))
    max_seeds = max(max_seeds, len(seeds))
    schedule = [tuple(seeds)]
    candidate = 0
    while len(seeds) < max_seeds:
        target = min(max_seeds, 2 * len(seeds))
        while len(seeds) < target:
            if candidate not in seeds:
                seeds.append(candidate)
            candidate += 1
        schedule.append(tuple(seeds))
    return schedule


PLANNED_SHARE = 0.8  # of alpha, spread over the K decisions of a bisection without skips


def expected_decisions(n_commits: int) -> int:
    """``K``: the bisection steps over the commits between the endpoints, plus the endpoint
    check. ``n_commits`` counts both endpoints."""
    between = max(0, n_commits - 2)
    return math.ceil(math.log2(between + 1)) + 1


def decision_alpha(alpha: float, decision: int, *, planned: int) -> float:
    """``alpha_j``: the share of ``alpha`` spent on decision ``j`` (module docstring).

    Args:
        alpha: family-wise level of the whole bisect.
        decision: ``j``, 1-based (1 is the endpoint check).
        planned: ``K``, the decisions of a bisection without skips.

    Returns:
        ``0.8 alpha / K`` for ``j <= K``, then ``0.2 alpha 6 / (pi² (j - K)²)``; the sum over
        all ``j`` is ``alpha``.
    """
    if decision < 1:
        raise ValueError(f"decisions are numbered from 1, got {decision}")
    if decision <= planned:
        return PLANNED_SHARE * alpha / planned
    beyond = decision - planned
    return (1 - PLANNED_SHARE) * alpha * 6 / (math.pi**2 * beyond**2)


def per_test_alpha(alpha: float, *, n_commits: int, looks: int, decision: int = 1) -> float:
    """``alpha_j / L``: decision ``j``'s share of the budget, split over its looks."""
    planned = expected_decisions(n_commits)
    return decision_alpha(alpha, decision, planned=planned) / max(1, looks)


# -- the bisection ----------------------------------------------------------------------------


def bisect_indices(n: int, classify: Callable[[int], str]) -> list[int]:
    """Bisect indices ``0..n-1`` (0 known good, ``n-1`` known bad) with a classifier.

    Args:
        n: number of commits, endpoints included.
        classify: index -> "good", "bad" or "skip" (untestable).

    Returns:
        The candidates for the first bad commit: one index when the culprit is determined;
        otherwise the skipped indices between the last good and the first bad, then the first
        bad (``git bisect``'s "the first bad commit could be any of").
    """
    low, high = 0, n - 1
    skipped: set[int] = set()
    while True:
        open_range = [i for i in range(low + 1, high) if i not in skipped]
        if not open_range:
            break
        middle = (low + high) / 2
        probe = min(open_range, key=lambda i: (abs(i - middle), i))
        verdict = classify(probe)
        if verdict == "bad":
            high = probe
        elif verdict == "good":
            low = probe
        else:
            skipped.add(probe)
    return [i for i in range(low + 1, high) if i in skipped] + [high]


class Measurer(Protocol):
    """What the bisect needs from the measurement layer (:class:`CommitMeasurements`)."""

    def measure(self, commit: Commit, seeds: Sequence[int]) -> Sequence[Any]: ...

    def table(self, variants: Sequence[str], seeds: Sequence[int]) -> Any: ...


@dataclass(frozen=True, kw_only=True)
class Tested:
    """One commit the bisect measured.

    Attributes:
        commit: the commit.
        position: its index in the first-parent history, good endpoint = 0.
        verdict: "good", "bad" or "skip" (its command failed).
        role: "good endpoint", "bad endpoint" or "probe".
        seeds: seeds measured when the verdict was reached.
        forced: the verdict was forced at ``max_seeds`` (not error-controlled).
        comparison: against the good endpoint (None for the good endpoint and skipped commits).
        error: why it was skipped.
        decision: ``j``, the decision's index in the error budget (None for the good endpoint
            and skipped commits).
        alpha_test: the per-test level its looks ran at (None for the good endpoint).
    """

    commit: Commit
    position: int
    verdict: str
    role: str
    seeds: int
    forced: bool = False
    comparison: Paired | None = None
    error: str | None = None
    decision: int | None = None
    alpha_test: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "commit": self.commit.sha,
            "short": self.commit.short,
            "subject": self.commit.subject,
            "position": self.position,
            "role": self.role,
            "verdict": self.verdict,
            "forced": self.forced,
            "seeds": self.seeds,
            **({"vs_good": self.comparison.to_dict()} if self.comparison else {}),
            **({"error": self.error} if self.error else {}),
            **({"decision": self.decision} if self.decision is not None else {}),
            **({"alpha_test": self.alpha_test} if self.alpha_test is not None else {}),
        }


@dataclass(frozen=True, kw_only=True)
class BisectResult:
    """What a noisy bisect found.

    Attributes:
        outcome: "found", "ambiguous" (skipped commits next to the culprit) or
            "not_confirmed" (the bad endpoint is not measurably worse).
        first_bad: the culprit when found.
        candidates: every commit that may be the culprit (one when found).
        tested: every measured commit, in the order tested.
        regression: the bad endpoint against the good one.
        margin: the equivalence margin used (metric units, "worse" direction).
        alpha: the family-wise level.
        alpha_test: the per-test level of the first decision (the endpoint check); later
            decisions' levels are in ``tested`` and ``alpha_spent``.
        decisions: ``K``, the decisions planned without skips; looks: ``L``.
        decisions_made: the decisions that reached a verdict (endpoint check included).
        alpha_spent: sum of ``alpha_j`` over the decisions made, always ``<= alpha``.
        reason: for "not_confirmed" and "ambiguous", a sentence for the user.
    """

    outcome: Outcome
    first_bad: Commit | None
    candidates: list[Commit]
    tested: list[Tested]
    regression: Paired | None
    margin: float | None
    alpha: float
    alpha_test: float
    decisions: int
    looks: int
    reason: str = ""
    decisions_made: int = 0
    alpha_spent: float = 0.0
    n_commits: int = 0
    metric: str = ""
    direction: Direction = Direction.MINIMIZE
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def culprit(self) -> Tested | None:
        if self.first_bad is None:
            return None
        return next((t for t in self.tested if t.commit.sha == self.first_bad.sha), None)

    def to_dict(self) -> dict[str, Any]:
        culprit = self.culprit
        return {
            "outcome": self.outcome,
            "first_bad": self.first_bad.sha if self.first_bad else None,
            "first_bad_subject": self.first_bad.subject if self.first_bad else None,
            "effect": culprit.comparison.to_dict() if culprit and culprit.comparison else None,
            "candidates": [c.sha for c in self.candidates],
            "reason": self.reason or None,
            "metric": self.metric,
            "direction": self.direction,
            "commits_in_range": self.n_commits,
            "regression": self.regression.to_dict() if self.regression else None,
            "margin": _finite(self.margin) if self.margin is not None else None,
            "alpha": self.alpha,
            "alpha_per_test": self.alpha_test,
            "decisions": self.decisions,
            "decisions_made": self.decisions_made,
            "alpha_spent": self.alpha_spent,
            "looks": self.looks,
            "tested": [t.to_dict() for t in self.tested],
            **self.extra,
        }


def noisy_bisect(
    commits: Sequence[Commit],
    measurer: Measurer,
    *,
    metric: str,
    direction: Direction,
    seeds: Sequence[int],
    max_seeds: int,
    alpha: float = 0.05,
    margin: float | None = None,
    report: Callable[[str], None] | None = None,
    release: Callable[[Commit], None] | None = None,
) -> BisectResult:
    """Find the first bad commit of ``commits`` (good endpoint first, bad endpoint last).

    See the module docstring for the algorithm and its error control.

    Args:
        commits: the first-parent history from the good to the bad endpoint.
        measurer: measures (commit, seed) and builds comparison tables.
        metric: the metric compared.
        direction: whether lower or higher is better.
        seeds: the initial seeds.
        max_seeds: the most seeds one decision may use.
        alpha: family-wise error level of the whole bisect.
        margin: equivalence margin; default half the endpoints' estimated regression.
        report: receives progress lines.
        release: called once a probe is decided (to drop its worktree).

    Raises:
        UserError: an endpoint's command fails (pick endpoints that run).
    """
    say = report or (lambda line: None)
    schedule = seed_schedule(seeds, max_seeds)
    good, bad = commits[0], commits[-1]
    planned = expected_decisions(len(commits))
    looks = len(schedule)
    common: dict[str, Any] = {
        "alpha": alpha,
        "alpha_test": per_test_alpha(alpha, n_commits=len(commits), looks=looks),
        "decisions": planned,
        "looks": looks,
        "n_commits": len(commits),
        "metric": metric,
        "direction": direction,
    }
    alpha_test: float = common["alpha_test"]
    say(
        f"bisecting {len(commits)} commits: {planned} decisions planned x {looks} looks, "
        f"each test at alpha {alpha_test:.2g} (family-wise {alpha}; decisions beyond "
        f"{planned}, after skips, at a share of the remaining {1 - PLANNED_SHARE:.0%})"
    )
    good_seeds = 0  # most seeds the good endpoint was measured with
    spent: list[float] = []  # alpha_j of each decision that reached a verdict

    def level(decision: int) -> float:
        """The per-test level of decision ``j``'s looks."""
        return decision_alpha(alpha, decision, planned=planned) / max(1, looks)

    def measure_endpoint(commit: Commit, seed_set: Sequence[int], role: str) -> None:
        nonlocal good_seeds
        failed = next((m for m in measurer.measure(commit, seed_set) if not m.ok), None)
        if failed is not None:
            raise UserError(
                f"the {role} {commit.short} ({commit.subject}) cannot be measured: seed "
                f"{failed.seed}: {failed.error}"
            )
        if commit is good:
            good_seeds = max(good_seeds, len(seed_set))

    def compare_with_good(
        commit: Commit, seed_set: Sequence[int], alpha_test: float
    ) -> Paired | None:
        return compare_paired(
            measurer.table([commit.short, good.short], seed_set),
            metric=metric,
            variant=commit.short,
            baseline=good.short,
            alpha=alpha,
            alpha_test=alpha_test,
            direction=direction,
        )

    # 1. the endpoints
    regression: Paired | None = None
    seed_set: Sequence[int] = schedule[0]
    for seed_set in schedule:
        measure_endpoint(good, seed_set, "good endpoint")
        measure_endpoint(bad, seed_set, "bad endpoint")
        regression = compare_with_good(bad, seed_set, alpha_test)
        if regression is not None:
            say(f"endpoints, {len(seed_set)} seeds: bad - good = {_describe(regression)}")
            if regression.p_value < alpha_test:
                break
    confirmed = (
        regression is not None
        and regression.p_value < alpha_test
        and regression.worse_by(direction) > 0
    )
    spent.append(decision_alpha(alpha, 1, planned=planned))
    tested = [
        Tested(
            commit=bad,
            position=len(commits) - 1,
            verdict="bad" if confirmed else "unknown",
            role="bad endpoint",
            seeds=len(seed_set),
            comparison=regression,
            decision=1,
            alpha_test=alpha_test,
        )
    ]

    def finish(**fields: Any) -> BisectResult:
        endpoint = Tested(
            commit=good, position=0, verdict="good", role="good endpoint", seeds=good_seeds
        )
        return BisectResult(
            tested=[endpoint, *tested],
            regression=regression,
            margin=margin,
            decisions_made=len(spent),
            alpha_spent=sum(spent),
            **fields,
            **common,
        )

    if not confirmed:
        if regression is not None and regression.p_value < alpha_test:
            why = f"the bad endpoint {bad.short} is significantly better than {good.short}"
        else:
            why = (
                f"the bad endpoint {bad.short} is not measurably worse than the good endpoint "
                f"{good.short} with {len(seed_set)} seed(s) at alpha {alpha_test:.2g}"
                + ("" if len(seed_set) >= 2 else "; one seed cannot be tested against seed noise")
                + "; nothing to bisect (allow more --max-seeds, or pick other endpoints)"
            )
        return finish(outcome="not_confirmed", first_bad=None, candidates=[], reason=why)
    assert regression is not None
    midpoint = regression.worse_by(direction) / 2
    if margin is None:
        margin = midpoint
    say(f"a commit is good when worse than {good.short} by less than {margin:.4g} (margin)")

    # 2. the bisection
    def classify(index: int) -> str:
        commit = commits[index]
        decision = len(spent) + 1  # a skip ends without a verdict and leaves the index free
        probe_alpha = level(decision)
        comparison: Paired | None = None
        verdict: CommitVerdict = "unknown"
        seed_set: Sequence[int] = schedule[0]
        for seed_set in schedule:
            results = measurer.measure(commit, seed_set)
            failed = next((m for m in results if not m.ok), None)
            if failed is not None:
                say(f"{commit.short} {commit.subject!r}: skip (seed {failed.seed}: {failed.error})")
                tested.append(
                    Tested(
                        commit=commit,
                        position=index,
                        verdict="skip",
                        role="probe",
                        seeds=len(results),
                        error=failed.error,
                        alpha_test=probe_alpha,
                    )
                )
                decided(commit)
                return "skip"
            measure_endpoint(good, seed_set, "good endpoint")
            comparison = compare_with_good(commit, seed_set, probe_alpha)
            verdict = judge(comparison, alpha_test=probe_alpha, margin=margin, direction=direction)
            if comparison is not None:
                say(
                    f"{commit.short} {commit.subject!r}, {len(seed_set)} seeds: "
                    f"{_describe(comparison)} -> {verdict}"
                )
            if verdict != "unknown":
                break
        forced = verdict == "unknown"
        if forced:
            worse = comparison.worse_by(direction) if comparison is not None else math.inf
            verdict = "good" if worse < midpoint else "bad"
            say(
                f"{commit.short}: still unknown at {len(seed_set)} seeds; forced to {verdict} "
                "(the nearer endpoint; this step is not error-controlled)"
            )
        tested.append(
            Tested(
                commit=commit,
                position=index,
                verdict=verdict,
                role="probe",
                seeds=len(seed_set),
                forced=forced,
                comparison=comparison,
                decision=decision,
                alpha_test=probe_alpha,
            )
        )
        spent.append(decision_alpha(alpha, decision, planned=planned))
        decided(commit)
        return verdict

    def decided(commit: Commit) -> None:
        if release is not None:
            release(commit)

    candidates = [commits[i] for i in bisect_indices(len(commits), classify)]
    if len(candidates) == 1:
        return finish(outcome="found", first_bad=candidates[0], candidates=candidates)
    why = (
        "commits whose command fails lie between the last good and the first bad commit; "
        "the first bad commit could be any of: " + ", ".join(c.short for c in candidates)
    )
    return finish(outcome="ambiguous", first_bad=None, candidates=candidates, reason=why)


def _describe(comparison: Paired) -> str:
    return (
        f"{comparison.diff:+.4g} (CI {comparison.ci_low:+.4g} .. {comparison.ci_high:+.4g}, "
        f"p={comparison.p_value:.2g})"
    )


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
