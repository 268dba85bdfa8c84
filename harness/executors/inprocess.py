"""Runs each run in this process, one at a time: for measurements taken in a checkout.

``harness bisect`` and ``harness regress`` run a study's command in each commit's worktree and
wait for the result before choosing the next commit, so a worker process per run would add
nothing but start-up time. The worker records the git state of its current directory as
provenance, so the run executes with the checkout measured as the current directory.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from harness.executors import Executor, RunPlan
from harness.worker.execute import execute


class InProcessExecutor(Executor):
    """Executes submitted runs when :meth:`wait` is called, in this process.

    ``wait`` blocks until the runs it executes end, however long that is beyond ``timeout``;
    Ctrl-C during a run propagates out of it (the scheduler then releases the run's claim).
    A single run cannot be cancelled: it is either waiting for ``wait`` or executing in it.

    Args:
        cwd: the directory the runs execute in (default: the current directory).
    """

    def __init__(self, cwd: Path | None = None) -> None:
        self.cwd = cwd
        self._submitted: list[RunPlan] = []

    @property
    def capacity(self) -> int:
        return 1

    def submit(self, plan: RunPlan) -> None:
        self._submitted.append(plan)

    def wait(self, timeout: float) -> list[RunPlan]:
        ended = []
        while self._submitted:
            plan = self._submitted.pop(0)
            with contextlib.chdir(self.cwd or Path.cwd()):
                execute(plan.run_dir, wandb_settings=plan.wandb)
            ended.append(plan)
        return ended

    def cancel_all(self) -> None:
        self._submitted.clear()
