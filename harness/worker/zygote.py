"""A warm worker: imports torch and harness once, then forks one child per run.

The zygote is started by :class:`harness.executors.pool.WorkerPool` through
:func:`harness.worker.launch.zygote_command`. It imports what every worker imports (the worker;
torch and the trainer when a built-in run comes, wandb when a run asks for it) without running
a single torch op, so no thread pool exists when it forks: each child sets its own torch
threads, exactly as a fresh ``python -m harness.worker RUN_DIR`` process does, and its results
are the same bit for bit.

The protocol is JSON lines. Requests come on stdin::

    {"run_dir": ..., "argv": [...worker arguments...], "env": {...}, "cwd": ..., "log": ...}

Replies go to the pipe that was stdout when the zygote started (stdout itself then points at
stderr, so a stray print cannot corrupt the protocol)::

    {"ready": true}                      once the imports are done
    {"started": RUN_DIR, "pid": PID}     a child runs the run
    {"ended": RUN_DIR, "pid": PID, "code": CODE}

A child is the worker of one run: its own stdout/stderr (``worker.log``), the environment the
runner gave it, Ctrl-C and SIGTERM as a fresh process has them, and it ends with
``os._exit`` so that nothing of the zygote's stack runs in it. The zygote ignores Ctrl-C (the
runner stops the runs) and exits when stdin closes, or when a reply finds the runner gone
(silently: a BrokenPipeError is no news to anyone); running children are left to finish and
write their records, as workers started one by one would be.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import selectors
import signal
import sys
import traceback
from pathlib import Path
from typing import Any


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    replies = Replies(os.dup(1))
    os.dup2(2, 1)  # a stray print goes to stderr, never into the protocol
    preload()
    replies.send({"ready": True})
    children: dict[int, tuple[str, int]] = {}  # pid -> (run_dir, pidfd)
    selector = selectors.DefaultSelector()
    selector.register(0, selectors.EVENT_READ, None)
    pending = b""
    open_input = True
    while open_input and not replies.gone:
        for key, _ in selector.select():
            if key.data is None:  # requests, or EOF: the runner is gone or closed the pool
                chunk = os.read(0, 1 << 16)
                if not chunk:
                    open_input = False
                    break
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    request = json.loads(line)
                    warm_up(request)
                    pid = fork_worker(request, replies)
                    pidfd = os.pidfd_open(pid)
                    children[pid] = (request["run_dir"], pidfd)
                    selector.register(pidfd, selectors.EVENT_READ, pid)
                    replies.send({"started": request["run_dir"], "pid": pid})
            else:  # a child ended
                pid = key.data
                run_dir, pidfd = children.pop(pid)
                selector.unregister(pidfd)
                os.close(pidfd)
                _, status = os.waitpid(pid, 0)
                replies.send({"ended": run_dir, "pid": pid, "code": _exit_code(status)})
    return 0


def preload() -> None:
    """Import what every worker imports, running nothing."""
    import harness.worker.execute  # noqa: F401


def preload_trainer() -> None:
    """Import the trainer, for built-in runs only (a study of commands never pays for torch),
    running nothing: no torch op, no CUDA, so no thread pool exists when the zygote forks."""
    import torch
    import torch._dynamo  # noqa: F401 - AdamW imports it on first use: 2-3 s on a small CPU

    import harness.training.loop  # noqa: F401


def warm_up(request: dict[str, Any]) -> None:
    """Before forking a run, build in the zygote what every later child may reuse: wandb's
    import when the run logs to wandb, the built-in run's validation set and language tables
    (numpy only; cached by content in :mod:`harness.training.data`). A failure here is left
    for the child to meet and record."""
    try:
        if request.get("wandb"):
            start_wandb_service()
        from harness.store import RunConfigFile
        from harness.store.layout import RunDir

        planned = RunConfigFile.from_dict(
            json.loads(RunDir(Path(request["run_dir"])).config.read_text())
        )
        if planned.kind == "builtin":
            preload_trainer()
            from harness.schema import from_mapping
            from harness.training.config import RunConfig
            from harness.training.data import load_data

            config = from_mapping(RunConfig, planned.config)
            load_data(config.data, config.model.block_size)
    except Exception:  # the child meets it again and records it
        pass


def start_wandb_service() -> None:
    """Start one wandb service (``wandb-core``) that every child's wandb run connects to, as
    wandb's own forked processes do through ``WANDB_SERVICE``: a child then pays a wandb run's
    start and finish, not a service's start-up and shut-down (about a second each on 2 cores).
    It also imports what a wandb run imports when it starts. Nothing else: no connection, so
    no thread, is opened in the zygote. Where this wandb has no such service, each child starts
    its own as before. The service is harness's alone: a command run's own process never gets
    it (:func:`harness.worker.wandb_source.without_wandb_internals`)."""
    if os.environ.get("WANDB_SERVICE"):
        return
    try:
        import wandb
        from wandb.sdk.lib.service import service_process

        settings = wandb.Settings()
        if settings._noop:  # mode "disabled": nothing to serve
            return
        _WANDB_SERVICE.append(service_process.start(settings))
        _WANDB_SERVICE[-1].token.save_to_env()
        # what every wandb.init imports once its run is ready (wandb's launch package: about
        # 0.4 s of each child's start on 2 cores); an import only, no thread. Another wandb
        # version may not have it: the children then import whatever theirs needs.
        with contextlib.suppress(ImportError):
            import wandb.sdk.launch.inputs.internal
    except Exception:  # an older or newer wandb: the children start their own services
        os.environ.pop("WANDB_SERVICE", None)


_WANDB_SERVICE: list[Any] = []  # the wandb service this zygote started, if any


def fork_worker(request: dict[str, Any], replies: Replies) -> int:
    """Fork the child that runs one run; returns its pid (in the zygote)."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        replies.close()
        code = _run_child(request)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except KeyboardInterrupt:
        code = 128 + signal.SIGINT
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            atexit._run_exitfuncs()  # what a fresh interpreter runs at exit (wandb teardown)
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _run_child(request: dict[str, Any]) -> int:
    """In the child: become a fresh worker process for the run, then run it."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    from harness.store.run_logs import open_log

    log = open_log(Path(request["log"]))  # never through a link: it would truncate its target
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    service = os.environ.get("WANDB_SERVICE")
    os.environ.clear()
    os.environ.update(request["env"])
    if service and request.get("wandb"):
        os.environ["WANDB_SERVICE"] = service  # the zygote's wandb service (see above)
    os.chdir(request["cwd"])
    sys.argv = ["harness.worker", *request["argv"]]
    import numpy as np

    np.random.seed()  # a fresh process draws its own global state
    from harness.worker.execute import main

    return main(request["argv"])


def _exit_code(status: int) -> int:
    """The child's exit code, or minus the signal that killed it (as ``Popen.returncode``)."""
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


class Replies:
    """The pipe the runner reads replies from. The runner may be gone (killed): its end of
    the pipe is closed, and a reply would raise BrokenPipeError. Then replies stop, and the
    zygote ends as when its input closes (its children run on and write their records);
    nothing is printed, since nobody is there to read it but the runner's terminal.

    Args:
        fd: the pipe's write end (the zygote's own; closed by :meth:`close`).
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.gone = False

    def send(self, message: dict[str, Any]) -> None:
        """Write one reply (a JSON line); nothing once the runner is gone."""
        data = (json.dumps(message) + "\n").encode()
        while data and not self.gone:
            try:
                data = data[os.write(self.fd, data) :]
            except OSError:  # EPIPE: the runner is gone (SIGPIPE is ignored in Python)
                self.close()

    def close(self) -> None:
        """Close the pipe (a forked child has no use for it)."""
        if not self.gone:
            self.gone = True
            with contextlib.suppress(OSError):
                os.close(self.fd)


if __name__ == "__main__":
    raise SystemExit(main())
