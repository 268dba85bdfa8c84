"""How a worker process is started: the one place that knows the worker's command line.

Executors start a worker for a run either as a fresh process (:func:`worker_command`) or as a
child forked by the warm zygote (:func:`zygote_command` starts the zygote; each request to it
carries :func:`worker_args`). This module imports nothing heavy, so an executor that uses it
pays for neither torch nor the worker's own imports.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

# Ignores Ctrl-C before anything else is imported: the runner stops the runs on Ctrl-C, and a
# KeyboardInterrupt in the zygote's imports would only print a traceback. The zygote is started
# with SIGINT blocked (harness.processes.sigint_held_for_children), so a Ctrl-C during Python's
# own start-up waits, and is dropped here when SIGINT is ignored; then it is unblocked, so that
# the commands of the runs the zygote forks get Ctrl-C as usual.
IGNORE_CTRL_C = (
    "import signal; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT]); "
)
_ZYGOTE_PROGRAM = (
    IGNORE_CTRL_C + "import runpy; "
    "runpy.run_module('harness.worker.zygote', run_name='__main__', alter_sys=True)"
)


def worker_args(
    run_dir: Path | str, *, threads: int, device: str, wandb: dict[str, Any]
) -> list[str]:
    """The worker's own arguments for one run (what follows the program in its argv).

    Args:
        run_dir: the run's directory, holding its planned config.
        threads: torch CPU threads for a built-in run (0 leaves torch's default).
        device: "auto", "cpu" or "cuda".
        wandb: the wandb settings handed to the worker.

    Returns:
        The arguments, as :func:`harness.worker.execute.main` parses them.
    """
    return [
        str(run_dir),
        "--threads",
        str(threads),
        "--device",
        device,
        "--wandb",
        json.dumps(wandb),
    ]


def worker_command(
    run_dir: Path | str, *, threads: int, device: str, wandb: dict[str, Any]
) -> list[str]:
    """The argv of a fresh worker process for one run (same arguments as :func:`worker_args`).

    Returns:
        ``[python, "-m", "harness.worker", *worker_args(...)]``, with this interpreter.
    """
    args = worker_args(run_dir, threads=threads, device=device, wandb=wandb)
    return [sys.executable, "-m", "harness.worker", *args]


def zygote_command() -> list[str]:
    """The argv of a warm zygote (:mod:`harness.worker.zygote`), which forks one worker per run.

    Returns:
        ``[python, "-c", PROGRAM]``; the program ignores Ctrl-C before importing anything.
    """
    return [sys.executable, "-c", _ZYGOTE_PROGRAM]
