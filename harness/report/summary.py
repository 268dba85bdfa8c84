"""The end-of-study summary: variant × seed final metric, and what to type next."""

from __future__ import annotations

import shlex
from collections.abc import Sized
from pathlib import Path
from typing import Protocol

from rich.console import Console
from rich.table import Table

from harness.store import FileSystemStore, RunKey
from harness.study.spec import StudySpec


class Outcome(Protocol):
    """What the summary needs of what a ``harness study`` invocation did
    (``harness.run.runner.StudyOutcome`` has it)."""

    @property
    def study_dir(self) -> Path:
        """The study directory."""
        ...

    @property
    def planned(self) -> Sized:
        """Every run of the study."""
        ...

    @property
    def skipped(self) -> Sized:
        """Runs already finished before this invocation."""
        ...

    @property
    def executed(self) -> Sized:
        """Runs this invocation finished."""
        ...

    @property
    def busy(self) -> Sized:
        """Runs another live process is running (left to it)."""
        ...


def print_summary(console: Console, spec: StudySpec, outcome: Outcome) -> int:
    """Print the summary table: variant × seed final metric, and what to type next.

    Args:
        console: where to print.
        spec: the study.
        outcome: what this invocation did.

    Returns:
        The exit code: 1 when any run failed or is unfinished, else 0.
    """
    store = FileSystemStore(outcome.study_dir)
    table = Table(title=f"{spec.name}: final {spec.metric} ({spec.direction})")
    table.add_column("variant", style="bold")
    for seed in spec.seeds:
        table.add_column(f"s{seed}", justify="right")
    failed, unfinished = [], []
    for variant in spec.variants:
        cells = []
        for seed in spec.seeds:
            key = RunKey(variant=variant.name, seed=seed)
            record = store.read_record(key)
            if record is None:
                status = store.status(key)
                cells.append(f"[dim]{status}")
                # planned (it has a config) and not running: its worker died without a record
                if status == "pending" and store.read_config(key) is not None:
                    unfinished.append(key)
            elif record.status != "done":
                cells.append(f"[red]{record.status}")
                if record.status == "failed":
                    failed.append(key)
            else:
                value = record.final_metrics.get(spec.metric)
                cells.append(f"{value:.4f}" if value is not None else "[dim]n/a")
        name = f"{variant.name} (baseline)" if variant.name == spec.baseline else variant.name
        table.add_row(name, *cells)
    console.print(table)
    console.print(
        f"{len(outcome.executed)} run(s) executed now, {len(outcome.skipped)} already "
        f"finished, {len(outcome.planned)} in the study; results in {outcome.study_dir}"
    )
    if outcome.busy:
        console.print(f"[yellow]{len(outcome.busy)} run(s) are running in another process.")
    if failed:
        console.print(
            f"[red]{len(failed)} run(s) failed: "
            f"{', '.join(str(k) for k in failed)}; see their output.log "
            "(rerun them with --retry-failed)"
        )
    if unfinished:
        console.print(
            f"[red]{len(unfinished)} run(s) did not finish: "
            f"{', '.join(str(k) for k in unfinished)}; their worker died without a record "
            "(see worker.log in the run directory); run again to resume"
        )
    console.print(
        f"Next: [bold]harness compare {shlex.quote(str(outcome.study_dir))} --metric {spec.metric}"
    )
    return 1 if failed or unfinished else 0
