"""Runs each run as a Slurm job through submitit; the runs submitted together form one job array.

Each job runs :func:`harness.executors._remote.run_worker` on its node, which starts the same
``python -m harness.worker RUN_DIR`` as the local executor; the study directory must be on a
filesystem that the nodes and the driver share. Resources come from the study's
``[executor]`` table and the CLI (:class:`~harness.study.executor.ExecutorSettings`).

- Preemption: submitit asks Slurm to signal the job (USR2) before it is stopped; the job then
  stops its worker and requeues itself with the same job id. The requeued run starts over (a
  worker that is stopped leaves no record). Runs that hit their time limit are not requeued:
  starting over would hit it again.
- Logs: the worker's output is in the run's ``worker.log``; once a job ends, its Slurm
  stdout/stderr are copied into the run's ``slurm.log``, and ``executor.json`` says which job
  ran it and how it ended.
- A driver that is killed leaves its jobs queued or running. The restarted driver finds a
  queued job through the run's ``executor.json`` and waits for it instead of submitting the
  run again; a run whose worker already started holds a live claim and is left to it.

``submitit_cluster = "local"`` runs the same jobs as processes on this machine (submitit's
local executor): the tests use it, and so can anyone rehearsing a study before a cluster run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import submitit
from submitit.helpers import DelayedSubmission
from submitit.local.local import LocalJob
from submitit.slurm.slurm import SlurmJob

from harness.errors import UserError
from harness.executors._base import Executor, RunPlan
from harness.executors._remote import (
    ClaimHeartbeat,
    WorkerTask,
    await_record,
    driver_identity,
    read_job_info,
    run_worker,
    stop_current_worker,
    study_store,
    update_job_info,
    wait_for_local_workers,
    write_job_info,
)
from harness.processes import process_start_time
from harness.store import RunKey, claim_is_live
from harness.store.layout import RunDir
from harness.study.executor import ExecutorSettings

DEFAULT_JOBS = 256
# Slurm states of a job that may still run the run (``sacct`` prints e.g. "CANCELLED by 12").
ALIVE_STATES = {
    "PENDING",
    "CONFIGURING",
    "RUNNING",
    "COMPLETING",
    "REQUEUED",
    "REQUEUE_FED",
    "REQUEUE_HOLD",
    "RESIZING",
    "SUSPENDED",
    "SIGNALING",
    "STAGE_OUT",
    "STOPPED",
    "PREEMPTED",
}


class SlurmRun(submitit.helpers.Checkpointable):
    """The job's callable: run the worker; on preemption, stop it and requeue."""

    def __call__(self, task: WorkerTask) -> dict[str, Any]:
        result = run_worker(task)
        signalled = (-signal.SIGTERM, -signal.SIGUSR2, 128 + signal.SIGTERM)
        if not result["record"] and result["returncode"] in signalled:
            # Slurm signals every process of a preempted job, the worker too; give submitit's
            # USR2 handler a moment to requeue before this job reports an unfinished run.
            time.sleep(3)
        return result

    def checkpoint(self, task: WorkerTask) -> DelayedSubmission:
        stop_current_worker()  # it leaves no record; the requeued job starts the run over
        return DelayedSubmission(SlurmRun(), task)


class SlurmExecutor(Executor):
    """Slurm jobs through submitit.

    Args:
        settings: resources and placement; ``kind`` is ignored.
        jobs: runs in flight at once (queued or running); default ``settings.jobs`` or 256.
        threads: torch threads per run; default ``settings.cpus_per_run``.
        device: "auto", "cpu" or "cuda", handed to built-in runs.

    Raises:
        UserError: ``sbatch`` is not on PATH (and ``submitit_cluster`` is "slurm").
    """

    def __init__(
        self,
        settings: ExecutorSettings | None = None,
        *,
        jobs: int | None = None,
        threads: int | None = None,
        device: str = "auto",
    ) -> None:
        self.settings = settings or ExecutorSettings(kind="slurm")
        self.cluster = self.settings.submitit_cluster
        if self.cluster == "slurm" and shutil.which("sbatch") is None:
            raise UserError(
                "--executor slurm needs Slurm's sbatch on PATH (run harness on a login node); "
                "to rehearse the Slurm path on this machine, add "
                "--set executor.submitit_cluster=local"
            )
        self.jobs = jobs or self.settings.jobs or DEFAULT_JOBS
        self.threads = threads or self.settings.cpus_per_run
        self.device = device
        self._to_submit: list[RunPlan] = []  # sent to Slurm as one array at the next wait()
        self._jobs: dict[RunKey, tuple[RunPlan, submitit.Job[Any]]] = {}
        self._reattached: set[RunKey] = set()
        self._executors: dict[Path, submitit.AutoExecutor] = {}
        self._heartbeat = ClaimHeartbeat()

    @property
    def capacity(self) -> int:
        return self.jobs

    def submit(self, plan: RunPlan) -> None:
        job = self._find_live_job(plan)
        if job is None:
            self._to_submit.append(plan)
            return
        self._jobs[plan.key] = (plan, job)
        self._reattached.add(plan.key)
        update_job_info(plan.run_dir, reattached_at=time.time(), **driver_identity())

    def wait(self, timeout: float) -> list[RunPlan]:
        self._submit_batch()
        deadline = time.monotonic() + timeout
        while True:
            done = [plan for plan, job in self._jobs.values() if self._job_done(plan.key, job)]
            for plan in done:
                self._finish(plan)
            self._heartbeat.beat(plan for plan, _ in self._jobs.values())
            if done or time.monotonic() >= deadline:
                return done
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))

    def cancel_all(self) -> None:
        self._to_submit.clear()
        if self.cluster == "slurm" and self._jobs:
            subprocess.call(["scancel", *(job.job_id for _, job in self._jobs.values())])
        for key, (_, job) in self._jobs.items():
            if self.cluster != "local":
                continue
            if key in self._reattached:  # not our child: submitit holds no handle on it
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(job.job_id), signal.SIGINT)
            else:
                job.cancel(check=False)
        if self.cluster == "local":  # scancel stops remote workers; here we can wait for them
            wait_for_local_workers(plan for plan, _ in self._jobs.values())
        for plan, _ in self._jobs.values():
            update_job_info(plan.run_dir, ended_at=time.time(), state="CANCELLED")
        self._jobs.clear()

    # -- submitting ---------------------------------------------------------------------------
    def _submit_batch(self) -> None:
        if not self._to_submit:
            return
        plans, self._to_submit = self._to_submit, []
        by_study: dict[Path, list[RunPlan]] = {}
        for plan in plans:
            by_study.setdefault(study_store(plan).study_dir.resolve(), []).append(plan)
        for study_dir, group in by_study.items():
            executor = self._executor_for(study_dir)
            tasks = [
                WorkerTask.for_plan(plan, threads=self.threads, device=self.device)
                for plan in group
            ]
            with executor.batch():  # one job array (submitit's local cluster: one job each)
                jobs = [executor.submit(SlurmRun(), task) for task in tasks]
            for plan, job in zip(group, jobs, strict=True):
                self._jobs[plan.key] = (plan, job)
                write_job_info(plan.run_dir, self._job_info(job))

    def _executor_for(self, study_dir: Path) -> submitit.AutoExecutor:
        if study_dir in self._executors:
            return self._executors[study_dir]
        s = self.settings
        executor = submitit.AutoExecutor(
            folder=study_dir / "slurm",
            cluster=self.cluster,
            # A run hitting its time limit is not requeued (it would start over); a
            # preempted one always is.
            slurm_max_num_timeout=0,
            local_max_num_timeout=0,
        )
        executor.update_parameters(
            name=f"harness-{study_dir.name}",
            timeout_min=s.time_min,
            nodes=1,
            tasks_per_node=1,
            cpus_per_task=s.cpus_per_run,
            gpus_per_node=s.gpus_per_run,
            mem_gb=s.mem_gb,
            slurm_partition=s.partition,
            slurm_account=s.account,
            slurm_qos=s.qos,
            slurm_constraint=s.constraint,
            slurm_setup=list(s.setup),
            slurm_additional_parameters=dict(s.slurm_options) or None,
            local_setup=list(s.setup),
        )
        self._executors[study_dir] = executor
        return executor

    def _job_info(self, job: submitit.Job[Any]) -> dict[str, Any]:
        info: dict[str, Any] = {
            "executor": "slurm",
            "cluster": self.cluster,
            "job_id": job.job_id,
            "folder": str(job.paths.folder),
            "stdout": str(job.paths.stdout),
            "stderr": str(job.paths.stderr),
            "submitted_at": time.time(),
            **driver_identity(),
        }
        if self.cluster == "local":  # the job id is the pid of a process on this host
            info["host"] = socket.gethostname()
            info["pid_start"] = process_start_time(int(job.job_id))
        return info

    # -- tracking -----------------------------------------------------------------------------
    def _find_live_job(self, plan: RunPlan) -> submitit.Job[Any] | None:
        """The job an earlier driver submitted for this run, if it may still run it."""
        info = read_job_info(plan.run_dir)
        if (
            info is None
            or info.get("executor") != "slurm"
            or info.get("cluster") != self.cluster
            or "ended_at" in info
        ):
            return None
        folder, job_id = Path(info["folder"]), str(info["job_id"])
        if self.cluster == "local":
            if not _local_job_alive(info, plan.run_dir):
                return None
            return LocalJob(folder=folder, job_id=job_id)
        job: submitit.Job[Any] = SlurmJob(folder=folder, job_id=job_id)
        if job.paths.result_pickle.exists():
            return None  # it ended; its run has a record or is to be rerun
        state = job.get_info(mode="force").get("State") or "UNKNOWN"
        return job if state.split()[0].upper() in ALIVE_STATES else None

    def _job_done(self, key: RunKey, job: submitit.Job[Any]) -> bool:
        if self.cluster == "local" and key in self._reattached:
            # Not our child process: submitit cannot poll it, but its pid tells.
            info = read_job_info(self._jobs[key][0].run_dir) or {}
            return job.paths.result_pickle.exists() or not _local_job_alive(
                info, self._jobs[key][0].run_dir
            )
        return job.done()

    def _finish(self, plan: RunPlan) -> None:
        _, job = self._jobs.pop(plan.key)
        self._reattached.discard(plan.key)
        result: dict[str, Any] | None = None
        error = None
        if job.paths.result_pickle.exists() or self.cluster == "slurm":
            try:
                result = job.result()
            except Exception as exc:  # the job failed or was cancelled outside harness
                error = f"{type(exc).__name__}: {exc}"[-4000:]
        else:
            error = "the job ended without a result"
        _gather_logs(job, RunDir(plan.run_dir).slurm_log)
        if result is not None and result.get("record"):
            await_record(plan.run_dir)
        update_job_info(
            plan.run_dir,
            ended_at=time.time(),
            state=job.state,
            returncode=None if result is None else result.get("returncode"),
            node=None if result is None else result.get("host"),
            error=error,
        )


def _local_job_alive(info: dict[str, Any], run_dir: Path) -> bool:
    pid = int(info["job_id"])
    owner = {"host": info.get("host"), "pid": pid, "pid_start": info.get("pid_start")}
    return claim_is_live(owner, RunDir(run_dir).executor)


def _gather_logs(job: submitit.Job[Any], target: Path, limit: int = 1_000_000) -> None:
    """Copy the job's Slurm stdout and stderr into the run directory."""
    parts = []
    for path in (job.paths.stdout, job.paths.stderr):
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        parts.append(f"==> {path} <==\n{text[-limit:]}")
    if parts:
        target.write_text("\n".join(parts))
