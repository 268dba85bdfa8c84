"""The metric a study of imported runs is judged on: chosen, named consistently, present."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from analysis.verdict import Direction
from harness.errors import closest
from harness.importers._base import ImportFailure, SourceRun

# Metrics taken as the primary one when none is named, in order of preference.
PREFERRED_METRICS = (
    "val_loss",
    "val/loss",
    "eval_loss",
    "eval/loss",
    "valid_loss",
    "validation_loss",
    "test_loss",
    "loss",
)
_HIGHER_IS_BETTER = re.compile(
    r"acc|accuracy|auc|f1|bleu|rouge|reward|return|score|precision|recall"
)
_LOWER_IS_BETTER = re.compile(r"loss|err|error|perplexity|ppl|mse|mae|rmse|nll|bpb|bpc")


def metric_names(runs: Sequence[SourceRun]) -> list[str]:
    """Every metric any run logged (its curve's columns and its final values)."""
    return sorted(
        {c for run in runs for c in run.curve.columns if c != "step"}
        | {k for run in runs for k in run.final}
    )


def choose_metric(runs: Sequence[SourceRun], named: str | None) -> str:
    """The primary metric: ``named``, else the first of :data:`PREFERRED_METRICS` logged.

    Raises:
        ImportFailure: the named metric is logged by no run, or none is named and none of the
            preferred ones is logged (the message lists what is).
    """
    names = metric_names(runs)
    if named is not None:
        if named not in names:
            match = closest(named, names)
            hint = f" (did you mean '{match}'?)" if match else ""
            raise ImportFailure(
                f"--metric: no run logged '{named}'{hint}; metrics: {_shown(names)}"
            )
        return named
    for candidate in PREFERRED_METRICS:
        if candidate in names:
            return candidate
    raise ImportFailure(
        f"name the metric to compare with --metric; the runs logged: {_shown(names)}"
    )


def choose_direction(metric: str, named: Direction | None) -> Direction:
    """``named``, else what the metric's name says (loss, error: minimize; accuracy, reward:
    maximize).

    Raises:
        ImportFailure: the name says neither.
    """
    if named is not None:
        return named
    lowered = metric.lower()
    if _LOWER_IS_BETTER.search(lowered):
        return Direction.MINIMIZE
    if _HIGHER_IS_BETTER.search(lowered):
        return Direction.MAXIMIZE
    raise ImportFailure(f"is a higher or a lower '{metric}' better? say it with --direction")


def rename_metrics(runs: Sequence[SourceRun], renames: Mapping[str, str]) -> list[SourceRun]:
    """The runs with metrics renamed (``--rename val/loss=val_loss``): a run logging under an
    old name is read as if it had logged the new one."""
    if not renames:
        return list(runs)
    import dataclasses

    renamed = []
    for run in runs:
        mapping = {old: new for old, new in renames.items() if old in run.curve.columns}
        curve = run.curve
        clash = [new for new in mapping.values() if new in curve.columns]
        if clash:
            # both names logged: the new one's values stand where both were logged
            import polars as pl

            for old, new in mapping.items():
                if new in curve.columns:
                    curve = curve.with_columns(pl.coalesce(new, old).alias(new)).drop(old)
            mapping = {old: new for old, new in mapping.items() if old in curve.columns}
        final = {renames.get(k, k): v for k, v in run.final.items()}
        renamed.append(dataclasses.replace(run, curve=curve.rename(mapping), final=final))
    return renamed


def missing_metric(runs: Sequence[SourceRun], metric: str) -> list[str]:
    """For each run without any value of ``metric``, one line naming the run, and the metric it
    logged whose name looks like the same one (``val/loss`` for ``val_loss``), if any."""
    lines = []
    for run in runs:
        if _has(run, metric):
            continue
        alike = [name for name in _logged(run) if _normal(name) == _normal(metric)]
        hint = (
            f"; it logged '{alike[0]}': pass --rename '{alike[0]}={metric}' if it is the same"
            if alike
            else ""
        )
        lines.append(f"{run.name}: no '{metric}' logged (left out of comparisons on it){hint}")
    return lines


def _has(run: SourceRun, metric: str) -> bool:
    if metric in run.final:
        return True
    return metric in run.curve.columns and run.curve[metric].drop_nulls().len() > 0


def _logged(run: SourceRun) -> list[str]:
    return [c for c in run.curve.columns if c != "step"] + list(run.final)


def _normal(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _shown(names: Sequence[str], limit: int = 20) -> str:
    more = f" ... ({len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more if names else "(none)"
