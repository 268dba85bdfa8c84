"""Runs each run in its own worker process on this machine.

CPU threads are split between workers; on a GPU machine each worker gets one visible GPU
(``CUDA_VISIBLE_DEVICES``), round robin when there are more workers than GPUs. Workers share
the runner's process group, so Ctrl-C or a kill of the group stops them with it. Workers are
forked from a warm zygote (:mod:`harness.executors.pool`) unless ``HARNESS_WORKER_POOL=0``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections import deque

from harness.executors._base import Executor, RunPlan
from harness.executors.pool import WorkerPool
from harness.store.layout import RunDir
from harness.store.run_logs import open_log
from harness.worker.launch import worker_args, worker_command


def visible_gpus() -> list[str]:
    """GPU ids this process may use: ``CUDA_VISIBLE_DEVICES``, else what nvidia-smi lists."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [g for g in env.split(",") if g.strip() and g.strip() != "-1"]
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.strip()]


def default_jobs(gpus: list[str]) -> int:
    """One worker per GPU; on CPU one per core (two 1-thread workers beat one 2-thread one)."""
    return len(gpus) if gpus else max(1, min(os.cpu_count() or 1, 8))


POOL_ENV = "HARNESS_WORKER_POOL"  # "0": a fresh process per run, no warm worker


class LocalExecutor(Executor):
    """Worker processes on this machine.

    By default the workers are forked by a warm zygote (:class:`~harness.executors.pool.
    WorkerPool`) that paid the imports once; each run is still its own process, in the
    runner's process group. ``HARNESS_WORKER_POOL=0`` (or ``pool=False``) starts
    ``python -m harness.worker`` afresh for every run instead.

    Args:
        jobs: workers at once; default one per GPU, else one per CPU core (at most 8).
        threads: torch threads per worker; default the CPU cores divided among the workers.
        device: "auto", "cpu" or "cuda", handed to built-in runs.
        pool: fork the workers from a warm zygote; default: unless ``HARNESS_WORKER_POOL=0``.
    """

    def __init__(
        self,
        jobs: int | None = None,
        threads: int | None = None,
        device: str = "auto",
        pool: bool | None = None,
    ) -> None:
        self.gpus = visible_gpus() if device != "cpu" else []
        self.jobs = jobs or default_jobs(self.gpus)
        self.threads = threads or max(1, (os.cpu_count() or 1) // self.jobs)
        self.device = device
        self.use_pool = pool if pool is not None else os.environ.get(POOL_ENV, "1") != "0"
        self._pool: WorkerPool | None = None
        # run_dir -> (plan, its process when started fresh, its GPU)
        self._running: dict[str, tuple[RunPlan, subprocess.Popen[bytes] | None, str | None]] = {}
        self._free_gpus: deque[str] = deque(self.gpus)
        self._done: list[RunPlan] = []

    @property
    def capacity(self) -> int:
        return self.jobs

    def submit(self, plan: RunPlan) -> None:
        env = dict(os.environ)
        env.update(self._thread_env())
        env["HARNESS_SUBMITTED_AT"] = repr(time.time())  # the worker's start-up time, measured
        gpu = None
        if self.gpus:
            gpu = (
                self._free_gpus.popleft()
                if self._free_gpus
                else self.gpus[len(self._running) % len(self.gpus)]
            )
            env["CUDA_VISIBLE_DEVICES"] = gpu
        plan.run_dir.mkdir(parents=True, exist_ok=True)
        pool = self._warm_pool()
        if pool is not None:
            pool.start(
                plan.run_dir,
                argv=self._worker_args(plan),
                env=env,
                wants_wandb=plan.wandb.get("mode", "disabled") != "disabled",
            )
            self._running[str(plan.run_dir)] = (plan, None, gpu)
        else:
            self._running[str(plan.run_dir)] = (plan, self._spawn(plan, env), gpu)

    def wait(self, timeout: float) -> list[RunPlan]:
        deadline = time.monotonic() + timeout
        while True:
            for run_dir in self._ended():
                plan, _, gpu = self._running.pop(run_dir)
                if gpu is not None and gpu not in self._free_gpus:
                    self._free_gpus.append(gpu)
                self._done.append(plan)
            if self._done or time.monotonic() >= deadline:
                done, self._done = self._done, []
                return done
            time.sleep(min(0.02, max(0.0, deadline - time.monotonic())))

    def cancel(self, plan: RunPlan) -> None:
        running = self._running.get(str(plan.run_dir))
        if running is None:
            return
        _, process, _ = running
        if process is not None:
            if process.poll() is None:
                process.terminate()
        elif self._pool is not None:
            self._pool.signal(str(plan.run_dir), signal.SIGTERM)

    def cancel_all(self) -> None:
        for plan, _, _ in list(self._running.values()):
            self.cancel(plan)
        deadline = time.monotonic() + 15
        while self._running and time.monotonic() < deadline:
            for run_dir in self._ended():
                self._running.pop(run_dir, None)
            time.sleep(0.02)
        for run_dir, (_, process, _) in list(self._running.items()):  # still there: kill
            if process is not None:
                process.kill()
                process.wait()
            elif self._pool is not None:
                self._pool.signal(run_dir, signal.SIGKILL)
        self._running.clear()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    # -- starting and watching workers -----------------------------------------------------
    def _thread_env(self) -> dict[str, str]:
        return {"OMP_NUM_THREADS": str(self.threads), "MKL_NUM_THREADS": str(self.threads)}

    def _worker_args(self, plan: RunPlan) -> list[str]:
        return worker_args(plan.run_dir, threads=self.threads, device=self.device, wandb=plan.wandb)

    def _warm_pool(self) -> WorkerPool | None:
        """The zygote, started on first use; None when the pool is off or has died."""
        if not self.use_pool:
            return None
        if self._pool is None:
            self._pool = WorkerPool({**os.environ, **self._thread_env()})
        return self._pool if self._pool.alive else None

    def _spawn(self, plan: RunPlan, env: dict[str, str]) -> subprocess.Popen[bytes]:
        argv = worker_command(
            plan.run_dir, threads=self.threads, device=self.device, wandb=plan.wandb
        )
        with os.fdopen(open_log(RunDir(plan.run_dir).worker_log), "w") as log:
            return subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)

    def _ended(self) -> list[str]:
        """Run directories whose worker ended since the last call; runs the zygote lost (it
        died before starting them) are started afresh."""
        ended = [
            run_dir
            for run_dir, (_, process, _) in self._running.items()
            if process is not None and process.poll() is not None
        ]
        if self._pool is not None:
            events = self._pool.poll()
            ended += [run_dir for run_dir in events.ended if run_dir in self._running]
            for run_dir in events.lost:
                plan, _, gpu = self._running[run_dir]
                env = {**os.environ, **self._thread_env()}
                if gpu is not None:
                    env["CUDA_VISIBLE_DEVICES"] = gpu
                self._running[run_dir] = (plan, self._spawn(plan, env), gpu)
        return ended
