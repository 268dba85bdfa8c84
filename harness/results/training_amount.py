"""How much training each variant got, and a warning when it differs (issue 32, item 7).

A seed plan that trains for a fixed time (``--train_minutes 10``) gives a faster variant more
steps and tokens: compared at the end, the variants are not at matched compute. From the curves
(each run's last logged step, and its last ``tokens`` value when the runs log one: for a study
read from the last rows of each ``metrics.jsonl`` only, which keeps ``harness compare`` fast)
and the records' wall time, :func:`unequal_training_note` says so in one sentence and names the
``--at step=N`` (or ``--at tokens=N``) that would compare them at a matched amount.
"""

from __future__ import annotations

import dataclasses
import statistics
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import polars as pl

    from harness.results.comparison import CompareOptions, Prepared

Result = TypeVar("Result")
#: Bytes read from the end of a run's ``metrics.jsonl``, and the complete lines of them parsed,
#: for its last step: the last rows only, so that ``harness compare`` does not parse every
#: curve to say how far each run got.
TAIL_BYTES = 4096
TAIL_LINES = 8
RunEnds = dict[tuple[str, int], tuple[int | None, float | None]]


@dataclasses.dataclass(frozen=True, kw_only=True)
class VariantAmount:
    """One variant's training, over its compared runs.

    Attributes:
        variant: the variant.
        steps: each run's last logged step.
        tokens: each run's last ``tokens`` value (empty unless every run logs one).
        wall_time_s: each run's wall time (empty without records).
    """

    variant: str
    steps: tuple[int, ...]
    tokens: tuple[float, ...] = ()
    wall_time_s: tuple[float, ...] = ()


def training_amounts(prepared: Prepared) -> list[VariantAmount]:
    """Per variant of ``prepared.table`` (its compared runs), the steps and tokens its runs
    reached (their wall times: :func:`with_wall_times`).

    For a study, the largest ``step`` and ``tokens`` among the last rows of each run's
    ``metrics.jsonl``; for a curves file, among its rows; [] for a file of one value per run.
    """
    import polars as pl

    runs = prepared.table.select(pl.col("variant").cast(pl.Utf8), pl.col("seed").cast(pl.Int64))
    if prepared.inputs.study_dir is not None:
        ends = _study_ends(prepared.inputs.study_dir, runs.rows())
    elif prepared.inputs.curves_file is not None:
        ends = _file_ends(prepared.inputs.curves_file, runs)
    else:
        return []
    amounts = []
    for variant in runs["variant"].unique(maintain_order=True).to_list():
        mine = [end for (name, _), end in ends.items() if name == variant]
        steps = tuple(step for step, _ in mine if step is not None)
        tokens = tuple(token for _, token in mine if token is not None)
        amounts.append(
            VariantAmount(
                variant=variant, steps=steps, tokens=tokens if len(tokens) == len(mine) else ()
            )
        )
    return amounts


def with_wall_times(prepared: Prepared, amounts: list[VariantAmount]) -> list[VariantAmount] | None:
    """``amounts`` with each compared run's wall time from its record (as they are for a
    file); None when the study's curves are at log lines rather than steps (every finished run
    read printed lines that had no step): their "steps" count lines, not training."""
    if prepared.inputs.study_dir is None:
        return amounts
    from harness.store import load_records

    records = load_records(prepared.inputs.study_dir)
    axes = {r.provenance.get("step_axis", "step") for r in records if r.status == "done"}
    if axes == {"log line"}:
        return None
    compared = set(prepared.table.select("variant", "seed").rows())
    walls: dict[str, list[float]] = {}
    for r in records:
        if (r.variant, r.seed) in compared:
            walls.setdefault(r.variant, []).append(r.wall_time_s)
    return [dataclasses.replace(a, wall_time_s=tuple(walls.get(a.variant, ()))) for a in amounts]


def unequal_training_note(prepared: Prepared, options: CompareOptions) -> str | None:
    """The warning that the compared variants reached different amounts of training, or None
    (equal amounts, no curves, or a comparison already at a matched step or token count).

    Args:
        prepared: the input (:func:`harness.results.comparison.prepare`).
        options: the comparison options; ``--agg step:S`` and ``--at`` compare at a matched
            amount already.

    Returns:
        e.g. "unequal training: slow ran 1,200 steps, the baseline base 2,000 (median wall
        time 10.0, 10.0 min, in the order base, slow): compared at the end, not at matched
        compute; ...".
    """
    if options.agg.startswith(("at:", "step:")) or prepared.baseline is None:
        return None
    found = [a for a in training_amounts(prepared) if a.steps]
    if len({s for a in found for s in a.steps}) < 2:
        return None
    timed = with_wall_times(prepared, found)
    if timed is None:
        return None
    amounts = {a.variant: a for a in timed}
    base = amounts.get(str(prepared.baseline))
    if base is None or len(amounts) < 2:
        return None
    parts = [
        f"{a.variant} ran {_span(a.steps)} steps"
        for name, a in amounts.items()
        if name != base.variant and _span(a.steps) != _span(base.steps)
    ]
    if not parts:
        every = tuple(s for a in amounts.values() for s in a.steps)
        parts = [f"runs ended at {_span(every)} steps"]
    text = f"unequal training: {', '.join(parts)}, the baseline {base.variant} {_span(base.steps)}"
    if all(a.wall_time_s for a in amounts.values()):
        minutes = ", ".join(
            f"{statistics.median(a.wall_time_s) / 60:.1f}" for a in amounts.values()
        )
        text += f" (median wall time {minutes} min, in the order {', '.join(amounts)})"
    fewest = min(s for a in amounts.values() for s in a.steps)
    text += (
        ": compared at the end, not at matched compute; to compare at a matched amount of "
        f"training use --at step=N with N at most {fewest:,} (the fewest steps a run reached)"
    )
    if all(a.tokens for a in amounts.values()):
        tokens = min(t for a in amounts.values() for t in a.tokens)
        text += f", or --at tokens=N with N at most {tokens:,.0f}"
    return text


def with_note(result: Result, note: str | None) -> Result:
    """``result`` (a frozen result with a ``warnings`` tuple) with ``note`` added to its
    warnings; ``result`` itself when there is no note."""
    if note is None:
        return result
    warnings: Any = getattr(result, "warnings", ())
    return dataclasses.replace(result, warnings=(*warnings, note))  # type: ignore[type-var]


def _span(values: tuple[int, ...]) -> str:
    """``1,200`` for one value, else the median and the range."""
    low, high = min(values), max(values)
    if low == high:
        return f"{low:,}"
    return f"{statistics.median(values):,.0f} (median; {low:,}-{high:,})"


def _study_ends(study_dir: Path, runs: list[tuple[str, int]]) -> RunEnds:
    """Per run, the largest ``step`` and ``tokens`` among the last rows of its metrics file
    (as its record counts it)."""
    from harness.store import FileSystemStore, RunKey
    from harness.store.curves import recorded_last_rows

    store = FileSystemStore(study_dir)
    ends: RunEnds = {}
    for variant, seed in runs:
        rows = recorded_last_rows(
            store, RunKey(variant=variant, seed=seed), max_bytes=TAIL_BYTES, max_lines=TAIL_LINES
        )
        if rows is None:
            ends[(variant, seed)] = (None, None)
            continue
        steps = [r["step"] for r in rows if _is_number(r.get("step"))]
        tokens = [r["tokens"] for r in rows if _is_number(r.get("tokens"))]
        ends[(variant, seed)] = (
            int(max(steps)) if steps else None,
            float(max(tokens)) if tokens else None,
        )
    return ends


def _file_ends(curves: pl.DataFrame, runs: pl.DataFrame) -> RunEnds:
    """Per run of ``runs``, the largest ``step`` and ``tokens`` of a curves file."""
    import polars as pl

    tokens = (
        pl.col("tokens").cast(pl.Float64).max()
        if "tokens" in curves.columns
        else pl.lit(None, dtype=pl.Float64)
    )
    ends = (
        curves.with_columns(pl.col("variant").cast(pl.Utf8), pl.col("seed").cast(pl.Int64))
        .group_by("variant", "seed")
        .agg(pl.col("step").max().alias("steps"), tokens.alias("tokens"))
        .join(runs, on=["variant", "seed"], how="semi")
    )
    return {
        (variant, seed): (None if step is None else int(step), token)
        for variant, seed, step, token in ends.iter_rows()
    }


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
