"""Run a study's external command and collect its metrics from the sources it declares.

The command's output (stdout and stderr together) goes to the run's ``output.log`` through a
pipe, so that the ``stdout`` patterns of its ``metrics`` table see every line as it comes; a
``log`` file is followed while the command runs; ``file`` results and a script's own wandb run
are read when it has ended. Every row any source yields goes to the worker's metrics log
(``metrics.jsonl``). Without a ``metrics`` table the command writes ``metrics.jsonl`` itself,
as it always could.
"""

from __future__ import annotations

import os
import select
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.run.metric_sources import (
    LineParser,
    MetricSourceError,
    Row,
    TextStream,
    read_results_file,
)
from harness.run.wandb_source import read_wandb_run, wandb_env, wandb_run_id
from harness.store.records import MetricsTail
from harness.study.metrics import MetricsConfig, parse_metrics

OUTPUT_TAIL_LINES = 60
READ_SIZE = 1 << 16
POLL_INTERVAL_S = 0.5
DRAIN_S = 5.0
DEFAULT_SOURCE = "$HARNESS_RUN_DIR/metrics.jsonl (no metrics table: the command writes it)"


@dataclass(kw_only=True)
class SourceTally:
    """What one metrics source gave: rows, the metric names in them, or why it gave nothing."""

    name: str
    rows: int = 0
    metrics: set[str] = field(default_factory=set)
    problem: str | None = None

    def add(self, rows: list[Row]) -> list[Row]:
        self.rows += len(rows)
        self.metrics.update(*rows)  # their keys, in one call: a parsed output may be long
        self.metrics.discard("step")
        return rows

    def describe(self) -> str:
        if self.problem:
            return f"{self.name}: {self.problem}"
        found = ", ".join(sorted(self.metrics)[:12]) if self.metrics else "no metric"
        return f"{self.name}: {self.rows} row(s) ({found})"


@dataclass(frozen=True, kw_only=True)
class CommandResult:
    """How a command run ended.

    Attributes:
        returncode: the command's exit status (127: it could not be started).
        output_tail: its last lines of output.
        sources: what each metrics source gave, for messages.
        source_error: the first declared source that could not be read, naming its key.
        sources_declared: the run had a ``metrics`` table: every row of its ``metrics.jsonl``
            came through the worker's log (else the command wrote the file itself).
    """

    returncode: int
    output_tail: str
    sources: tuple[SourceTally, ...] = ()
    source_error: str | None = None
    sources_declared: bool = False


def run_command(
    planned: dict[str, Any],
    run_dir: Path,
    log: Callable[[list[Row]], None],
    *,
    wandb_settings: dict[str, Any] | None = None,
    forward: Callable[[Row], None] | None = None,
) -> CommandResult:
    """Run the command of ``planned`` (a ``config.json``) and log the metrics it reports.

    Args:
        planned: the run's ``config.json``.
        run_dir: the run directory.
        log: takes the rows the declared sources yield, to ``metrics.jsonl``.
        wandb_settings: the study's resolved wandb settings (mode, project, entity).
        forward: without a ``metrics`` table, takes the rows the command appends to
            ``metrics.jsonl`` itself (harness's own wandb run).

    Returns:
        The exit status, output tail and what each source gave.
    """
    config = planned["config"]
    run_dir = run_dir.resolve()
    values = placeholder_values(planned, run_dir)
    metrics = (
        parse_metrics(config["metrics"], where="metrics", params=config.get("params"))
        if "metrics" in config
        else None
    )
    cwd = Path(config.get("cwd") or os.getcwd())
    env = command_env(planned, run_dir)
    if metrics is not None and metrics.wandb:
        settings = wandb_settings or {}
        env.update(
            wandb_env(
                study=planned["study"],
                variant=planned["variant"],
                seed=planned["seed"],
                run_dir=run_dir,
                run_id=_run_id(planned),  # the same for every attempt: a rerun resumes
                mode=settings.get("mode", "offline"),
                project=settings.get("project"),
                entity=settings.get("entity"),
            )
        )
        env.update(config.get("env", {}))  # the study's own env table still wins
    collector = _Collector(metrics, values, cwd, run_dir, log, wandb_id=_run_id(planned))
    output_path = run_dir / "output.log"
    with output_path.open("wb") as output:
        try:
            process = subprocess.Popen(
                _argv(config, planned, run_dir),
                shell=bool(config.get("shell", False)),
                cwd=config.get("cwd") or None,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        except (FileNotFoundError, PermissionError) as error:
            output.write(f"harness: cannot execute command: {error}\n".encode())
            return CommandResult(returncode=127, output_tail=str(error))
        _forward_termination(process)
        tail = MetricsTail(run_dir / "metrics.jsonl") if forward and metrics is None else None
        returncode = _pump(process, output, collector, tail, forward)
    collector.finish(returncode == 0)
    lines = output_path.read_bytes()[-200_000:].decode(errors="replace").splitlines()
    return CommandResult(
        returncode=returncode,
        output_tail="\n".join(lines[-OUTPUT_TAIL_LINES:]),
        sources=tuple(collector.tallies),
        source_error=collector.error,
        sources_declared=metrics is not None,
    )


def placeholder_values(planned: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """``{seed}``, ``{run_dir}``, ``{variant}`` and the ``params`` of a run."""
    return {
        **planned["config"].get("params", {}),
        "seed": planned["seed"],
        "run_dir": str(run_dir),
        "variant": planned["variant"],
    }


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
    except (ValueError, IndexError, AttributeError, KeyError):
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


class _Collector:
    """The declared sources of one run, fed while the command runs and read when it ends."""

    def __init__(
        self,
        metrics: MetricsConfig | None,
        values: dict[str, Any],
        cwd: Path,
        run_dir: Path,
        log: Callable[[list[Row]], None],
        *,
        wandb_id: str,
    ) -> None:
        self.metrics = metrics
        self.wandb_id = wandb_id
        self.run_dir = run_dir
        self._log = log
        self.last_step = 0
        self.error: str | None = None
        self.tallies: list[SourceTally] = []
        self.stdout: tuple[TextStream, SourceTally] | None = None
        self.logs: list[tuple[_FileFollower, SourceTally]] = []
        self.files: list[tuple[Path, SourceTally]] = []
        if metrics is None:
            self.tallies.append(SourceTally(name=DEFAULT_SOURCE))
            return
        patterns = metrics.line_patterns
        if metrics.parses_output and patterns is not None:
            tally = self._tally(f"stdout ({metrics.patterns_shown})")
            self.stdout = (TextStream(LineParser(patterns)), tally)
        for template in metrics.log:
            path = _resolve(template, values, cwd)
            _remove_stale(path, run_dir)
            parser = TextStream(LineParser(patterns or "auto"))
            tally = self._tally(f"log {path} ({metrics.patterns_shown})")
            self.logs.append((_FileFollower(path, parser), tally))
        for template in metrics.file:
            path = _resolve(template, values, cwd)
            _remove_stale(path, run_dir)
            self.files.append((path, self._tally(f"file {path}")))
        self.wandb = self._tally(f"wandb run in {run_dir / 'wandb'}") if metrics.wandb else None

    def _tally(self, name: str) -> SourceTally:
        self.tallies.append(SourceTally(name=name))
        return self.tallies[-1]

    def emit(self, rows: list[Row], tally: SourceTally) -> None:
        if rows:
            self._log(tally.add(rows))
            last = rows[-1].get("step")
            if isinstance(last, int):
                self.last_step = max(self.last_step, last)

    def output(self, chunk: bytes) -> None:
        if self.stdout is not None:
            self.emit(self.stdout[0].feed(chunk), self.stdout[1])

    def poll(self) -> None:
        for follower, tally in self.logs:
            self.emit(follower.poll(), tally)

    def finish(self, succeeded: bool) -> None:
        if self.metrics is None:
            return
        if self.stdout is not None:
            self.emit(self.stdout[0].finish(), self.stdout[1])
        for follower, tally in self.logs:
            self.emit(follower.poll() + follower.stream.finish(), tally)
            if not follower.path.exists():
                self._problem(tally, "metrics.log", f"{follower.path} was not written")
        for path, tally in self.files:
            try:
                self.emit(read_results_file(path, last_step=self.last_step), tally)
            except MetricSourceError as error:
                self._problem(tally, "metrics.file", str(error))
        if self.wandb is not None:
            if not succeeded and not (self.run_dir / "wandb").exists():
                return
            try:
                run = read_wandb_run(self.run_dir, self.wandb_id)
                self.wandb.name = f"wandb run {run.path}"
                self.emit(run.rows, self.wandb)
            except MetricSourceError as error:
                self._problem(self.wandb, "metrics.wandb", str(error))

    def _problem(self, tally: SourceTally, key: str, message: str) -> None:
        tally.problem = message
        if self.error is None:
            self.error = f"{key}: {message}"


class _FileFollower:
    """The lines a file gains, fed to a stream; starts over when the file is truncated."""

    def __init__(self, path: Path, stream: TextStream) -> None:
        self.path = path
        self.stream = stream
        self.offset = 0

    def poll(self) -> list[Row]:
        try:
            with self.path.open("rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                if size < self.offset:  # rewritten from the start
                    self.offset = 0
                handle.seek(self.offset)
                chunk = handle.read()
        except OSError:
            return []
        self.offset += len(chunk)
        return self.stream.feed(chunk)


def _pump(
    process: subprocess.Popen[bytes],
    output: Any,
    collector: _Collector,
    tail: MetricsTail | None,
    forward: Callable[[Row], None] | None,
) -> int:
    """Copy the command's output to ``output`` and the collector until it ends; its exit code.

    Output still buffered by a child the command left running is read until the pipe is
    empty, then the pump stops: a daemon holding the pipe open does not hold up the run.
    """
    assert process.stdout is not None
    fd = process.stdout.fileno()
    next_poll = time.monotonic() + POLL_INTERVAL_S
    drain_until = None  # once the command has exited: read what is left, for a while
    while True:
        ready, _, _ = select.select([fd], [], [], 0 if drain_until else POLL_INTERVAL_S)
        if ready:
            chunk = os.read(fd, READ_SIZE)
            if not chunk:
                break
            output.write(chunk)
            collector.output(chunk)
            if drain_until is not None and time.monotonic() > drain_until:
                break  # a child still writing: the run is over all the same
        elif drain_until is not None:
            break
        elif process.poll() is not None:
            drain_until = time.monotonic() + DRAIN_S
        if time.monotonic() >= next_poll:
            next_poll = time.monotonic() + POLL_INTERVAL_S
            collector.poll()
            if tail is not None and forward is not None:
                for row in tail.new_rows():
                    forward(row)
    returncode = process.wait()
    process.stdout.close()
    if tail is not None and forward is not None:
        for row in tail.new_rows():
            forward(row)
    return returncode


def _argv(config: dict[str, Any], planned: dict[str, Any], run_dir: Path) -> str | list[str]:
    params = config.get("params", {})
    if config.get("shell", False):
        values = {
            **params,
            "seed": planned["seed"],
            "run_dir": shlex.quote(str(run_dir)),
            "variant": shlex.quote(planned["variant"]),
        }
        return fill_placeholders(config["command"], values)
    return command_argv(
        config["command"],
        seed=planned["seed"],
        run_dir=run_dir,
        variant=planned["variant"],
        params=params,
    )


def _resolve(template: str, values: dict[str, Any], cwd: Path) -> Path:
    path = Path(fill_placeholders(template, values)).expanduser()
    return path if path.is_absolute() else cwd / path


def _remove_stale(path: Path, run_dir: Path) -> None:
    """Delete a declared source an interrupted attempt left in the run directory (which is
    harness's alone); a path outside it belongs to the user and is left alone."""
    if path.resolve().is_relative_to(run_dir):
        path.unlink(missing_ok=True)


def _run_id(planned: dict[str, Any]) -> str:
    return wandb_run_id(
        study=planned["study"],
        variant=planned["variant"],
        seed=planned["seed"],
        config_hash=planned.get("config_hash", ""),
    )


def _forward_termination(process: subprocess.Popen[bytes]) -> None:
    """On SIGTERM, stop the command too, then exit without a record (the run stays unfinished)."""
    import signal

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
