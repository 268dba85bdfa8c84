"""The honest winner: re-evaluate the top trials on fresh seeds and ask the analysis layer.

The best trial of a search is selected *because* its seeds were lucky as well as because its
parameters are good (the winner's curse), so its search value is biased. The top-k trials
(distinct parameters) are therefore run again on seeds the search never used, and
``analysis.compare`` — paired by seed, one multiplicity family (Holm), tiers — compares them.
A winner is named only when it is alone in the first tier, i.e. it separates from every other
re-evaluated trial and in particular from the runner-up; otherwise the first tier is reported
as the tied set, and any of its parameters is as good a choice as the data can tell.

The fresh runs are ordinary runs of the trials' variants (``trial-0007/s1000`` ...), executed
by the runner, so they resume and cooperate like any study.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from analysis.verdict import Direction, improvement
from harness.executors import Executor
from harness.run.runner import ProgressSink, run_study
from harness.study.search import SearchConfig
from harness.study.spec import StudySpec
from harness.tune.config import trial_variant
from harness.tune.search import trial_variant_of


@dataclass(frozen=True, kw_only=True)
class Candidate:
    """One re-evaluated trial.

    Attributes:
        trial: the Optuna trial number.
        variant: its store variant.
        params: its parameters.
        search_value: its objective in the search (mean over the search seeds).
        fresh_values: the metric on each fresh seed.
        fresh_mean: the mean over fresh seeds, None when none finished.
    """

    trial: int
    variant: str
    params: dict[str, Any]
    search_value: float
    fresh_values: dict[int, float]
    fresh_mean: float | None


@dataclass(frozen=True, kw_only=True)
class SeparationCheck:
    """The outcome of the re-evaluation.

    Attributes:
        verdict: "winner" (one trial separates from all others), "tie" (the first tier holds
            several trials) or "skipped" (no check possible; ``reason`` says why).
        winner: the winning trial number, only for "winner".
        tied: the trial numbers of the first tier (the winner alone for "winner").
        candidates: the re-evaluated trials, best fresh mean first.
        fresh_seeds: the seeds of the re-evaluation.
        alpha: the family-wise level.
        runner_up: the runner-up's comparison with the best (``analysis`` fields), if any.
        comparison: ``analysis.compare(...).to_dict()``, if it ran.
        reason: a sentence for the reader.
    """

    verdict: Literal["winner", "tie", "skipped"]
    winner: int | None = None
    tied: tuple[int, ...] = ()
    candidates: tuple[Candidate, ...] = ()
    fresh_seeds: tuple[int, ...] = ()
    alpha: float = 0.05
    runner_up: dict[str, Any] | None = None
    comparison: dict[str, Any] | None = None
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["tied"] = list(self.tied)
        data["fresh_seeds"] = list(self.fresh_seeds)
        for candidate in data["candidates"]:
            candidate["fresh_values"] = {str(k): v for k, v in candidate["fresh_values"].items()}
        return data


def top_trials(study: Any, k: int) -> list[Any]:
    """The ``k`` best complete trials with distinct parameters, best first (ties by number)."""
    from optuna.study import StudyDirection
    from optuna.trial import TrialState

    direction = (
        Direction.MINIMIZE if study.direction == StudyDirection.MINIMIZE else Direction.MAXIMIZE
    )
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    ranked = sorted(complete, key=lambda t: (-improvement(t.value, direction), t.number))
    chosen, seen = [], set()
    for trial in ranked:
        key = json.dumps(trial.params, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            chosen.append(trial)
        if len(chosen) == k:
            break
    return chosen


def reevaluate(
    spec: StudySpec,
    search: SearchConfig,
    trials: Sequence[Any],
    *,
    runs_root: Path,
    executor_factory: Callable[[], Executor],
    wandb: dict[str, Any] | None = None,
    progress: ProgressSink | None = None,
    poll_interval: float = 1.0,
) -> StudySpec:
    """Run ``trials`` on the fresh seeds (resuming; waiting for runs other processes hold).

    Returns the study of the re-evaluation (the trials' variants × the fresh seeds).
    """
    variants = tuple(
        trial_variant(spec, search, trial_variant_of(t), dict(t.params)) for t in trials
    )
    fresh = dataclasses.replace(
        spec, variants=variants, seeds=search.fresh_seeds, baseline=variants[0].name
    )
    while True:
        outcome = run_study(
            fresh,
            runs_root=runs_root,
            executor_factory=executor_factory,
            wandb=wandb,
            progress=progress,
        )
        if not outcome.busy:
            return fresh
        time.sleep(poll_interval)  # another process runs some of them: wait for its records


def separation_check(
    spec: StudySpec, search: SearchConfig, trials: Sequence[Any], study_dir: Path
) -> SeparationCheck:
    """Compare the re-evaluated ``trials`` on the fresh seeds; see the module docstring."""
    import polars as pl

    from analysis import AnalysisError, compare
    from harness.store import load_table

    metric = spec.metric
    variants = {trial_variant_of(t): t for t in trials}
    table = load_table(study_dir)
    if metric in table.columns:
        table = table.filter(
            pl.col("variant").is_in(list(variants)) & pl.col("seed").is_in(search.fresh_seeds)
        ).select("variant", "seed", metric)
    candidates = []
    for variant, trial in variants.items():
        rows = table.filter(pl.col("variant") == variant) if metric in table.columns else None
        values = {} if rows is None else dict(zip(rows["seed"], rows[metric], strict=True))
        mean = sum(values.values()) / len(values) if values else None
        candidates.append(
            Candidate(
                trial=trial.number,
                variant=variant,
                params=dict(trial.params),
                search_value=float(trial.value),
                fresh_values=values,
                fresh_mean=mean,
            )
        )
    candidates.sort(
        key=lambda c: (
            c.fresh_mean is None,
            -improvement(c.fresh_mean or 0.0, spec.direction),  # best first
            c.trial,
        )
    )
    base = {"candidates": tuple(candidates), "fresh_seeds": search.fresh_seeds}
    scored = [c for c in candidates if c.fresh_mean is not None]
    if len(scored) < 2:
        return SeparationCheck(
            verdict="skipped",
            alpha=search.alpha,
            reason="fewer than 2 re-evaluated trials finished on the fresh seeds",
            **base,  # type: ignore[arg-type]
        )
    best = scored[0]
    try:
        result = compare(
            table.filter(pl.col("variant").is_in([c.variant for c in scored])),
            metric=metric,
            baseline=best.variant,
            alpha=search.alpha,
            paired=True,
            direction=spec.direction,
        )
    except AnalysisError as error:
        return SeparationCheck(
            verdict="skipped",
            alpha=search.alpha,
            reason=f"analysis: {error}",
            **base,  # type: ignore[arg-type]
        )
    number = {c.variant: c.trial for c in candidates}
    tied = tuple(number[name] for name in result.tiers[0])
    runner_up = next(
        (c.to_dict() for c in result.comparisons if c.variant == scored[1].variant), None
    )
    detail = ""
    if runner_up is not None:
        detail = (
            f"; runner-up trial {scored[1].trial}: diff {runner_up['diff']:+.4g} "
            f"[{runner_up['ci_low']:.4g}, {runner_up['ci_high']:.4g}], "
            f"p_adj {runner_up['p_adjusted']:.3g} ({runner_up['verdict']})"
        )
    seeds = f"{len(search.fresh_seeds)} fresh seeds"
    if len(tied) == 1:
        return SeparationCheck(
            verdict="winner",
            winner=tied[0],
            tied=tied,
            alpha=search.alpha,
            runner_up=runner_up,
            comparison=result.to_dict(),
            reason=f"trial {tied[0]} separates from the other top trials on {seeds}{detail}",
            **base,  # type: ignore[arg-type]
        )
    return SeparationCheck(
        verdict="tie",
        tied=tied,
        alpha=search.alpha,
        runner_up=runner_up,
        comparison=result.to_dict(),
        reason=(
            f"trials {', '.join(map(str, tied))} do not separate on {seeds} at alpha "
            f"{search.alpha}{detail}"
        ),
        **base,  # type: ignore[arg-type]
    )
