"""Run a study's external command and collect its metrics from the sources it declares.

The command runs in a session (and so a process group) of its own, which harness ends when
the command exits (what it left running in the background is stopped before the run is
recorded), when its time limit is up, when the worker loses its claim, and on SIGTERM. Its
group is also named in the run's claim, so that the scheduler ends it when the worker dies
(``kill -9``) and a later take-over of the abandoned claim ends it too.

The command's output (stdout and stderr together) goes to the run's ``output.log`` through a
pipe, so that the ``stdout`` patterns of its ``metrics`` table see every line as it comes; a
``log`` file is followed while the command runs; ``file`` results and a script's own wandb run
are read when it has ended. Every row any source yields goes to the worker's metrics log
(``metrics.jsonl``). Without a ``metrics`` table the command writes ``metrics.jsonl`` itself,
as it always could.
"""

from __future__ import annotations

import contextlib
import os
import select
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.limits import RunLimits, describe_duration
from harness.processes import (
    TERMINATED_EXIT_CODE,
    RunningClock,
    end_process_group,
    process_start_time,
)
from harness.store import RunConfigFile
from harness.store.claims import RUN_DIR_VARIABLE
from harness.store.layout import RunDir
from harness.store.metrics_file import MetricsTail
from harness.store.run_logs import open_log
from harness.study.command_config import CommandConfig
from harness.study.env_table import UnsetReference, resolve_env
from harness.study.metrics import AUTO, MetricsConfig
from harness.study.shell_placeholders import UnsafePlaceholder, fill_shell_placeholders
from harness.worker.metric_sources import (
    LineParser,
    MetricSourceError,
    Row,
    TextStream,
    read_results_file,
)
from harness.worker.wandb_source import (
    read_finished_wandb_run,
    wandb_env,
    wandb_run_id,
    without_wandb_internals,
)

READ_SIZE = 1 << 16
POLL_INTERVAL_S = 0.5
# How often the exit of a command whose output has closed is looked for.
EXIT_POLL_S = 0.02
DRAIN_S = 5.0
# After SIGTERM at a time limit, the command's group gets this long before SIGKILL.
STOP_GRACE_S = 2.0
DEFAULT_SOURCE = "$HARNESS_RUN_DIR/metrics.jsonl (no metrics table: the command writes it)"
# How a run's error begins when two sources report one metric (neither of them "auto"): the
# runner reads it (harness.worker.execute.reported_one_metric_twice) to stop the study.
ONE_METRIC_TWO_SOURCES = "metrics: one metric from two sources:"


@dataclass(kw_only=True)
class SourceTally:
    """What one metrics source gave: rows, the metric names in them, or why it gave nothing.

    ``name`` says it for this run (paths resolved); ``declared`` as the study file writes it
    (``file '{run_dir}/results.json'``), the same for every run; ``auto``: its lines are read
    by "auto", which yields a metric to any other source reporting it.
    """

    name: str
    declared: str = ""
    auto: bool = False
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
        stopped: why harness ended the command before it exited ("timed out after 2h", or
            that the run's claim was lost); None when it exited by itself.
        step_axis: what the steps of its curves count: "step", or "log line" when every row
            came from printed lines none of which printed a step.
        warnings: what the sources gave with a doubt (a wandb run with no end-of-run
            record), or left out (what "auto" yielded to another source), for the record.
        metric_sources: each metric's source as the study file declares it
            (``{"eval_loss": "file '{run_dir}/results.json'"}``), for the run's provenance.
    """

    returncode: int
    output_tail: str
    sources: tuple[SourceTally, ...] = ()
    source_error: str | None = None
    sources_declared: bool = False
    stopped: str | None = None
    step_axis: str = "step"
    warnings: tuple[str, ...] = ()
    metric_sources: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class CommandWatch:
    """What the worker asks of a running command.

    Attributes:
        timeout_s: the run's time limit in seconds (None: none).
        started: told the command's process group id and its leader's start time once it
            runs (the worker names them in the claim).
        still_ours: asked every poll; a reason to stop (the claim was taken over) or None.
    """

    timeout_s: float | None = None
    started: Callable[[int, int | None], None] | None = None
    still_ours: Callable[[], str | None] | None = None


def run_command(
    planned: RunConfigFile,
    command: CommandConfig,
    run_dir: Path,
    log: Callable[[list[Row]], None],
    *,
    drop_metrics: Callable[[set[str]], None],
    wandb_settings: dict[str, Any] | None = None,
    forward: Callable[[Row], None] | None = None,
    watch: CommandWatch | None = None,
) -> CommandResult:
    """Run a run's command and log the metrics it reports.

    Args:
        planned: the run's planned config (study, variant, seed, config hash).
        command: its command's settings, read from ``planned.config``.
        run_dir: the run directory.
        log: takes the rows the declared sources yield, to ``metrics.jsonl``.
        drop_metrics: takes metrics out of the rows ``log`` took so far: those "auto" read
            and yields to a source read at the end (``MetricsLog.drop_metrics``).
        wandb_settings: the study's resolved wandb settings (mode, project, entity).
        forward: without a ``metrics`` table, takes the rows the command appends to
            ``metrics.jsonl`` itself (harness's own wandb run).
        watch: its time limit, and how the worker follows it (see :class:`CommandWatch`).

    Returns:
        The exit status, output tail and what each source gave.
    """
    run_dir = run_dir.resolve()
    values = placeholder_values(planned, command, run_dir)
    metrics = command.metrics
    cwd = Path(command.cwd or os.getcwd())
    try:
        env = command_env(planned, command, run_dir)
    except UnsetReference as error:  # the command never runs without its secret
        RunDir(run_dir).output.write_text(f"harness: {error}\n")
        return CommandResult(returncode=127, output_tail=str(error), stopped=str(error))
    if metrics is not None and metrics.wandb:
        settings = wandb_settings or {}
        env.update(
            wandb_env(
                study=planned.study,
                variant=planned.variant,
                seed=planned.seed,
                run_dir=run_dir,
                run_id=_run_id(planned),  # the same for every attempt: a rerun resumes
                mode=settings.get("mode", "offline"),
                project=settings.get("project"),
                entity=settings.get("entity"),
                job_type=settings.get("job_type") or "study",
            )
        )
        env.update(resolve_env(command.env, os.environ))  # the study's own env table still wins
    collector = _Collector(
        metrics, values, cwd, run_dir, log, drop_metrics=drop_metrics, wandb_id=_run_id(planned)
    )
    output_path = RunDir(run_dir).output
    watch = watch or CommandWatch()
    with os.fdopen(open_log(output_path), "wb") as output:
        try:
            process = subprocess.Popen(
                _argv(command, planned, run_dir),
                shell=command.shell,
                cwd=command.cwd,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: ended with the run, children too
            )
        except UnsafePlaceholder as error:  # a search trial's command validation never saw
            output.write(f"harness: command.command: {error}\n".encode())
            return CommandResult(returncode=127, output_tail=str(error), stopped=str(error))
        except (FileNotFoundError, PermissionError, NotADirectoryError) as error:
            output.write(f"harness: cannot execute command: {error}\n".encode())
            # said in the record instead of "exited with code 127" (the command never ran)
            reason = (
                f"the run's cwd '{command.cwd}' does not exist (or is no directory)"
                if command.cwd and not cwd.is_dir()
                else f"cannot execute the command: {error}"
            )
            return CommandResult(returncode=127, output_tail=str(error), stopped=reason)
        restore_termination = _forward_termination(process)
        restore_pauses = _forward_pauses(process)
        try:
            if watch.started is not None:
                watch.started(process.pid, process_start_time(process.pid))
            tail = MetricsTail(RunDir(run_dir).metrics) if forward and metrics is None else None
            returncode, stopped = _pump(process, output, collector, tail, forward, watch)
        except BaseException:  # Ctrl-C, an error: the command's group must not outlive us
            end_process_group(process.pid, grace_s=STOP_GRACE_S)
            raise
        finally:
            restore_pauses()
            restore_termination()
    collector.finish(returncode == 0 and stopped is None)
    return CommandResult(
        returncode=returncode,
        output_tail=output_tail(output_path, command.limits),
        sources=tuple(collector.tallies),
        source_error=collector.error,
        sources_declared=metrics is not None,
        stopped=stopped,
        step_axis=collector.step_axis(),
        warnings=tuple(collector.warnings),
        metric_sources=collector.metric_sources(),
    )


def output_tail(path: Path, limits: RunLimits) -> str:
    """The last lines of a run's output for its record, as much as ``limits`` keep: at most
    ``output_tail_lines`` lines and ``output_tail_bytes`` bytes, each line cut to
    ``output_line_bytes``."""
    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            handle.seek(max(0, size - limits.output_tail_bytes))
            data = handle.read(limits.output_tail_bytes)
    except OSError:
        return ""
    lines = data.decode(errors="replace").splitlines()[-limits.output_tail_lines :]
    longest = limits.output_line_bytes
    cut = [line if len(line) <= longest else f"{line[:longest]} [... cut]" for line in lines]
    shown = "\n".join(cut)
    return f"[... {size - len(data)} earlier bytes]\n{shown}" if size > len(data) else shown


def placeholder_values(
    planned: RunConfigFile, command: CommandConfig, run_dir: Path
) -> dict[str, Any]:
    """``{seed}``, ``{run_dir}``, ``{variant}`` and the ``params`` of a run."""
    return {
        **command.params,
        "seed": planned.seed,
        "run_dir": str(run_dir),
        "variant": planned.variant,
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


def command_env(planned: RunConfigFile, command: CommandConfig, run_dir: Path) -> dict[str, str]:
    """The environment of a command run: ours, the study's ``env`` table (its ``${VAR}``
    references resolved from ours, here and only here: their values are stored nowhere), and
    HARNESS_* vars.

    Ours without harness's wandb service (:func:`without_wandb_internals`): the warm worker's
    shared service, or the one harness's own wandb run started, is harness's, never the
    command's (a script's wandb run joined to it is written out only when harness exits).

    Raises:
        UnsetReference: the ``env`` table refers to a variable that is not set.
    """
    env = without_wandb_internals(os.environ)
    table = resolve_env(command.env, os.environ)
    # `python` in a study's command means the interpreter running harness (its venv), even
    # when that venv is not activated.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(table)
    env.update(
        {
            "HARNESS_SEED": str(planned.seed),
            RUN_DIR_VARIABLE: str(run_dir.resolve()),  # also what proves its processes ours
            "HARNESS_VARIANT": planned.variant,
            "HARNESS_STUDY": planned.study,
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
        drop_metrics: Callable[[set[str]], None],
        wandb_id: str,
    ) -> None:
        self.metrics = metrics
        self._drop_metrics = drop_metrics
        self.wandb_id = wandb_id
        self.run_dir = run_dir
        self._log = log
        self.last_step = 0
        self.error: str | None = None
        self.warnings: list[str] = []
        self.tallies: list[SourceTally] = []
        self.stdout: tuple[TextStream, SourceTally] | None = None
        self.logs: list[tuple[_FileFollower, SourceTally]] = []
        self.files: list[tuple[Path, SourceTally]] = []
        if metrics is None:
            self.tallies.append(SourceTally(name=DEFAULT_SOURCE))
            return
        patterns = metrics.line_patterns
        auto = patterns == AUTO
        shown = metrics.patterns_shown
        if metrics.parses_output and patterns is not None:
            tally = self._tally(f"stdout ({shown})", "stdout (auto)" if auto else "stdout", auto)
            self.stdout = (TextStream(LineParser(patterns)), tally)
        for template in metrics.log:
            path = _resolve(template, values, cwd)
            _remove_stale(path, run_dir)
            parser = TextStream(LineParser(patterns or AUTO))
            declared = f"log '{template}'" + (" (auto)" if auto else "")
            tally = self._tally(f"log {path} ({shown})", declared, auto)
            self.logs.append((_FileFollower(path, parser), tally))
        for template in metrics.file:
            path = _resolve(template, values, cwd)
            _remove_stale(path, run_dir)
            self.files.append((path, self._tally(f"file {path}", f"file '{template}'")))
        wandb_dir = RunDir(run_dir).wandb
        self.wandb = self._tally(f"wandb run in {wandb_dir}", "wandb") if metrics.wandb else None

    def _tally(self, name: str, declared: str = "", auto: bool = False) -> SourceTally:
        self.tallies.append(SourceTally(name=name, declared=declared or name, auto=auto))
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
            for rows in follower.poll():
                self.emit(rows, tally)

    def finish(self, succeeded: bool) -> None:
        if self.metrics is None:
            return
        if self.stdout is not None:
            self.emit(self.stdout[0].finish(), self.stdout[1])
        for follower, tally in self.logs:
            for rows in follower.poll():
                self.emit(rows, tally)
            self.emit(follower.stream.finish(), tally)
            if not follower.path.exists():
                self._problem(tally, "metrics.log", f"{follower.path} was not written")
        ended: list[tuple[list[Row], SourceTally]] = []  # read now, emitted once settled
        last_step = self.last_step
        for path, tally in self.files:
            try:
                rows = read_results_file(path, last_step=last_step)
            except MetricSourceError as error:
                self._problem(tally, "metrics.file", str(error))
                continue
            ended.append((rows, tally))
            if rows and isinstance(step := rows[-1].get("step"), int):
                last_step = max(last_step, step)
        if self.wandb is not None and (succeeded or RunDir(self.run_dir).wandb.exists()):
            try:
                # a failed or stopped command's run may never get its end-of-run record
                run, unfinished = read_finished_wandb_run(
                    self.run_dir, self.wandb_id, **({} if succeeded else {"wait_s": 0.0})
                )
                self.wandb.name = f"wandb run {run.path}"
                ended.append((run.rows, self.wandb))
                if run.undecodable is not None and run.rows:
                    self.warnings.append(
                        "metrics.wandb: only the final values of wandb-summary.json were read, "
                        f"no curve: {run.undecodable}"
                    )
                if unfinished is not None and succeeded:
                    if run.rows:  # kept, with a doubt on the last values
                        self.warnings.append(f"metrics.wandb: {unfinished}")
                    else:
                        self._problem(self.wandb, "metrics.wandb", unfinished)
            except MetricSourceError as error:
                self._problem(self.wandb, "metrics.wandb", str(error))
        self._yield_auto_metrics(ended)
        for rows, tally in ended:
            self.emit(rows, tally)
        self._refuse_one_metric_from_two_sources()

    def _yield_auto_metrics(self, ended: list[tuple[list[Row], SourceTally]]) -> None:
        """Take out of what "auto" read every metric a source read at the end also reports:
        that source (a results file, the script's wandb run) holds what the script itself
        logged as metrics, where "auto" only found a number printed beside a name. What was
        left out is said in the run's warnings (docs/studies.md, "One source per metric").

        "auto" reads the output (or the logs) while the command runs, so every row written
        so far is one of its: the names go from each of them.
        """
        yielded: set[str] = set()
        for rows, tally in ended:
            reported = set().union(*rows) - {"step"}
            for line_tally in self.tallies:
                shared = line_tally.metrics & reported if line_tally.auto else set()
                if shared:
                    line_tally.metrics -= shared
                    yielded |= shared
                    one = len(shared) == 1
                    self.warnings.append(
                        f"metrics: {_names(shared)} from {tally.declared}; "
                        f"{line_tally.declared} printed {'it' if one else 'them'} too, and "
                        f"{'its' if one else 'their'} values were left out "
                        "(auto yields to every other source)"
                    )
        if yielded:
            try:
                self._drop_metrics(yielded)
            except OSError as error:
                if self.error is None:
                    where = RunDir(self.run_dir).metrics
                    self.error = f"metrics: {where} cannot be rewritten: {error}"

    def _refuse_one_metric_from_two_sources(self) -> None:
        """A metric two sources report, neither of them "auto" (or both), is an error naming
        both: its final value would be whichever came last and its curve a mix of the two
        (docs/studies.md). The runner stops the study on it."""
        for index, first in enumerate(self.tallies):
            for second in self.tallies[index + 1 :]:
                shared = first.metrics & second.metrics
                if shared and self.error is None:
                    self.error = (
                        f"{ONE_METRIC_TWO_SOURCES} {_names(shared)} "
                        f"{'is' if len(shared) == 1 else 'are'} reported both by "
                        f"{first.declared} and by {second.declared}; harness does not merge "
                        "them. Keep one source for each metric: drop a source, or rename the "
                        "metric in one (a regex group, a key of the results file)."
                    )

    def metric_sources(self) -> dict[str, str]:
        """Each metric the run reported, and its source as declared."""
        if self.metrics is None:
            return {}
        return {name: t.declared for t in self.tallies for name in sorted(t.metrics)}

    def step_axis(self) -> str:
        """What the run's steps count: "log line" when every row came from printed lines
        none of which printed a step, else "step"."""
        lines = [self.stdout] if self.stdout is not None else []
        lines += [(follower.stream, tally) for follower, tally in self.logs]
        rows = sum(tally.rows for tally in self.tallies)
        numbered = all(s.parser.numbered_only(tally.rows) for s, tally in lines if tally.rows)
        from_lines = sum(tally.rows for _, tally in lines)
        return "log line" if rows and from_lines == rows and numbered else "step"

    def _problem(self, tally: SourceTally, key: str, message: str) -> None:
        tally.problem = message
        if self.error is None:
            self.error = f"{key}: {message}"


def _names(names: set[str]) -> str:
    shown = sorted(names)
    listed = ", ".join(f"'{name}'" for name in shown[:5])
    return listed + (f" and {len(shown) - 5} more" if len(shown) > 5 else "")


class _FileFollower:
    """The lines a file gains, fed to a stream; starts over when the file is truncated."""

    def __init__(self, path: Path, stream: TextStream) -> None:
        self.path = path
        self.stream = stream
        self.offset = 0

    def poll(self) -> Iterator[list[Row]]:
        """The rows of the lines the file gained, a batch per read: a script may write
        millions of lines between two polls, and rows in small batches are parsed and written
        faster (and in less memory) than one list of them all."""
        try:
            handle = self.path.open("rb")
        except OSError:
            return
        with handle:
            try:
                size = os.fstat(handle.fileno()).st_size
                if size < self.offset:  # rewritten from the start
                    self.offset = 0
                handle.seek(self.offset)
                # up to the size seen now: a script writing faster than harness parses must
                # not keep the poll from returning to the pump
                while self.offset < size and (
                    chunk := handle.read(min(READ_SIZE, size - self.offset))
                ):
                    self.offset += len(chunk)
                    yield self.stream.feed(chunk)
            except OSError:
                return


def _pump(
    process: subprocess.Popen[bytes],
    output: Any,
    collector: _Collector,
    tail: MetricsTail | None,
    forward: Callable[[Row], None] | None,
    watch: CommandWatch,
) -> tuple[int, str | None]:
    """Copy the command's output to ``output`` and the collector until it ends.

    When the command exits, what it left running in its process group is ended, however its
    output ended (a background child that closed its output too keeps no pipe open to be
    noticed by): the run's metrics cannot change once it is recorded. Output still buffered
    is read until the pipe is empty, then the pump stops (a process that left the group and
    holds the pipe open does not hold up the run). At the time limit, or when ``watch`` says
    the run is no longer ours, the whole group is ended.

    The time limit counts the command's running time (:class:`RunningClock`): time this
    worker spent stopped (SIGSTOP, Ctrl-Z) is not counted, and a command found to have exited
    is never stopped for its time.

    Returns:
        The exit code, and why harness stopped the command (None: it exited by itself).
    """
    assert process.stdout is not None
    fd: int | None = process.stdout.fileno()  # None once the command's output has closed
    clock = RunningClock(tick_s=POLL_INTERVAL_S)
    next_poll = time.monotonic() + POLL_INTERVAL_S
    drain_until = None  # once the command has exited: read what is left, for a while
    stopped: str | None = None
    with clock:
        while True:
            if fd is not None:
                ready = select.select([fd], [], [], 0 if drain_until else POLL_INTERVAL_S)[0]
            else:
                ready = []
                if drain_until is None:  # its output closed: wait for its exit
                    time.sleep(EXIT_POLL_S)
            if ready:
                assert fd is not None
                chunk = os.read(fd, READ_SIZE)
                if chunk:
                    output.write(chunk)
                    collector.output(chunk)
                    if drain_until is not None and time.monotonic() > drain_until:
                        break  # a child still writing: the run is over all the same
                else:
                    fd = None
            if drain_until is not None:
                if not ready or fd is None:
                    break
            elif _has_exited(process):  # not yet reaped: its pid (the group's id) stays ours
                end_process_group(process.pid, grace_s=STOP_GRACE_S)  # its background children
                drain_until = time.monotonic() + DRAIN_S
            elif stopped is None:
                if watch.timeout_s is not None and clock.running_s() >= watch.timeout_s:
                    stopped = f"timed out after {describe_duration(watch.timeout_s)}"
                elif watch.still_ours is not None and time.monotonic() >= next_poll:
                    stopped = watch.still_ours()
                if stopped is not None:
                    output.write(f"\nharness: {stopped}; stopping the command\n".encode())
                    end_process_group(process.pid, grace_s=STOP_GRACE_S)
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
    return returncode, stopped


def _has_exited(process: subprocess.Popen[bytes]) -> bool:
    """Whether the command has exited, without reaping it: until it is reaped its pid, and so
    its process group's id, cannot be handed to another process."""
    if process.returncode is not None:
        return True
    try:
        found = os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:  # reaped already (by a signal handler's waitpid)
        return True
    return found is not None


def _argv(command: CommandConfig, planned: RunConfigFile, run_dir: Path) -> str | list[str]:
    if command.shell:
        return shell_command(command.command, placeholder_values(planned, command, run_dir))
    return command_argv(
        command.command,
        seed=planned.seed,
        run_dir=run_dir,
        variant=planned.variant,
        params=dict(command.params),
    )


def shell_command(command: str, values: dict[str, Any]) -> str:
    """A ``shell = true`` command line with every placeholder filled in as one word to the
    shell, never code it runs, whatever quoting surrounds it and whatever a study's ``params``
    (or a search trial's) hold (see :mod:`harness.study.shell_placeholders`).

    Raises:
        UnsafePlaceholder: a placeholder stands where no quoting is safe (validation refuses
            such a command first).
    """
    return fill_shell_placeholders(command, values)


def _resolve(template: str, values: dict[str, Any], cwd: Path) -> Path:
    path = Path(fill_placeholders(template, values)).expanduser()
    return path if path.is_absolute() else cwd / path


def _remove_stale(path: Path, run_dir: Path) -> None:
    """Delete a declared source an interrupted attempt left in the run directory (which is
    harness's alone); a path outside it belongs to the user and is left alone."""
    if path.resolve().is_relative_to(run_dir):
        path.unlink(missing_ok=True)


def _run_id(planned: RunConfigFile) -> str:
    return wandb_run_id(
        study=planned.study,
        variant=planned.variant,
        seed=planned.seed,
        config_hash=planned.config_hash,
    )


def _forward_termination(process: subprocess.Popen[bytes]) -> Callable[[], None]:
    """On SIGTERM, stop the command's whole process group, then exit without a record (the
    run stays unfinished). Returns what restores the previous handler.

    Only from the main thread (a signal handler cannot be set elsewhere); a worker is always
    its process's main thread.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: object) -> None:
        # Not process.wait(): the handler interrupts the main thread inside process.wait(),
        # which holds Popen's waitpid lock, so a nested wait could only time out.
        end_process_group(process.pid, grace_s=10.0)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(process.pid, os.WNOHANG)
        sys.exit(TERMINATED_EXIT_CODE)

    previous = signal.signal(signal.SIGTERM, handler)

    def restore() -> None:
        signal.signal(signal.SIGTERM, previous)

    return restore


def _forward_pauses(process: subprocess.Popen[bytes]) -> Callable[[], None]:
    """On Ctrl-Z (SIGTSTP), stop the command's process group with this worker, and continue
    it when the worker continues. The command runs in a session of its own, which the
    terminal's Ctrl-Z never reaches: without this it ran on while the study was paused, time
    its limit does not count. Returns what restores the previous handler.

    The worker stops itself with SIGSTOP, which no process group ignores (a SIGTSTP's stop is
    discarded in a group the terminal has orphaned). Only from the main thread.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: object) -> None:
        if process.returncode is None:  # not reaped: the group's id is still the command's
            with contextlib.suppress(OSError):
                os.killpg(process.pid, signal.SIGSTOP)
        os.kill(os.getpid(), signal.SIGSTOP)
        # continued (fg, SIGCONT): the command continues with us
        if process.returncode is None:
            with contextlib.suppress(OSError):
                os.killpg(process.pid, signal.SIGCONT)

    previous = signal.signal(signal.SIGTSTP, handler)

    def restore() -> None:
        signal.signal(signal.SIGTSTP, previous)

    return restore
