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
import sys
import threading
from pathlib import Path
from typing import Any

from harness.worker.wandb_source import MAX_TAG_LENGTH, wandb_run_id

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
        mode = settings.get("mode", "disabled")
        if mode == "disabled":
            return
        try:
            import wandb

            self.run = wandb.init(
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
            except Exception as error:
                print(f"harness: wandb logging stopped: {error}", file=sys.stderr)
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
