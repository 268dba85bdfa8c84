"""Live progress of a study: runs done / total with ETA, and each active run's step and the
latest value of the study's metric.

Active runs are followed by reading the new lines of their ``metrics.jsonl`` — the same file
the results come from, whatever source filled it (the built-in trainer, a command's printed
losses, its results file or its wandb run) — so progress works alike for every run.

The runner (``harness.run.runner.run_study``) drives :class:`RichProgress` through its methods;
this module knows a run only as a :class:`PlannedRun`, so it imports neither the runner nor the
executors.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from harness.store import RunKey
from harness.store.layout import RunDir
from harness.store.metrics_file import MetricsTail
from harness.store.records import RunRecord

LOSS_KEYS = ("train_loss", "loss", "val_loss")


class PlannedRun(Protocol):
    """What the display needs of a run (``harness.executors.RunPlan`` has it)."""

    @property
    def key(self) -> RunKey:
        """The run's (variant, seed)."""
        ...

    @property
    def run_dir(self) -> Path:
        """Where the run writes its ``metrics.jsonl``."""
        ...

    @property
    def total_steps(self) -> int | None:
        """The planned number of steps, when known."""
        ...


class RunFollower:
    """The latest step and metric value of an active run, from the rows its metrics file gains.

    Args:
        path: the run's ``metrics.jsonl``.
        metric: the study's metric, whatever its name (``val/loss``) and source; without one,
            the first of :data:`LOSS_KEYS` a row has.
    """

    def __init__(self, path: Path, metric: str | None = None) -> None:
        self.tail = MetricsTail(path)
        self.keys = (metric,) if metric else LOSS_KEYS
        self.step: int | None = None
        self.loss: tuple[str, float] | None = None

    def poll(self) -> None:
        for row in self.tail.new_rows():
            if isinstance(row.get("step"), int | float):
                self.step = int(row["step"])
            for key in self.keys:
                if isinstance(row.get(key), int | float):
                    self.loss = (key, float(row[key]))
                    break


class RichProgress:
    """A rich progress display: one bar for the study, one line per active run.

    The runner calls ``start`` once, ``started``/``finished`` per run, ``tick`` between polls,
    and ``stop`` at the end (``harness.run.runner.ProgressSink``).
    """

    def __init__(self, console: Console | None = None, *, metric: str | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.metric = metric
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self.overall: Any = None
        self.active: dict[Any, tuple[Any, RunFollower, PlannedRun]] = {}

    def start(self, *, total: int, finished: int, active_plans: Sequence[PlannedRun]) -> None:
        self.progress.start()
        self.overall = self.progress.add_task("[bold]runs", total=total, completed=finished)

    def started(self, plan: PlannedRun) -> None:
        task = self.progress.add_task(f"  {plan.key}", total=plan.total_steps)
        follower = RunFollower(RunDir(plan.run_dir).metrics, self.metric)
        self.active[plan.key] = (task, follower, plan)

    def tick(self) -> None:
        for task, tail, plan in self.active.values():
            tail.poll()
            loss = f" {tail.loss[0]} {tail.loss[1]:.4f}" if tail.loss else ""
            self.progress.update(task, completed=tail.step or 0, description=f"  {plan.key}{loss}")

    def finished(self, plan: PlannedRun, record: RunRecord | None) -> None:
        task, _, _ = self.active.pop(plan.key, (None, None, None))
        if task is not None:
            self.progress.remove_task(task)
        self.progress.advance(self.overall)
        status = record.status if record else "interrupted"
        if status != "done":
            # escaped: an error quotes the run's output, which may hold [brackets]
            detail = f": {escape(record.error)}" if record and record.error else ""
            self.console.print(f"[yellow]{plan.key} {status}{detail}")
        elif not self.console.is_terminal:
            self.console.print(f"{plan.key} done in {record.wall_time_s:.1f}s")  # type: ignore[union-attr]

    def stop(self) -> None:
        self.progress.stop()
