"""What the cluster executors (Slurm, Ray) share.

On the node, a job or task runs :func:`run_worker`: ``python -m harness.worker RUN_DIR`` as a
child process, exactly as the local executor does, with its output in the run's
``worker.log``. The worker writes ``record.json`` into the shared study directory; nothing
comes back through the engine but a small summary.

On the driver, each submitted run gets an ``executor.json`` in its directory naming the job
or task that runs it, so that a restarted driver can find a job that is still queued instead
of submitting the run twice; and the driver heartbeats the claims of the runs it has in flight,
so that a run queued for hours still counts as taken for drivers on other hosts (the worker
heartbeats the claim itself once it starts).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.executors._base import RunPlan
from harness.store import HEARTBEAT_INTERVAL_S, FileSystemStore, atomic_write_text
from harness.store.layout import RunDir
from harness.store.run_logs import open_log
from harness.worker.launch import worker_command

RECORD_VISIBLE_TIMEOUT_S = 60.0  # NFS attribute caches can hide a new file this long


@dataclass(frozen=True, kw_only=True)
class WorkerTask:
    """What a job or task needs to start one worker on a node (small and picklable).

    Attributes:
        run_dir: the run directory, absolute (on the shared filesystem).
        cwd: the driver's working directory; the worker runs there when the node has it, so
            relative paths in commands and the recorded git state match a local run.
        threads: torch threads for built-in runs.
        device: "auto", "cpu" or "cuda".
        wandb: the wandb settings handed to the worker.
    """

    run_dir: str
    cwd: str
    threads: int
    device: str
    wandb: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def for_plan(cls, plan: RunPlan, *, threads: int, device: str) -> WorkerTask:
        return cls(
            run_dir=str(plan.run_dir.resolve()),
            cwd=os.getcwd(),
            threads=threads,
            device=device,
            wandb=dict(plan.wandb),
        )


_current_worker: subprocess.Popen[bytes] | None = None


def run_worker(task: WorkerTask) -> dict[str, Any]:
    """On a node: run the worker for one run and wait for it.

    The worker is a child process that gets SIGTERM if this process dies (an engine killing
    its job or task must not leave a worker behind). Any exception here (a cancellation,
    submitit's requeue exit) stops the worker first.

    Returns:
        ``{"host", "returncode", "record"}``; ``record`` says whether ``record.json`` exists.
    """
    global _current_worker
    run_dir = Path(task.run_dir)
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(task.threads)
    env["MKL_NUM_THREADS"] = str(task.threads)
    argv = worker_command(run_dir, threads=task.threads, device=task.device, wandb=task.wandb)
    host = socket.gethostname()
    print(f"harness: worker for {run_dir} on {host}", flush=True)
    with os.fdopen(open_log(RunDir(run_dir).worker_log), "w") as log:
        _current_worker = subprocess.Popen(
            argv,
            cwd=task.cwd if os.path.isdir(task.cwd) else None,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent(os.getpid()),
        )
        try:
            returncode = _wait_interruptibly(_current_worker)
        except BaseException:
            stop_current_worker()
            raise
        finally:
            _current_worker = None
    record = RunDir(run_dir).record.exists()
    print(f"harness: worker exited with code {returncode}, record: {record}", flush=True)
    return {"host": host, "returncode": returncode, "record": record}


def _wait_interruptibly(process: subprocess.Popen[bytes]) -> int:
    """``process.wait()`` in short slices: Ray cancels a task by raising KeyboardInterrupt in
    its thread, which only happens between Python bytecodes, never inside one long wait."""
    while True:
        try:
            return process.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            continue


def stop_current_worker(timeout: float = 15.0) -> None:
    """Terminate this process's worker, if any; it exits without a record (run unfinished)."""
    process = _current_worker
    if process is None or process.poll() is not None:
        return
    process.terminate()  # the worker forwards it to an external command
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _die_with_parent(parent: int) -> Any:
    """A ``preexec_fn`` asking Linux to SIGTERM the child when ``parent`` dies (no-op elsewhere)."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved before fork, not after
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


# -- driver side --------------------------------------------------------------------------


def study_store(plan: RunPlan) -> FileSystemStore:
    """The store of the study a plan belongs to."""
    store, _ = FileSystemStore.of_run_dir(plan.run_dir)
    return store


def write_job_info(run_dir: Path, info: dict[str, Any]) -> None:
    atomic_write_text(RunDir(run_dir).executor, json.dumps(info, indent=2, sort_keys=True))


def read_job_info(run_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(RunDir(run_dir).executor.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def update_job_info(run_dir: Path, **changes: Any) -> None:
    write_job_info(run_dir, {**(read_job_info(run_dir) or {}), **changes})


def driver_identity() -> dict[str, Any]:
    return {"driver_host": socket.gethostname(), "driver_pid": os.getpid()}


class ClaimHeartbeat:
    """Touches the claims of in-flight runs every ``HEARTBEAT_INTERVAL_S`` (call ``beat`` often).

    A run waiting in a Slurm queue or for Ray resources has no worker yet; without this its
    claim would look abandoned to a driver on another host after ``STALE_AFTER_S``.
    """

    def __init__(self) -> None:
        self._last = 0.0

    def beat(self, plans: Iterable[RunPlan]) -> None:
        if time.monotonic() - self._last < HEARTBEAT_INTERVAL_S:
            return
        self._last = time.monotonic()
        for plan in plans:
            study_store(plan).heartbeat(plan.key)


def await_record(run_dir: Path, timeout: float = RECORD_VISIBLE_TIMEOUT_S) -> bool:
    """Wait until a record the worker wrote on another host is visible here.

    On NFS a file created elsewhere can stay invisible while the directory's attributes are
    cached; listing the directory revalidates them.
    """
    deadline = time.monotonic() + timeout
    record = RunDir(run_dir).record
    while True:
        with contextlib.suppress(OSError):
            if record.name in os.listdir(run_dir):
                return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.5)


def wait_for_local_workers(plans: Iterable[RunPlan], timeout: float = 20.0) -> None:
    """Wait until no worker on this host still holds one of these runs' claims."""
    deadline = time.monotonic() + timeout
    pending = list(plans)
    while pending and time.monotonic() < deadline:
        pending = [plan for plan in pending if _held_by_local_worker(plan)]
        if pending:
            time.sleep(0.1)


def _held_by_local_worker(plan: RunPlan) -> bool:
    claim = study_store(plan).live_claim(plan.key)
    return (
        claim is not None
        and claim.get("role") == "worker"
        and claim.get("host") == socket.gethostname()
    )


def output_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
