"""The runner's side of a warm worker: one zygote process that forks a worker per run.

Starting ``python -m harness.worker`` for every run pays the interpreter, torch and the
trainer's imports each time (about a second and a half on a 2-core machine, more than a short
run's training). :class:`WorkerPool` starts the zygote (:mod:`harness.worker.zygote`) once,
which imports all that and forks one child per run (the protocol is in its docstring). What the
store promises stays true, because each run is still its own process:

- a crashed or killed child leaves no record, its end is reported, and the run is rerun;
- one child's crash does not touch another, nor the zygote;
- ``kill -9`` of the runner closes the zygote's stdin: it exits, and the children finish and
  write their records; ``kill -9`` of the whole process group ends them all (they share it);
- Ctrl-C reaches the children as it reaches fresh workers (the zygote ignores it).

If the zygote cannot start, or dies, :meth:`WorkerPool.poll` hands back the runs it had not
started (``lost``), and the executor starts those as fresh processes.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from harness.processes import pid_alive, sigint_held_for_children
from harness.store.layout import RunDir
from harness.worker.launch import zygote_command


@dataclass(frozen=True, kw_only=True)
class PoolEvents:
    """What happened since the last :meth:`WorkerPool.poll`.

    Attributes:
        ended: run directories whose child ended (with or without a record).
        lost: run directories the zygote never started (it died first): start them elsewhere.
    """

    ended: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)


class WorkerPool:
    """A zygote process that forks one worker per run.

    Args:
        env: the zygote's environment (thread counts are read by the libraries at import).
    """

    def __init__(self, env: dict[str, str]) -> None:
        with sigint_held_for_children():
            self._process = subprocess.Popen(
                zygote_command(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
            )
        self._messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        stdout = self._process.stdout
        assert stdout is not None
        threading.Thread(target=self._read, args=(stdout,), daemon=True).start()
        self._requested: set[str] = set()  # sent, not started yet
        self._pids: dict[str, int] = {}  # started, not ended
        self._cancelled: set[str] = set()  # cancelled before it started
        self._alive = True

    @property
    def alive(self) -> bool:
        """Whether the zygote still takes runs."""
        return self._alive

    def start(
        self, run_dir: Path, *, argv: list[str], env: dict[str, str], wants_wandb: bool
    ) -> None:
        """Ask the zygote for a worker running ``argv`` (the worker's arguments) in ``env``,
        its output in the run's ``worker.log``."""
        request = {
            "run_dir": str(run_dir),
            "argv": argv,
            "env": env,
            "cwd": os.getcwd(),
            "log": str(RunDir(run_dir).worker_log),
            "wandb": wants_wandb,
        }
        self._requested.add(str(run_dir))
        try:
            stdin = self._process.stdin
            assert stdin is not None
            stdin.write((json.dumps(request) + "\n").encode())
            stdin.flush()
        except (BrokenPipeError, OSError):
            self._alive = False  # poll() hands the run back as lost

    def poll(self) -> PoolEvents:
        """The runs that ended, and the runs lost with the zygote, since the last call."""
        events = PoolEvents()
        while True:
            try:
                message = self._messages.get_nowait()
            except queue.Empty:
                break
            if message is None:  # the zygote is gone
                self._alive = False
            elif "started" in message:
                run_dir = message["started"]
                self._requested.discard(run_dir)
                self._pids[run_dir] = message["pid"]
                if run_dir in self._cancelled:
                    self._cancelled.discard(run_dir)
                    self.signal(run_dir, signal.SIGTERM)
            elif "ended" in message:
                self._pids.pop(message["ended"], None)
                events.ended.append(message["ended"])
        if not self._alive:
            # its children live on (orphans): watch them by pid until they are gone
            for run_dir, pid in list(self._pids.items()):
                if not pid_alive(pid):
                    del self._pids[run_dir]
                    events.ended.append(run_dir)
            for run_dir in sorted(self._requested):  # never started: a cancelled one has ended
                (events.ended if run_dir in self._cancelled else events.lost).append(run_dir)
            self._requested.clear()
            self._cancelled.clear()
        return events

    def signal(self, run_dir: str, signum: int) -> None:
        """Send ``signum`` to the run's worker; a run not started yet is stopped on start."""
        pid = self._pids.get(run_dir)
        if pid is None:
            if run_dir in self._requested:
                self._cancelled.add(run_dir)
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    @property
    def running(self) -> list[str]:
        """Run directories of the workers started and not ended, and of requests pending."""
        return [*self._pids, *self._requested]

    def close(self) -> None:
        """Close the zygote's input: it exits (running children, if any, finish on their own)."""
        try:
            if self._process.stdin is not None:
                self._process.stdin.close()
        except OSError:
            pass
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._alive = False

    def _read(self, stdout: IO[bytes]) -> None:
        for line in stdout:
            try:
                self._messages.put(json.loads(line))
            except json.JSONDecodeError:
                continue
        self._messages.put(None)
