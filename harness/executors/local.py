"""Runs each run in its own worker process on this machine.

CPU threads are split between workers; on a GPU machine each worker gets one visible GPU
(``CUDA_VISIBLE_DEVICES``), round robin when there are more workers than GPUs. Workers share
the runner's process group, so Ctrl-C or a kill of the group stops them with it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections import deque

from harness.executors._base import Executor, RunPlan


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


class LocalExecutor(Executor):
    """Worker processes on this machine.

    Args:
        jobs: workers at once; default one per GPU, else one per CPU core (at most 8).
        threads: torch threads per worker; default the CPU cores divided among the workers.
        device: "auto", "cpu" or "cuda", handed to built-in runs.
    """

    def __init__(
        self, jobs: int | None = None, threads: int | None = None, device: str = "auto"
    ) -> None:
        self.gpus = visible_gpus() if device != "cpu" else []
        self.jobs = jobs or default_jobs(self.gpus)
        self.threads = threads or max(1, (os.cpu_count() or 1) // self.jobs)
        self.device = device
        self._running: dict[int, tuple[subprocess.Popen[bytes], RunPlan, str | None]] = {}
        self._free_gpus: deque[str] = deque(self.gpus)
        self._done: list[RunPlan] = []

    @property
    def capacity(self) -> int:
        return self.jobs

    def submit(self, plan: RunPlan) -> None:
        env = dict(os.environ)
        env["OMP_NUM_THREADS"] = str(self.threads)
        env["MKL_NUM_THREADS"] = str(self.threads)
        gpu = None
        if self.gpus:
            gpu = (
                self._free_gpus.popleft()
                if self._free_gpus
                else self.gpus[len(self._running) % len(self.gpus)]
            )
            env["CUDA_VISIBLE_DEVICES"] = gpu
        argv = [
            sys.executable,
            "-m",
            "harness.run.worker",
            str(plan.run_dir),
            "--threads",
            str(self.threads),
            "--device",
            self.device,
            "--wandb",
            json.dumps(plan.wandb),
        ]
        plan.run_dir.mkdir(parents=True, exist_ok=True)
        with (plan.run_dir / "worker.log").open("w") as log:
            process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        self._running[process.pid] = (process, plan, gpu)

    def wait(self, timeout: float) -> list[RunPlan]:
        deadline = time.monotonic() + timeout
        while True:
            for pid, (process, plan, gpu) in list(self._running.items()):
                if process.poll() is not None:
                    del self._running[pid]
                    if gpu is not None and gpu not in self._free_gpus:
                        self._free_gpus.append(gpu)
                    self._done.append(plan)
            if self._done or time.monotonic() >= deadline:
                done, self._done = self._done, []
                return done
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))

    def cancel(self, plan: RunPlan) -> None:
        for process, running, _ in self._running.values():
            if running.key == plan.key and process.poll() is None:
                process.terminate()

    def cancel_all(self) -> None:
        for process, _, _ in self._running.values():
            if process.poll() is None:
                process.terminate()
        for process, _, _ in self._running.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._running.clear()
