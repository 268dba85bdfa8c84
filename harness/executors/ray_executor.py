"""Runs each run as a Ray task, on an existing cluster (``--ray-address``) or a local one.

Each task asks for the run's CPUs and GPUs (``cpus_per_run``, ``gpus_per_run``; Ray sets
``CUDA_VISIBLE_DEVICES`` for it) and runs :func:`harness.executors._remote.run_worker`, which
starts the same ``python -m harness.worker RUN_DIR`` as the local executor. The study
directory must be on a filesystem that every node and the driver share.

- Node loss: Ray retries a task whose worker process or node died (``max_retries``); the run
  starts over, as a worker that dies leaves no record.
- Cancel: ``ray.cancel`` interrupts the task, which stops its worker first.
- A driver that is killed takes its tasks with it (Ray ends a dead driver's tasks, and each
  worker dies with its task), so a restarted driver reruns the unfinished runs and skips the
  finished ones. Until a killed remote worker's heartbeat is stale (``STALE_AFTER_S``), its
  run counts as running elsewhere and is left for a later invocation.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import ray

from harness.executors._base import Executor, RunPlan
from harness.executors._remote import (
    ClaimHeartbeat,
    WorkerTask,
    await_record,
    driver_identity,
    run_worker,
    study_store,
    update_job_info,
    write_job_info,
)
from harness.store.layout import RunDir
from harness.store.run_logs import append_to_log
from harness.study.executor import ExecutorSettings

CANCEL_GRACE_S = 20.0


class RayExecutor(Executor):
    """Ray tasks, one per run.

    Args:
        settings: resources and ``ray_address``; ``kind`` is ignored.
        jobs: runs in flight at once; default ``settings.jobs``, else as many as the cluster's
            CPUs and GPUs hold at start-up.
        threads: torch threads per run; default ``settings.cpus_per_run``.
        device: "auto", "cpu" or "cuda", handed to built-in runs.

    If this process is already connected to Ray (``ray.init`` was called), that connection is
    used and left open at the end; otherwise the executor connects (or starts a local
    instance, without dashboard) and shuts Ray down in :meth:`close`.
    """

    def __init__(
        self,
        settings: ExecutorSettings | None = None,
        *,
        jobs: int | None = None,
        threads: int | None = None,
        device: str = "auto",
    ) -> None:
        self.settings = settings or ExecutorSettings(kind="ray")
        self._owns_ray = not ray.is_initialized()
        if self._owns_ray:
            options: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
            if self.settings.ray_address:
                ray.init(address=self.settings.ray_address, **options)
            else:
                ray.init(include_dashboard=False, **options)
        self.jobs = jobs or self.settings.jobs or self._slots()
        self.threads = threads or self.settings.cpus_per_run
        self.device = device
        self._task = ray.remote(run_worker)
        self._task_options = {
            "num_cpus": self.settings.cpus_per_run,
            "num_gpus": self.settings.gpus_per_run,
            "max_retries": self.settings.max_retries,
            "retry_exceptions": False,
        }
        self._in_flight: dict[ray.ObjectRef, RunPlan] = {}
        self._heartbeat = ClaimHeartbeat()

    @property
    def capacity(self) -> int:
        return self.jobs

    def submit(self, plan: RunPlan) -> None:
        task = WorkerTask.for_plan(plan, threads=self.threads, device=self.device)
        name = f"harness {study_store(plan).study_dir.name} {plan.key}"
        ref = self._task.options(name=name, **self._task_options).remote(task)
        self._in_flight[ref] = plan
        write_job_info(
            plan.run_dir,
            {
                "executor": "ray",
                "task_id": ref.task_id().hex(),
                "address": self.settings.ray_address or "local",
                "submitted_at": time.time(),
                **driver_identity(),
            },
        )

    def wait(self, timeout: float) -> list[RunPlan]:
        self._heartbeat.beat(self._in_flight.values())
        if not self._in_flight:
            time.sleep(timeout)
            return []
        refs = list(self._in_flight)
        ready, _ = ray.wait(refs, num_returns=1, timeout=timeout)
        if ready:  # and whatever else is ready by now
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        return [self._finish(ref) for ref in ready]

    def cancel_all(self) -> None:
        refs = list(self._in_flight)
        for ref in refs:
            ray.cancel(ref)  # interrupts the task, which stops its worker
        if refs:
            _, stuck = ray.wait(refs, num_returns=len(refs), timeout=CANCEL_GRACE_S)
            for ref in stuck:
                ray.cancel(ref, force=True)  # kills the Ray worker; its child gets SIGTERM
        for plan in self._in_flight.values():
            update_job_info(plan.run_dir, ended_at=time.time(), state="CANCELLED")
        self._in_flight.clear()

    def close(self) -> None:
        if self._owns_ray and ray.is_initialized():
            ray.shutdown()

    def _finish(self, ref: ray.ObjectRef) -> RunPlan:
        plan = self._in_flight.pop(ref)
        result: dict[str, Any] | None = None
        error = None
        try:
            result = ray.get(ref)
        except ray.exceptions.RayError as exc:  # the task failed, its node died, or cancelled
            error = f"{type(exc).__name__}: {exc}"[-4000:]
            text = f"\nharness: the Ray task ended without a result:\n{error}\n"
            append_to_log(RunDir(plan.run_dir).worker_log, text)  # never through a link
        if result is not None and result.get("record"):
            await_record(plan.run_dir)
        update_job_info(
            plan.run_dir,
            ended_at=time.time(),
            state="FINISHED" if error is None else "FAILED",
            returncode=None if result is None else result.get("returncode"),
            node=None if result is None else result.get("host"),
            error=error,
        )
        return plan

    def _slots(self) -> int:
        """Runs the cluster's CPUs and GPUs hold now (at least one)."""
        resources = ray.cluster_resources()
        slots = math.floor(resources.get("CPU", 0) / self.settings.cpus_per_run)
        if self.settings.gpus_per_run:
            slots = min(slots, math.floor(resources.get("GPU", 0) / self.settings.gpus_per_run))
        return max(1, slots)
