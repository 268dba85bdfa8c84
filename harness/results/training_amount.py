"""How much training each variant got, and a warning when it differs (issue 32, item 7).

A seed plan that trains for a fixed time (``--train_minutes 10``) gives a faster variant more
steps and tokens: compared at the end, the variants are not at matched compute. From the curves
(each run's last logged step, and its last ``tokens`` value when the runs log one) and the
records' wall time, :func:`unequal_training_note` says so in one sentence and names the
``--at step=N`` (or ``--at tokens=N``) that would compare them at a matched amount.
"""

from __future__ import annotations

import dataclasses
import statistics
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from harness.results.comparison import CompareOptions, Prepared

Result = TypeVar("Result")


@dataclasses.dataclass(frozen=True, kw_only=True)
class VariantAmount:
    """One variant's training, over its compared runs.

    Attributes:
        variant: the variant.
        steps: each run's last logged step.
        tokens: each run's last ``tokens`` value (empty when the runs log none).
        wall_time_s: each run's wall time (empty without records).
    """

    variant: str
    steps: tuple[int, ...]
    tokens: tuple[float, ...] = ()
    wall_time_s: tuple[float, ...] = ()


def training_amounts(prepared: Prepared) -> list[VariantAmount]:
    """Per variant of ``prepared.table`` (its compared runs), the steps, tokens and wall time
    its runs reached; [] when there are no curves on a step axis."""
    import polars as pl

    curves = prepared.inputs.curves()
    if curves is None or curves.height == 0 or prepared.inputs.step_axis() != "step":
        return []
    keys = ["variant", "seed"]
    runs = prepared.table.select(pl.col("variant").cast(pl.Utf8), pl.col("seed").cast(pl.Int64))
    reached = [pl.col("step").max().alias("steps")]
    if "tokens" in curves.columns:
        reached.append(pl.col("tokens").cast(pl.Float64).max().alias("tokens"))
    ends = (
        curves.with_columns(pl.col("variant").cast(pl.Utf8), pl.col("seed").cast(pl.Int64))
        .group_by(keys)
        .agg(reached)
        .join(runs, on=keys, how="semi")
    )
    walls = _wall_times(prepared)
    amounts = []
    for variant in runs["variant"].unique(maintain_order=True).to_list():
        rows = ends.filter(pl.col("variant") == variant).sort("seed")
        tokens = rows["tokens"].drop_nulls().to_list() if "tokens" in rows.columns else []
        amounts.append(
            VariantAmount(
                variant=variant,
                steps=tuple(int(s) for s in rows["steps"].drop_nulls().to_list()),
                tokens=tuple(float(t) for t in tokens),
                wall_time_s=tuple(
                    walls[(variant, s)] for s in rows["seed"] if (variant, s) in walls
                ),
            )
        )
    return amounts


def unequal_training_note(prepared: Prepared, options: CompareOptions) -> str | None:
    """The warning that the compared variants reached different amounts of training, or None
    (equal amounts, no curves, or a comparison already at a matched step or token count).

    Args:
        prepared: the input (:func:`harness.results.comparison.prepare`).
        options: the comparison options; ``--agg step:S`` and ``--at`` compare at a matched
            amount already.

    Returns:
        e.g. "unequal training: fast ran 2,000 steps, the baseline base 1,200 (in 10.0 and
        10.1 min of wall time): compared at the end, not at matched compute; ...".
    """
    if options.agg.startswith(("at:", "step:")) or prepared.baseline is None:
        return None
    amounts = {a.variant: a for a in training_amounts(prepared) if a.steps}
    base = amounts.get(str(prepared.baseline))
    if base is None or len(amounts) < 2:
        return None
    if len({s for a in amounts.values() for s in a.steps}) == 1:
        return None
    parts = [
        f"{a.variant} ran {_span(a.steps)} steps"
        for name, a in amounts.items()
        if name != base.variant and _span(a.steps) != _span(base.steps)
    ]
    if not parts:
        parts = [
            f"runs ended at {_span(tuple(s for a in amounts.values() for s in a.steps))} steps"
        ]
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


def _wall_times(prepared: Prepared) -> dict[tuple[str, int], float]:
    """Each run's wall time from its record; {} for a results file."""
    if prepared.inputs.study_dir is None:
        return {}
    from harness.store import load_records

    return {(r.variant, r.seed): r.wall_time_s for r in load_records(prepared.inputs.study_dir)}
