"""Weights & Biases logging: one wandb run per harness run, offline unless configured.

The harness store, not wandb, is the source of truth: a wandb failure is reported in the run's
output and never fails the run. The conventions a wandb user expects:

- project: ``[wandb] project`` in the study file, else ``$WANDB_PROJECT``, else the study name;
  entity: ``[wandb] entity``, else ``$WANDB_ENTITY`` (:func:`resolve_project`,
  :func:`resolve_entity`, applied once where the settings are made).
- group: the study; name: ``<variant>-s<seed>``; job type: the command that ran it
  (:data:`JOB_TYPES`); tags: the study and the variant.
- id: stable per run (:func:`harness.worker.wandb_source.wandb_run_id`), with ``resume="allow"``,
  so a run killed and run again continues its wandb run instead of adding a second one.
"""

from __future__ import annotations

import netrc
import os
import queue
import re
import sys
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.worker.metric_sources import MetricSourceError
from harness.worker.wandb_source import MAX_TAG_LENGTH, read_run_dir, wandb_run_id

# The wandb job type of a run: the harness command that started it.
JOB_TYPES = ("study", "tune", "bisect", "regress", "coordcheck")
# Metric rows go to wandb in bursts at most this often (see WandbSink._send).
SEND_INTERVAL_S = 1.0


def resolve_project(configured: str | None, *, study: str) -> str:
    """The wandb project: the study file's ``[wandb] project``, else ``$WANDB_PROJECT``, else
    the study name."""
    return configured or os.environ.get("WANDB_PROJECT") or study


def resolve_entity(configured: str | None) -> str | None:
    """The wandb entity: the study file's ``[wandb] entity``, else ``$WANDB_ENTITY``, else
    wandb's default (None)."""
    return configured or os.environ.get("WANDB_ENTITY") or None


def resolve_mode(requested: str = "auto", *, enabled: bool = True) -> str:
    """The wandb mode to use: ``WANDB_MODE`` wins; "auto" is online only with an API key."""
    if not enabled:
        return "disabled"
    env_mode = os.environ.get("WANDB_MODE")
    if env_mode:
        return "disabled" if env_mode in ("disabled", "dryrun-disabled") else env_mode
    if requested != "auto":
        return requested
    return "online" if _api_key_configured() else "offline"


def _api_key_configured() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


class WandbSink:
    """Streams a run's metric rows to wandb; a no-op when the mode is "disabled".

    Args:
        settings: ``{"mode", "project", "entity", "job_type"}``; mode as resolved by
            :func:`resolve_mode`, project and entity by :func:`resolve_project` and
            :func:`resolve_entity` (applied here too when missing), job type one of
            :data:`JOB_TYPES` ("study" when missing).
        study: the study name (the wandb group, a tag, and the last-resort project).
        variant: the variant name (a tag).
        seed: the run's seed; the wandb run is named ``<variant>-s<seed>``.
        config: the resolved config, stored as the wandb config.
        run_dir: wandb's files go under it.
        config_hash: the config's hash, part of the stable run id.
        name: the wandb run's name, when not ``<variant>-s<seed>`` (a commit that
            ``harness bisect`` tested stands for all its seeds).
    """

    def __init__(
        self,
        settings: dict[str, Any],
        *,
        study: str,
        variant: str,
        seed: int,
        config: dict[str, Any],
        run_dir: Path,
        config_hash: str = "",
        name: str | None = None,
    ) -> None:
        self.run: Any = None
        self.rows_sent = 0  # rows wandb's log call took
        mode = settings.get("mode", "disabled")
        if mode == "disabled":
            return

        def start() -> Any:
            import wandb

            return wandb.init(
                project=resolve_project(settings.get("project"), study=study),
                entity=resolve_entity(settings.get("entity")),
                group=study,
                name=name or f"{variant}-s{seed}",
                job_type=settings.get("job_type") or "study",
                tags=[study[:MAX_TAG_LENGTH], variant[:MAX_TAG_LENGTH]],
                # the same id on every attempt: a rerun after a crash resumes this wandb run
                id=wandb_run_id(study=study, variant=variant, seed=seed, config_hash=config_hash),
                resume="allow",
                config={"variant": variant, "seed": seed, **config},
                dir=str(run_dir),
                mode=mode,
                settings=wandb.Settings(silent=True, console="off"),
            )

        try:
            try:
                self.run = start()
            except Exception as error:
                if not os.environ.get("WANDB_SERVICE"):
                    raise
                # the shared service (the warm worker's wandb-core) is gone, killed or crashed:
                # this run starts a service of its own, as a worker without one does
                print(
                    f"harness: wandb's shared service is gone ({error}); this run starts its own",
                    file=sys.stderr,
                )
                _forget_shared_service()
                self.run = start()
        except Exception as error:  # wandb must never cost a result
            print(f"harness: wandb disabled for this run: {error}", file=sys.stderr)
            self.run = None
            return
        # wandb's log waits for its service to take each row (about a millisecond a row while
        # a model trains on 2 cores: 0.6 s of a 600-step run): a thread of its own sends the
        # rows, in order, and the training loop only queues them
        self._rows: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        self._finishing = threading.Event()
        self._sender = threading.Thread(target=self._send, name="harness-wandb-log", daemon=True)
        self._sender.start()

    def log(self, row: dict[str, Any]) -> None:
        """Queue a metric row for wandb (``step`` is the wandb step)."""
        if self.run is None:
            return
        self._rows.put(row)

    def _send(self) -> None:
        """The sending thread: log the queued rows until the None that :meth:`finish` queues."""
        failed = False
        while (row := self._rows.get()) is not None:
            if failed:
                continue  # logging stopped: the rest are only taken off the queue
            values = {k: v for k, v in row.items() if k != "step"}
            step = row.get("step")
            try:
                self.run.log(values, step=int(step) if isinstance(step, int | float) else None)
                self.rows_sent += 1
            except Exception as error:
                # the run's wandb log ends here (the end-of-study summary names the run); the
                # store keeps every row
                print(
                    f"harness: wandb logging stopped after {self.rows_sent} row(s): {error}",
                    file=sys.stderr,
                )
                failed = True
            if self._rows.empty():
                # let rows gather and send them in bursts: a thread woken for every row takes
                # the interpreter from the training loop at every step (on a busy 2-core machine
                # that cost more than sending)
                self._finishing.wait(SEND_INTERVAL_S)

    def summarize(self, values: dict[str, Any]) -> None:
        """Set summary values that no logged row carries (a check's verdict, a commit's
        estimate and interval)."""
        if self.run is None:
            return
        try:
            self.run.summary.update(values)
        except Exception as error:  # wandb must never cost a result
            print(f"harness: wandb summary not written: {error}", file=sys.stderr)

    def finish(self, *, failed: bool = False) -> None:
        """Send the rows still queued, then finish the wandb run (exit code 1 when ``failed``)."""
        if self.run is None:
            return
        self._rows.put(None)
        self._finishing.set()
        self._sender.join()
        try:
            self.run.finish(exit_code=1 if failed else 0)
        except Exception as error:
            print(f"harness: wandb finish failed: {error}", file=sys.stderr)
        self.run = None


def _forget_shared_service() -> None:
    """Make the next ``wandb.init`` of this process start a wandb service of its own, instead
    of connecting to the shared one named by ``WANDB_SERVICE`` (which is gone)."""
    os.environ.pop("WANDB_SERVICE", None)
    try:
        import wandb

        wandb.teardown()  # wandb's process-wide handle on the dead service, if it kept one
    except Exception:
        pass


@dataclass(frozen=True, kw_only=True)
class WandbLogged:
    """How much of a run reached its wandb log, read back from wandb's own files.

    Attributes:
        rows: the rows the run's ``.wandb`` log holds.
        finished: the log holds the run's end-of-run (exit) record: wandb took it to the end.
        path: the wandb run folder read; None when wandb left none that can be read.
    """

    rows: int
    finished: bool
    path: Path | None


def wandb_logged(run_dir: Path, run_id: str) -> WandbLogged:
    """What the latest wandb run of a harness run holds: of the wandb run folders under
    ``run_dir`` named by ``run_id`` (:func:`wandb_run_id`; wandb adds ``-1`` ... when a
    folder of that name exists), the one whose ``.wandb`` log was written last; a script that
    logs to wandb itself chose its own id: then the latest of all.

    A wandb service killed mid-run leaves a log without its end-of-run record (and without the
    rows it had not written yet); one gone before the run started leaves no log at all.

    Args:
        run_dir: the harness run's folder (wandb's ``dir``: its folders are under ``wandb/``).
        run_id: the wandb run id harness gave the run.

    Returns:
        What the log holds; ``path`` None when there is no log that can be read.
    """
    root = run_dir / "wandb"
    logs = [log for log in root.glob("*run-*/*.wandb") if not log.parent.is_symlink()]
    ours = [log for log in logs if re.search(rf"-{re.escape(run_id)}(-\d+)?$", log.parent.name)]
    if not (ours or logs):
        return WandbLogged(rows=0, finished=False, path=None)
    latest = max(ours or logs, key=_modified)
    try:
        run = read_run_dir(latest.parent)
    except MetricSourceError:
        return WandbLogged(rows=0, finished=False, path=None)
    return WandbLogged(rows=len(run.rows), finished=run.exit_code is not None, path=run.path)


def _modified(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


@dataclass(frozen=True, kw_only=True)
class LoggedRun:
    """A wandb run a command writes after the fact: a commit ``harness bisect`` or ``regress``
    tested, a width and seed of ``harness coordcheck``.

    Attributes:
        key: its "variant" (a tag, and the id's part with ``seed``).
        config: its config.
        summary: its summary (a verdict, an estimate and its interval ...).
        seed: its seed.
        history: its metric rows (``step`` and values), oldest first.
        name: its name, when not ``<key>-s<seed>``.
    """

    key: str
    config: dict[str, Any]
    summary: dict[str, Any]
    seed: int = 0
    history: Sequence[dict[str, Any]] = ()
    name: str | None = None


def log_runs(runs: Iterable[LoggedRun], *, wandb: dict[str, Any], group: str, run_dir: Path) -> int:
    """Start, log, summarise and finish one wandb run per entry of ``runs``.

    Args:
        runs: the runs (taken one at a time: a lazy iterable builds each only when logged).
        wandb: the resolved settings (:func:`harness.run.runner.resolve_wandb`).
        group: the wandb group: the invocation.
        run_dir: wandb's files go under it.

    Returns:
        How many wandb runs were started: 0 when wandb is off; the ones before the first that
        could not start (wandb said why once, not once per run).
    """
    if wandb.get("mode", "disabled") == "disabled":
        return 0
    started = 0
    for run in runs:
        sink = WandbSink(
            wandb,
            study=group,
            variant=run.key,
            seed=run.seed,
            config=run.config,
            run_dir=run_dir,
            name=run.name,
        )
        if sink.run is None:
            return started
        started += 1
        for row in run.history:
            sink.log(row)
        sink.summarize(run.summary)
        sink.finish()
    return started
