"""Run one planned run in this process and leave its record.

``python -m harness.worker RUN_DIR``.

The runner (or a Slurm job, or a Ray task) starts one worker per run. The worker reads the
run's ``config.json``, takes over its claim, trains (built-in) or executes the external
command, and writes ``record.json`` atomically at the end — done, failed or diverged. Whatever
kills it before that leaves no record, so the run counts as unfinished and is rerun.

Whatever goes wrong inside the worker ends in a record (a command that cannot start, metrics
that cannot be read, a time limit reached): only a run the worker cannot call its own is left
without one. The worker acts only while the run's claim carries its token: one that finds the
claim taken over (it was stopped, and another runner started the run again) runs nothing,
stops its command and writes no record (exit code 3).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import math
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.errors import RunDiverged
from harness.limits import RunLimits, describe_duration
from harness.processes import RunningClock
from harness.store import (
    HEARTBEAT_INTERVAL_S,
    FileSystemStore,
    RunConfigFile,
    RunKey,
    claim_owner,
)
from harness.store.layout import RunDir
from harness.store.metrics_file import MetricsLog, describe_skipped, read_metrics_checked
from harness.store.records import (
    RunRecord,
    final_metrics,
    first_non_finite,
    non_numeric_last_reports,
)
from harness.study.command_config import CommandConfig, parse_command_config
from harness.worker.command import (
    ONE_METRIC_TWO_SOURCES,
    CommandResult,
    CommandWatch,
    run_command,
)
from harness.worker.provenance import code_directory, git_state
from harness.worker.wandb_sink import WandbSink

ERROR_OUTPUT_LINES = 10
# The exit code of a worker that found its run's claim to be another process's.
EXIT_NOT_OURS = 3
# A record's error keeps at most this much text (an exception may carry a whole output).
ERROR_CHARS = 8000
LOST_CLAIM = "the run's claim was taken over by another process"
# How a failed record says the command ended well but never reported the study's metric: the
# runner reads it (missed_the_study_metric) to stop a study whose metric is misspelt.
MISSING_METRIC = "the command exited 0 but never reported the study metric"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.worker")
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
    if record is None:
        return EXIT_NOT_OURS
    return 0 if record.status != "failed" else 1


def execute(
    run_dir: Path,
    *,
    threads: int = 0,
    device: str = "auto",
    wandb_settings: dict[str, Any] | None = None,
) -> RunRecord | None:
    """Run the run planned in ``run_dir`` and store its record.

    Returns:
        The record; None when the run's claim is another process's (nothing was recorded).
    """
    entered = time.time()
    run_dir = Path(run_dir)
    paths = RunDir(run_dir)
    planned = RunConfigFile.from_dict(json.loads(paths.config.read_text()))
    store, key = FileSystemStore.of_run_dir(run_dir)
    me = claim_owner("worker")
    token = store.hand_over_claim(key, me)
    if token is None:
        print(
            f"harness worker: {key} is held by another process or already recorded; "
            "leaving it alone",
            file=sys.stderr,
        )
        return None
    lost: list[str] = []

    def still_ours() -> str | None:
        if store.claim_held(key, token, me["token"]):
            return None
        lost.append(LOST_CLAIM)
        return LOST_CLAIM

    stop_heartbeat = _start_heartbeat(store, key, token)
    for stale in paths.attempt_files:  # leftovers of an earlier attempt
        stale.unlink(missing_ok=True)

    started = time.time()
    status, error, diverged_step, tail = "done", None, None, None
    warnings: list[str] = []
    try:
        command = _command_config(planned)
        settings_error: Exception | None = None
    except Exception as exc:  # a config the study reader never saw: the run records it below
        command, settings_error = None, exc
    provenance = _provenance(
        device if planned.kind == "builtin" else os.environ.get("CUDA_VISIBLE_DEVICES") or "cpu",
        code_dir=code_directory(
            command.cwd if command is not None else None, study_source=_source(store)
        ),
        run_dir=run_dir,
    )
    timings = _startup_timing(entered)
    script_logs_wandb = command is not None and command.logs_to_wandb
    wandb_started = time.perf_counter()
    wandb = WandbSink(
        # a script that logs to wandb itself gets the only wandb run of this harness run
        {} if script_logs_wandb else (wandb_settings or {}),
        study=planned.study,
        variant=key.variant,
        seed=key.seed,
        config=planned.config,
        run_dir=run_dir,
        config_hash=planned.config_hash,
    )
    timings["wandb_s"] = time.perf_counter() - wandb_started
    result: CommandResult | None = None
    log = MetricsLog(paths.metrics, forward=wandb.log)
    try:
        if settings_error is not None:
            raise settings_error
        limits = command.limits if command is not None else RunLimits.of_config(planned.config)
        with log:
            if command is not None:
                forward = wandb.log if wandb.run is not None else None
                command_started = time.perf_counter()
                result = run_command(
                    planned,
                    command,
                    run_dir,
                    log.write_rows,
                    drop_metrics=log.drop_metrics,
                    wandb_settings=wandb_settings,
                    forward=forward,
                    watch=CommandWatch(
                        timeout_s=limits.timeout_s,
                        started=lambda pgid, start: _note_command(
                            store, key, token, me["token"], pgid, start
                        ),
                        still_ours=still_ours,
                    ),
                )
                timings["command_s"] = time.perf_counter() - command_started
                tail = result.output_tail
                warnings += result.warnings
                if result.step_axis != "step":  # what the report's curve axes say
                    provenance["step_axis"] = result.step_axis
                if result.metric_sources:  # which declared source each metric came from
                    provenance["metric_sources"] = result.metric_sources
                if result.stopped is not None:
                    status, error = "failed", result.stopped
                elif result.returncode != 0:
                    status, error = "failed", f"command exited with code {result.returncode}"
                elif result.source_error is not None:
                    status, error = "failed", result.source_error
            else:
                with _time_limit(limits.timeout_s):
                    provenance["device"] = _run_builtin(
                        planned, run_dir, log, threads, device, timings=timings
                    )
    except RunDiverged as diverged:
        status, error, diverged_step = "diverged", str(diverged), diverged.step
    except _TimedOut as timed_out:
        status, error = "failed", str(timed_out)
    except Exception as exc:
        status, error = "failed", f"{type(exc).__name__}: {exc}"
        tail = traceback.format_exc()[-4000:]
    finally:
        finish_started = time.perf_counter()
        wandb.finish(failed=status == "failed")
        timings["wandb_s"] += time.perf_counter() - finish_started

    if lost:  # the command was stopped: the run is another process's now
        stop_heartbeat()
        print(f"harness worker: {key}: {LOST_CLAIM}; no record written", file=sys.stderr)
        return None

    finals: dict[str, float] = {}
    metrics_bytes: int | None = None
    try:  # however bad the reported values, the run ends in a record
        finals, bad, unreadable, notes, metrics_bytes = _final_values(result, log, run_dir)
        warnings += notes
        if status == "done" and unreadable is not None:
            status, error = "failed", unreadable
        if status == "done" and bad is not None:
            step, metric, value = bad
            status, diverged_step = "diverged", step
            error = f"{metric} became {value} at step {step}"
            if math.isfinite(value):
                error += " (too large for statistics: counted as diverged)"
        study_metric = _study_metric(store)
        if status == "done" and result is not None and study_metric and study_metric not in finals:
            status, error = "failed", missing_metric_message(study_metric, finals, result)
    except Exception as exc:
        status, error = "failed", f"its metrics could not be read: {type(exc).__name__}: {exc}"
    ended = time.time()
    timings["other_s"] = max(0.0, ended - started - sum(timings.values()) + timings["startup_s"])
    record = RunRecord(
        study=planned.study,
        variant=key.variant,
        seed=key.seed,
        kind=planned.kind,  # type: ignore[arg-type]
        config_hash=planned.config_hash,
        status=status,  # type: ignore[arg-type]
        final_metrics=finals,
        provenance=provenance,
        started_at=_iso(started),
        ended_at=_iso(ended),
        wall_time_s=round(ended - started, 3),
        error=error if error is None or len(error) <= ERROR_CHARS else error[:ERROR_CHARS] + " ...",
        diverged_step=diverged_step,
        output_tail=tail,
        warnings=warnings,
        timings={name: round(value, 4) for name, value in timings.items()},
        metrics_bytes=metrics_bytes,
    )
    written = store.write_record_if_held(record, token=token, worker=me["token"])
    stop_heartbeat()
    if not written:
        print(f"harness worker: {key}: {LOST_CLAIM}; no record written", file=sys.stderr)
        return None
    store.release(key, token)
    return record


def _final_values(
    result: CommandResult | None, log: MetricsLog, run_dir: Path
) -> tuple[dict[str, float], tuple[int | None, str, float] | None, str | None, list[str], int]:
    """The final metrics of a run, its first unusable value, why its metrics could not be
    read at all (None: they could), warnings about what was left out, and how many bytes of
    ``metrics.jsonl`` they were read from (the record's ``metrics_bytes``).

    Read once, here, after the command's process group has ended: the record counts these
    bytes and no reader of the finished run reads further."""
    if result is not None and result.sources_declared:  # every row went through the log
        return final_metrics([log.latest]), log.non_finite, None, [], log.size
    path = RunDir(run_dir).metrics
    read = read_metrics_checked(path)
    if read.error is not None:
        return {}, None, read.error, [], 0
    warnings = non_numeric_last_reports(read.rows)
    unreadable = None
    if read.skipped:
        message = describe_skipped(path, read.skipped)
        if read.rows:
            warnings.insert(0, message)
        else:
            unreadable = message
    return final_metrics(read.rows), first_non_finite(read.rows), unreadable, warnings, read.size


def _command_config(planned: RunConfigFile) -> CommandConfig | None:
    """A command run's settings, read once from its planned config; None for a built-in run."""
    if planned.kind != "command":
        return None
    return parse_command_config(planned.config, where="config", other_keys=True)


class _TimedOut(Exception):
    """A built-in run reached its time limit."""


# How often a built-in run's time limit is looked at.
TIME_LIMIT_TICK_S = 1.0


@contextlib.contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`_TimedOut` in the training loop once it has run ``seconds`` (a timer
    signal every :data:`TIME_LIMIT_TICK_S`: the loop is Python, so it stops at the next
    step). Time the worker spends stopped (SIGSTOP, Ctrl-Z) is not counted
    (:class:`~harness.processes.RunningClock`). Only in the main thread."""
    if seconds is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    clock = RunningClock(tick_s=TIME_LIMIT_TICK_S)

    def handler(signum: int, frame: object) -> None:
        if clock.running_s() >= seconds:
            signal.setitimer(signal.ITIMER_REAL, 0)
            raise _TimedOut(f"timed out after {describe_duration(seconds)}")

    previous = signal.signal(signal.SIGALRM, handler)
    with clock:
        signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT_TICK_S, TIME_LIMIT_TICK_S)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


def _note_command(
    store: FileSystemStore, key: RunKey, token: str, worker: str, pgid: int, start: int | None
) -> None:
    """Name the command's process group in the claim (the scheduler ends it if we die)."""
    with contextlib.suppress(OSError):
        store.note_claim_command(key, token, worker, pgid=pgid, start=start)


def _run_builtin(
    planned: RunConfigFile,
    run_dir: Path,
    log: MetricsLog,
    threads: int,
    device: str,
    *,
    timings: dict[str, float] | None = None,
) -> str:
    import torch

    from harness.schema import from_mapping
    from harness.training.config import RunConfig
    from harness.training.device import resolve_auto_device
    from harness.training.loop import train  # the entry point, with its timings

    if threads > 0:
        torch.set_num_threads(threads)
    device = resolve_auto_device(device)
    config = from_mapping(RunConfig, planned.config)
    with RunDir(run_dir).output.open("w") as output:
        output.write(f"built-in trainer on {device}, {torch.get_num_threads()} threads\n")
    train(config, seed=planned.seed, run_dir=run_dir, log=log, device=device, timings=timings)
    return device


def missing_metric_message(metric: str, reported: dict[str, float], result: CommandResult) -> str:
    """Why a command that exited 0 is a failed run: the study metric never arrived."""
    looked = "; ".join(tally.describe() for tally in result.sources) or "no source"
    found = ", ".join(sorted(reported)[:20]) if reported else "nothing"
    lines = (result.output_tail or "").splitlines()[-ERROR_OUTPUT_LINES:]
    output = "\n".join(f"  | {line}" for line in lines) if lines else "  (no output)"
    hint = (
        ' Declare where it comes from in a metrics table, e.g. [base.metrics] stdout = "auto".'
        if _used_default_source(result)
        else ""
    )
    return (
        f"{MISSING_METRIC} '{metric}'. Looked at: "
        f"{looked}. Reported: {found}.{hint} Last lines of output:\n{output}"
    )


def missed_the_study_metric(record: RunRecord) -> bool:
    """Whether a run failed only because the study metric never arrived (its command exited 0).

    Args:
        record: a finished run's record.

    Returns:
        True for a failed record whose reason is :func:`missing_metric_message`'s.
    """
    return record.status == "failed" and (record.error or "").startswith(MISSING_METRIC)


def reported_one_metric_twice(record: RunRecord) -> bool:
    """Whether a run failed because two of its sources reported one metric (neither "auto").

    Args:
        record: a finished run's record.

    Returns:
        True for a failed record whose reason is the collector's
        (:data:`harness.worker.command.ONE_METRIC_TWO_SOURCES`).
    """
    return record.status == "failed" and (record.error or "").startswith(ONE_METRIC_TWO_SOURCES)


def _used_default_source(result: CommandResult) -> bool:
    """Whether the run used the default source (no metrics table)."""
    return not result.sources_declared


def _study_metric(store: FileSystemStore) -> str | None:
    try:
        meta = store.read_study_meta()
    except (OSError, ValueError):
        return None
    return meta.metric if meta is not None else None


def _start_heartbeat(store: FileSystemStore, key: RunKey, token: str) -> Callable[[], None]:
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_INTERVAL_S):
            with contextlib.suppress(OSError):  # a missed beat is no reason to lose the run
                store.heartbeat(key, token)

    threading.Thread(target=beat, daemon=True).start()
    return stop.set


def _source(store: FileSystemStore) -> str | None:
    """The study file the run's study was read from, if its description names one."""
    try:
        meta = store.read_study_meta()
    except Exception:  # an unreadable description must not cost the run
        return None
    return meta.source if meta is not None else None


def _provenance(device: str, *, code_dir: Path, run_dir: Path) -> dict[str, Any]:
    """Host, versions, device and the git state of ``code_dir``'s repository (a dirty tree's
    diff saved in ``run_dir``)."""
    import platform
    import socket

    from harness import __version__

    info: dict[str, Any] = {
        "host": socket.gethostname(),
        "python": platform.python_version(),
        "harness": __version__,
        "device": device,
        **git_state(code_dir, save_diff_to=RunDir(run_dir).git_diff),
    }
    try:  # the installed version, without paying for importing torch in command runs
        info["torch"] = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        info["torch"] = None
    return info


def _startup_timing(entered: float) -> dict[str, float]:
    """``{"startup_s": ...}``: from the runner handing the run over (``HARNESS_SUBMITTED_AT``,
    set by the local executor) to this worker starting it; 0 when unknown."""
    try:
        submitted = float(os.environ.get("HARNESS_SUBMITTED_AT", ""))
    except ValueError:
        return {"startup_s": 0.0}
    return {"startup_s": max(0.0, entered - submitted)}


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).isoformat(timespec="seconds")
