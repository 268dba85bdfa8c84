"""What ``harness bisect`` and ``harness regress`` are asked: one settings object each, built
by the command from its flags, and the measurement cache both open from them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from harness.study.source import StudySource

if TYPE_CHECKING:
    from harness.bisect.measure import CommitMeasurements
    from harness.bisect.worktrees import WorktreePool
    from harness.study.spec import StudySpec, VariantSpec


@dataclass(frozen=True, kw_only=True)
class MeasureSettings:
    """What bisect and regress measure, in which repository, and how earlier measurements are
    reused.

    Attributes:
        source: the study file (its command variant is measured), ``--set`` and ``--seeds``.
        runs_dir: the runs root the measurements are cached under; None for the default.
        metric: the metric; None for the study's.
        variant: the study's command variant to measure; None for the study's baseline.
        repo: the git repository (a path inside it).
        worktree_dir: where commits are checked out; None for ``<repo>/.git/harness-worktrees``.
        fresh: move earlier measurements aside instead of reusing them.
        retry_failed: rerun measurements that failed before.
        wandb: log a wandb run per tested commit, as the study's ``[wandb]`` says (False:
            ``--no-wandb``).
    """

    source: StudySource
    runs_dir: str | None = None
    metric: str | None = None
    variant: str | None = None
    repo: str = "."
    worktree_dir: Path | None = None
    fresh: bool = False
    retry_failed: bool = False
    wandb: bool = True


@dataclass(frozen=True, kw_only=True)
class BisectSettings:
    """What ``harness bisect`` was asked.

    Attributes:
        measure: what is measured, and where.
        good: a revision without the regression.
        bad: a revision with it.
        max_seeds: the most seeds one decision may use.
        alpha: family-wise error level of the whole bisect.
        margin: a commit worse than good by less than this is good; None for half the
            endpoints' regression.
        format: ``table`` or ``json``.
    """

    measure: MeasureSettings
    good: str
    bad: str = "HEAD"
    max_seeds: int = 32
    alpha: float = 0.05
    margin: float | None = None
    format: Literal["table", "json"] = "table"


@dataclass(frozen=True, kw_only=True)
class RegressSettings:
    """What ``harness regress`` was asked.

    Attributes:
        measure: what is measured, and where.
        against: the reference revision; None when ``baseline_results`` is the reference.
        baseline_results: stored results (a study directory) to compare with instead.
        baseline_variant: the variant of ``baseline_results`` to use; None for the measured
            variant's name (or the only variant).
        tolerance: how much worse HEAD may be: metric units (``0.01``) or percent of the
            reference mean (``1%``).
        alpha: CI level ``1 - alpha``.
        working_tree: measure the working tree as it is instead of the committed HEAD.
        format: ``table`` or ``json``.
    """

    measure: MeasureSettings
    against: str | None = None
    baseline_results: Path | None = None
    baseline_variant: str | None = None
    tolerance: str = "0"
    alpha: float = 0.05
    working_tree: bool = False
    format: Literal["table", "json"] = "table"


def open_measurements(
    spec: StudySpec,
    variant: VariantSpec,
    metric: str,
    settings: MeasureSettings,
    repo: Path,
    pool: WorktreePool,
    say: Callable[[str], None],
) -> CommitMeasurements:
    """The per-(commit, seed) measurement cache that bisect and regress share."""
    from harness.bisect.measure import CommitMeasurements
    from harness.store import runs_root

    return CommitMeasurements(
        spec,
        variant=variant,
        metric=metric,
        runs_root=runs_root(settings.runs_dir),
        repo=repo,
        pool=pool,
        retry_failed=settings.retry_failed,
        fresh=settings.fresh,
        report=say,
    )
