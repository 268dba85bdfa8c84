"""``harness study --until-decided``: add seeds only where a comparison is still undecided.

The study's own seeds run first. Then, round by round, the next seed runs for the baseline and
for every variant whose comparison with the baseline is still undecided, until each is decided
(better / worse / equivalent within the margin) or has ``max_seeds`` seeds (inconclusive).
Verdicts come from ``analysis.sequential``: an anytime-valid confidence sequence per
comparison at level alpha / m (Bonferroni over the m comparisons), so looking after every seed
keeps the family-wise error at most alpha.

With a seed budget given (``--max-seeds``), the group-sequential design of
``analysis.group_sequential`` runs instead: efficacy boundaries spending alpha / m over looks
after every seed up to the budget, and a non-binding futility boundary against ``--margin`` (or
the budget's 80 %-power effect). Either way the design and the looks taken are stored in the
study directory (``harness.store.SequentialLooks``), which ``harness compare --sequential`` reads.

The rounds follow a fixed seed sequence — the study's seeds, then one above their maximum
after another — and round r decides from the results of the seeds before it only, so an
interrupted adaptive study resumes exactly where it was.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from analysis.verdict import Verdict
from harness.errors import UserError
from harness.run.runner import StudyOutcome
from harness.store import RunKey, SequentialLooks, load_run_statuses
from harness.study.seeds import MAX_SEED
from harness.study.spec import StudySpec


@dataclasses.dataclass(frozen=True, kw_only=True)
class AdaptiveSettings:
    """``--until-decided`` settings.

    Attributes:
        max_seeds: the most seeds any variant gets.
        alpha: family-wise error level.
        margin: equivalence margin in metric units (enables "equivalent"), or None; for the
            group-sequential design, the minimal effect of interest of the futility rule.
        group_sequential: the budget was given: run the group-sequential design.
    """

    max_seeds: int = 10
    alpha: float = 0.05
    margin: float | None = None
    group_sequential: bool = False

    def design(self, comparisons: int) -> Any:
        """The :class:`analysis.group_sequential.GroupSequentialDesign` of these settings."""
        from analysis.group_sequential import GroupSequentialDesign

        return GroupSequentialDesign(
            max_seeds=self.max_seeds, alpha=self.alpha, comparisons=comparisons, margin=self.margin
        )

    def describe(self) -> str:
        """Which design runs and why, in words."""
        if self.group_sequential:
            return (
                f"group-sequential design over a budget of {self.max_seeds} seeds: alpha is "
                "spent over looks after every seed up to it (Lan-DeMets error spending), with "
                "a non-binding futility boundary"
            )
        return (
            "anytime-valid design (no seed budget given, or --design anytime-valid): "
            "confidence sequences valid at any look decide, stopping at "
            f"{self.max_seeds} seeds"
        )

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
    if seeds[-1] + max_seeds - len(seeds) > MAX_SEED:
        raise UserError(
            f"--max-seeds {max_seeds} would add seeds after the study's largest, {seeds[-1]}, "
            f"beyond {MAX_SEED} (the largest seed every backend accepts); use smaller seeds"
        )
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
    from analysis.group_sequential_report import group_sequential_compare
    from analysis.sequential import sequential_compare

    seeds = seed_sequence(spec, settings.max_seeds)
    initial = len(spec.seeds)
    others = [v.name for v in spec.variants if v.name != spec.baseline]
    if not others:
        raise UserError("--until-decided needs at least one variant besides the baseline")
    announce(settings.describe())
    looks: dict[str, list[int]] = {name: [] for name in others}
    running = set(others)
    record_settings = (
        settings.design(len(others)).to_dict()
        if settings.group_sequential
        else {"alpha": settings.alpha, "max_seeds": settings.max_seeds, "margin": settings.margin}
    )
    run(dataclasses.replace(spec, seeds=tuple(seeds[:initial])), None)

    def report_before(index: int, *, final: bool = False) -> Any:
        frame = _table_for_seeds(load_table(study_dir), seeds[:index])
        if spec.metric not in frame.columns:
            raise UserError(f"no finished run reported the metric '{spec.metric}'")
        for name in running:
            if index >= 2 and (not looks[name] or looks[name][-1] < index):
                looks[name].append(index)
        try:
            if settings.group_sequential:
                report = group_sequential_compare(
                    frame,
                    metric=spec.metric,
                    baseline=spec.baseline,
                    design=settings.design(len(others)),
                    looks=looks,
                    direction=spec.direction,
                    variants=others,
                    lost=_table_for_seeds(load_run_statuses(study_dir), seeds[:index]),
                )
                _store_looks(study_dir, settings, record_settings, looks, report, final=final)
                return report
            report = sequential_compare(
                frame,
                metric=spec.metric,
                baseline=spec.baseline,
                alpha=settings.alpha,
                margin=settings.margin,
                direction=spec.direction,
                max_seeds=settings.max_seeds,
                variants=others,
                lost=_table_for_seeds(load_run_statuses(study_dir), seeds[:index]),
            )
            _store_looks(study_dir, settings, record_settings, looks, report, final=final)
            return report
        except ValueError as error:  # e.g. every baseline run failed
            raise UserError(f"cannot compare sequentially: {error}") from None

    for index in range(initial, len(seeds)):
        report = report_before(index)
        running.intersection_update(report.needs_seeds)
        if not report.needs_seeds:
            break
        needing = [*report.needs_seeds, spec.baseline]
        announce(f"seed {seeds[index]}: still undecided: {', '.join(report.needs_seeds)}")
        grown = dataclasses.replace(spec, seeds=tuple(seeds[: index + 1]))
        run(grown, {RunKey(variant=name, seed=seeds[index]) for name in needing})
    # the last look is written as the record whatever was stored (the data may differ)
    return report_before(len(seeds), final=True)


def _store_looks(
    study_dir: Path,
    settings: AdaptiveSettings,
    record_settings: dict[str, Any],
    looks: dict[str, list[int]],
    report: Any,
    *,
    final: bool,
) -> None:
    """Write the design and the looks so far (``harness compare --sequential`` reads them).

    The looks are a function of the records: a rerun replays the same rounds over the finished
    runs and meets the same looks again, one round at a time. So a round's record that the
    stored one already holds (the same design, each variant's looks a prefix of the stored
    ones) is not written: a rerun interrupted after its first rounds would otherwise leave the
    looks of those rounds alone, and ``compare --sequential`` would redo the design on too few
    looks ("undecided" where the study had decided). The last look (``final``) is always
    written, so a finished run of the study leaves exactly the looks its records give.
    """
    from harness.store import read_sequential_looks, write_sequential_looks

    outcome = {
        c.variant: c.result.stopped or c.result.verdict
        for c in report.comparisons
        if c.result.verdict != Verdict.UNDECIDED
    }
    record = SequentialLooks(
        design="group-sequential" if settings.group_sequential else "anytime-valid",
        settings=record_settings,
        reason=settings.describe(),
        looks={name: tuple(counts) for name, counts in looks.items()},
        outcome=outcome,
    )
    if not final:
        try:
            stored = read_sequential_looks(study_dir)
        except UserError:  # damaged: this round's looks replace it
            stored = None
        if stored is not None and _holds(stored, record):
            return
    write_sequential_looks(study_dir, record)


def _holds(stored: SequentialLooks, record: SequentialLooks) -> bool:
    """Whether the ``stored`` looks already hold ``record``'s: the same design and settings (as
    JSON, the form they are stored in), each variant's looks a prefix of its stored ones, each
    outcome the stored one."""
    old, new = stored.to_dict(), json.loads(json.dumps(record.to_dict()))
    if (old["design"], old["settings"]) != (new["design"], new["settings"]):
        return False
    for name, counts in new["looks"].items():
        if old["looks"].get(name, [])[: len(counts)] != counts:
            return False
    return all(old["outcome"].get(name) == value for name, value in new["outcome"].items())


def _table_for_seeds(table: Any, seeds: list[int]) -> Any:
    import polars as pl

    if table.height == 0:
        return table
    return table.filter(pl.col("seed").is_in(seeds))
