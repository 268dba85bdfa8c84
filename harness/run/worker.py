"""Run one planned run in this process and leave its record.

``python -m harness.run.worker RUN_DIR``.

The runner (or a Slurm job, or a Ray task) starts one worker per run. The worker reads the
run's ``config.json``, takes over its claim, trains (built-in) or executes the external
command, and writes ``record.json`` atomically at the end — done, failed or diverged. Whatever
kills it before that leaves no record, so the run counts as unfinished and is rerun.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.errors import RunDiverged
from harness.run.wandb_log import WandbSink
from harness.store import HEARTBEAT_INTERVAL_S, FileSystemStore, RunKey, claim_owner
from harness.store.records import (
    MetricsTail,
    RunRecord,
    final_metrics,
    first_non_finite,
    read_metrics,
)

OUTPUT_TAIL_LINES = 60


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.run.worker")
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: leave)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--wandb", default="{}", help="wandb settings as JSON")
    args = parser.parse_args(argv)
    record = execute(
        args.run_dir,
        threads=args.threads,
        device=args.device,
        wandb_settings=json.loads(args.wandb),
    )
    return 0 if record.status != "failed" else 1


def execute(
    run_dir: Path,
    *,
    threads: int = 0,
    device: str = "auto",
    wandb_settings: dict[str, Any] | None = None,
) -> RunRecord:
    """Run the run planned in ``run_dir`` and store its record. Returns the record."""
    run_dir = Path(run_dir)
    planned = json.loads((run_dir / "config.json").read_text())
    store, key = FileSystemStore.of_run_dir(run_dir)
    store.update_claim(key, claim_owner("worker"))
    stop_heartbeat = _start_heartbeat(store, key)
    for stale in ("metrics.jsonl", "output.log"):  # leftovers of an interrupted attempt
        (run_dir / stale).unlink(missing_ok=True)

    started = time.time()
    status, error, diverged_step, tail = "done", None, None, None
    provenance = _provenance(
        device if planned["kind"] == "builtin" else os.environ.get("CUDA_VISIBLE_DEVICES") or "cpu"
    )
    wandb = WandbSink(
        wandb_settings or {},
        study=planned["study"],
        variant=key.variant,
        seed=key.seed,
        config=planned["config"],
        run_dir=run_dir,
    )
    try:
        with MetricsLog(run_dir / "metrics.jsonl", forward=wandb.log) as log:
            if planned["kind"] == "command":
                forward = wandb.log if wandb.run is not None else None
                returncode, tail = _run_command(planned, run_dir, forward=forward)
                if returncode != 0:
                    status, error = "failed", f"command exited with code {returncode}"
            else:
                provenance["device"] = _run_builtin(planned, run_dir, log, threads, device)
    except RunDiverged as diverged:
        status, error, diverged_step = "diverged", str(diverged), diverged.step
    except Exception as exc:
        status, error = "failed", f"{type(exc).__name__}: {exc}"
        tail = traceback.format_exc()[-4000:]
    finally:
        wandb.finish(failed=status == "failed")

    rows = read_metrics(run_dir / "metrics.jsonl")
    if status == "done" and (bad := first_non_finite(rows)) is not None:
        step, metric, value = bad
        status, diverged_step = "diverged", step
        error = f"{metric} became {value} at step {step}"
    ended = time.time()
    record = RunRecord(
        study=planned["study"],
        variant=key.variant,
        seed=key.seed,
        kind=planned["kind"],
        config_hash=planned["config_hash"],
        status=status,  # type: ignore[arg-type]
        final_metrics=final_metrics(rows),
        provenance=provenance,
        started_at=_iso(started),
        ended_at=_iso(ended),
        wall_time_s=round(ended - started, 3),
        error=error,
        diverged_step=diverged_step,
        output_tail=tail,
    )
    store.write_record(record)
    stop_heartbeat()
    store.release(key)
    return record


class MetricsLog:
    """Appends metric rows to ``metrics.jsonl``, one flushed JSON line each, and forwards them."""

    def __init__(self, path: Path, forward: Callable[[dict[str, Any]], None] | None = None):
        self.path = path
        self.forward = forward
        self._handle: Any = None

    def __enter__(self) -> MetricsLog:
        self._handle = self.path.open("a")
        return self

    def __call__(self, row: dict[str, Any]) -> None:
        self._handle.write(json.dumps(row) + "\n")
        self._handle.flush()
        if self.forward is not None:
            self.forward(row)

    def __exit__(self, *exc: object) -> None:
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()


def _run_builtin(
    planned: dict[str, Any], run_dir: Path, log: MetricsLog, threads: int, device: str
) -> str:
    import torch

    from harness.schema import from_mapping
    from harness.training import train
    from harness.training.config import RunConfig

    if threads > 0:
        torch.set_num_threads(threads)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    config = from_mapping(RunConfig, planned["config"])
    with (run_dir / "output.log").open("w") as output:
        output.write(f"built-in trainer on {device}, {torch.get_num_threads()} threads\n")
    train(config, seed=planned["seed"], run_dir=run_dir, log=log, device=device)
    return device


def command_argv(
    command: str, *, seed: int, run_dir: Path, variant: str, params: dict[str, Any] | None = None
) -> list[str]:
    """Split ``command`` like a shell would and fill in the placeholders in each argument.

    Placeholders: ``{seed}``, ``{run_dir}``, ``{variant}``, and ``{name}`` for every key of
    the run's ``params`` table.
    """
    values = {**(params or {}), "seed": seed, "run_dir": str(run_dir), "variant": variant}
    return [fill_placeholders(arg, values) for arg in shlex.split(command)]


def fill_placeholders(text: str, values: dict[str, Any]) -> str:
    """``str.format_map`` that leaves unknown ``{...}`` untouched (JSON in a command, say)."""

    class Keep(dict):  # type: ignore[type-arg]
        def __missing__(self, name: str) -> str:
            return "{" + name + "}"

    try:
        return text.format_map(Keep(values))
    except (ValueError, IndexError):
        return text


def command_env(planned: dict[str, Any], run_dir: Path) -> dict[str, str]:
    """The environment of a command run: ours, the study's ``env`` table, and HARNESS_* vars."""
    env = dict(os.environ)
    # `python` in a study's command means the interpreter running harness (its venv), even
    # when that venv is not activated.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(planned["config"].get("env", {}))
    env.update(
        {
            "HARNESS_SEED": str(planned["seed"]),
            "HARNESS_RUN_DIR": str(run_dir.resolve()),
            "HARNESS_VARIANT": planned["variant"],
            "HARNESS_STUDY": planned["study"],
        }
    )
    return env


def _run_command(
    planned: dict[str, Any],
    run_dir: Path,
    forward: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[int, str]:
    config = planned["config"]
    run_dir = run_dir.resolve()
    params = config.get("params", {})
    if config.get("shell", False):
        values = {
            **params,
            "seed": planned["seed"],
            "run_dir": shlex.quote(str(run_dir)),
            "variant": shlex.quote(planned["variant"]),
        }
        argv: str | list[str] = fill_placeholders(config["command"], values)
    else:
        argv = command_argv(
            config["command"],
            seed=planned["seed"],
            run_dir=run_dir,
            variant=planned["variant"],
            params=params,
        )
    output_path = run_dir / "output.log"
    with output_path.open("w") as output:
        try:
            process = subprocess.Popen(
                argv,
                shell=bool(config.get("shell", False)),
                cwd=config.get("cwd") or None,
                env=command_env(planned, run_dir),
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=False,
            )
        except FileNotFoundError as error:
            output.write(f"harness: cannot execute command: {error}\n")
            return 127, str(error)
        _forward_termination(process)
        returncode = _wait_forwarding(process, run_dir / "metrics.jsonl", forward)
    lines = output_path.read_text(errors="replace").splitlines()
    return returncode, "\n".join(lines[-OUTPUT_TAIL_LINES:])


def _wait_forwarding(
    process: subprocess.Popen[bytes],
    metrics: Path,
    forward: Callable[[dict[str, Any]], None] | None,
) -> int:
    """Wait for the command, forwarding (to wandb) the metric rows it appends as they come."""
    if forward is None:
        return process.wait()
    tail = MetricsTail(metrics)
    while True:
        try:
            returncode = process.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            returncode = None
        for row in tail.new_rows():
            forward(row)
        if returncode is not None:
            return returncode


def _forward_termination(process: subprocess.Popen[bytes]) -> None:
    """On SIGTERM, stop the command too, then exit without a record (the run stays unfinished)."""

    def handler(signum: int, frame: object) -> None:
        process.terminate()
        # Not process.wait(): the handler interrupts the main thread inside process.wait(),
        # which holds Popen's waitpid lock, so a nested wait could only time out.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if os.waitpid(process.pid, os.WNOHANG)[0]:
                    break
            except ChildProcessError:  # already reaped
                break
            time.sleep(0.02)
        else:
            process.kill()
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def _start_heartbeat(store: FileSystemStore, key: RunKey) -> Callable[[], None]:
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_INTERVAL_S):
            store.heartbeat(key)

    threading.Thread(target=beat, daemon=True).start()
    return stop.set


def _provenance(device: str) -> dict[str, Any]:
    import platform
    import socket

    from harness import __version__
    from harness.run.provenance import git_state

    info: dict[str, Any] = {
        "host": socket.gethostname(),
        "python": platform.python_version(),
        "harness": __version__,
        "device": device,
        **git_state(Path.cwd()),
    }
    try:  # the installed version, without paying for importing torch in command runs
        info["torch"] = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        info["torch"] = None
    return info


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).isoformat(timespec="seconds")


if __name__ == "__main__":
    raise SystemExit(main())
