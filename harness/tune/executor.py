"""The local executor, plus stopping a single run (a pruned trial stops its runs)."""

from __future__ import annotations

from harness.executors import RunPlan
from harness.executors.local import LocalExecutor


class PrunableLocalExecutor(LocalExecutor):
    """:class:`LocalExecutor` that can also stop one run's worker.

    A stopped worker exits without a record (SIGTERM; a command run's process is stopped
    with it), so the run stays unfinished, and :meth:`wait` reports it like any ended worker.
    """

    def cancel(self, plan: RunPlan) -> None:
        # _running is LocalExecutor's table of live workers; a cancel(plan) on the Executor
        # interface would make this subclass unnecessary.
        for process, running, _ in self._running.values():
            if running.key == plan.key and process.poll() is None:
                process.terminate()
