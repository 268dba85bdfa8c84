"""The end-of-study summary as data: what ``harness study --format json`` prints.

The terminal summary (:mod:`harness.report.summary`) shows the same runs as a table; this is
the machine-readable form, one object per run with its status and final metric.
"""

from __future__ import annotations

import shlex
from collections.abc import Sized
from pathlib import Path
from typing import Any, Protocol

from harness.results.wandb_sync import sync_command
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


def summary_payload(spec: StudySpec, outcome: Outcome, *, exit_code: int) -> dict[str, Any]:
    """The summary of one study invocation as JSON data.

    Args:
        spec: the study.
        outcome: what this invocation did.
        exit_code: the exit code the terminal summary gave (1: a run failed or is unfinished).

    Returns:
        ``{"study", "study_dir", "metric", "direction", "baseline", "exit_code", "executed",
        "skipped", "planned", "busy", "runs": [{"variant", "seed", "status", "value",
        "error"}], "next", "wandb_sync"}``. A run's ``status`` is its record's, else
        ``pending``/``running``, and ``value`` its final ``metric`` (None unless done);
        ``wandb_sync`` is the command that uploads runs wandb logged offline (None: none).
    """
    store = FileSystemStore(outcome.study_dir)
    runs = []
    for variant in spec.variants:
        for seed in spec.seeds:
            key = RunKey(variant=variant.name, seed=seed)
            record = store.read_record(key)
            runs.append(
                {
                    "variant": variant.name,
                    "seed": seed,
                    "status": record.status if record else store.status(key),
                    "value": record.final_metrics.get(spec.metric)
                    if record and record.status == "done"
                    else None,
                    "error": record.error if record else None,
                }
            )
    return {
        "study": spec.name,
        "study_dir": str(outcome.study_dir),
        "metric": spec.metric,
        "direction": spec.direction,
        "baseline": spec.baseline,
        "exit_code": exit_code,
        "executed": len(outcome.executed),
        "skipped": len(outcome.skipped),
        "planned": len(outcome.planned),
        "busy": len(outcome.busy),
        "runs": runs,
        "next": f"harness compare {shlex.quote(str(outcome.study_dir))} --metric {spec.metric}",
        "wandb_sync": sync_command(outcome.study_dir),
    }
