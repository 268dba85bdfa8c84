"""``harness study --until-decided``: add seeds only where a comparison is still undecided.

The study's own seeds run first. Then, round by round, the next seed runs for the baseline and
for every variant whose comparison with the baseline is still undecided, until each is decided
(better / worse / equivalent within the margin) or has ``max_seeds`` seeds (inconclusive).
Verdicts come from ``analysis.sequential``: an anytime-valid confidence sequence per
comparison at level alpha / m (Bonferroni over the m comparisons), so looking after every seed
keeps the family-wise error at most alpha.

The rounds follow a fixed seed sequence — the study's seeds, then one above their maximum
after another — and round r decides from the results of the seeds before it only, so an
interrupted adaptive study resumes exactly where it was.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.errors import UserError
from harness.run.runner import StudyOutcome
from harness.store import RunKey
from harness.study.spec import StudySpec


@dataclasses.dataclass(frozen=True, kw_only=True)
class AdaptiveSettings:
    """``--until-decided`` settings.

    Attributes:
        max_seeds: the most seeds any variant gets.
        alpha: family-wise error level.
        margin: equivalence margin in metric units (enables "equivalent"), or None.
    """

    max_seeds: int = 10
    alpha: float = 0.05
    margin: float | None = None

    def __post_init__(self) -> None:
        if self.max_seeds < 2:
            raise UserError("--max-seeds must be at least 2")
        if not 0 < self.alpha < 1:
            raise UserError("--alpha must be between 0 and 1")
        if self.margin is not None and self.margin <= 0:
            raise UserError("--margin must be positive")


def seed_sequence(spec: StudySpec, max_seeds: int) -> list[int]:
    """The seeds in the order they are added: the study's, then max + 1, max + 2, ..."""
    seeds = sorted(spec.seeds)
    while len(seeds) < max_seeds:
        seeds.append(seeds[-1] + 1)
    return seeds


def run_until_decided(
    spec: StudySpec,
    settings: AdaptiveSettings,
    *,
    run: Callable[[StudySpec, set[RunKey] | None], StudyOutcome],
    load_table: Callable[[Path], Any],
    study_dir: Path,
    announce: Callable[[str], None] = print,
) -> Any:
    """Run rounds of seeds until every comparison is decided; returns the final report.

    Args:
        spec: the study.
        settings: the sequential settings.
        run: runs the given runs of a study (``harness.run.runner.run_study`` with ``only``).
        load_table: the results table of the study directory.
        study_dir: the study directory.
        announce: where round-by-round lines go.

    Returns:
        The final :class:`analysis.sequential.SequentialReport`.
    """
    from analysis.sequential import sequential_compare

    seeds = seed_sequence(spec, settings.max_seeds)
    initial = len(spec.seeds)
    others = [v.name for v in spec.variants if v.name != spec.baseline]
    if not others:
        raise UserError("--until-decided needs at least one variant besides the baseline")
    run(dataclasses.replace(spec, seeds=tuple(seeds[:initial])), None)

    def report_before(index: int) -> Any:
        frame = _table_for_seeds(load_table(study_dir), seeds[:index])
        if spec.metric not in frame.columns:
            raise UserError(f"no finished run reported the metric '{spec.metric}'")
        try:
            return sequential_compare(
                frame,
                metric=spec.metric,
                baseline=spec.baseline,
                alpha=settings.alpha,
                margin=settings.margin,
                direction=spec.direction,
                max_seeds=settings.max_seeds,
                variants=others,
            )
        except ValueError as error:  # e.g. every baseline run failed
            raise UserError(f"cannot compare sequentially: {error}") from None

    for index in range(initial, len(seeds)):
        report = report_before(index)
        if not report.needs_seeds:
            break
        needing = [*report.needs_seeds, spec.baseline]
        announce(f"seed {seeds[index]}: still undecided: {', '.join(report.needs_seeds)}")
        grown = dataclasses.replace(spec, seeds=tuple(seeds[: index + 1]))
        run(grown, {RunKey(variant=name, seed=seeds[index]) for name in needing})
    return report_before(len(seeds))


def _table_for_seeds(table: Any, seeds: list[int]) -> Any:
    import polars as pl

    if table.height == 0:
        return table
    return table.filter(pl.col("seed").is_in(seeds))
