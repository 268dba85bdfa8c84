"""wandb run folders on disk: ``wandb/run-*`` (synced) and ``wandb/offline-run-*`` (offline).

Each run's ``.wandb`` log is decoded column-wise (:mod:`harness.importers.wandb_log`), or, where
that reading does not take it, record by record by the reader harness uses for scripts that log
to wandb themselves (:func:`harness.worker.wandb_source.read_run_dir`): config, history, summary
and exit code, through wandb's own protobuf module.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harness.importers._base import (
    ImportFailure,
    LogSource,
    RunRef,
    RunState,
    RunUnreadable,
    SourceRun,
    curve_from_rows,
    files_fingerprint,
)
from harness.importers.wandb_log import WandbLog


class WandbLocalSource(LogSource):
    """A folder holding wandb run folders: a project's ``wandb/`` folder, the folder above it,
    or a single run folder."""

    kind = "wandb"
    reads_in_processes = True

    def find_runs(self) -> Sequence[RunRef]:
        root = Path(self.location)
        if not root.is_dir():
            raise ImportFailure(f"{root}: no such folder")
        candidates = [root] if _is_run_dir(root) else []
        for folder in (root, root / "wandb"):
            if folder.is_dir():
                candidates += [p for p in sorted(folder.glob("*run-*")) if _is_run_dir(p)]
        # latest-run is a symlink to a run already listed
        runs = {p.resolve(): p for p in candidates if not p.is_symlink()}
        if not runs:
            raise ImportFailure(
                f"{root}: no wandb run folders (run-* or offline-run-*, each with a .wandb log) "
                "in it or in its wandb/ folder"
            )
        return [
            RunRef(
                label=path.name,
                run_id=path.name.rsplit("-", 1)[-1],
                fingerprint=files_fingerprint(sorted(path.glob("*.wandb"))),
                handle=path,
            )
            for path in runs.values()
        ]

    def read_run(self, ref: RunRef) -> SourceRun:
        from harness.importers.wandb_log import NotColumnar, read_wandb_folder
        from harness.worker.metric_sources import MetricSourceError

        path: Path = ref.handle
        try:
            try:
                run = read_wandb_folder(path)
            except NotColumnar:
                run = _read_record_by_record(path)
        except (MetricSourceError, OSError) as error:
            raise RunUnreadable(str(error)) from None
        logs = sorted(path.glob("*.wandb"))
        ended = logs[0].stat().st_mtime if logs else None
        state: RunState = (
            "running" if run.exit_code is None else "finished" if run.exit_code == 0 else "crashed"
        )
        return SourceRun(
            run_id=path.name.rsplit("-", 1)[-1],
            name=run.name or path.name,
            location=str(path),
            config=run.config,
            state=state,
            curve=run.curve,
            started_at=run.started_at,
            ended_at=ended if state != "running" else None,
        )


def _read_record_by_record(path: Path) -> WandbLog:
    """The reference reading (the worker's), for a log the column-wise one does not take."""
    from harness.worker.wandb_source import read_run_dir

    run = read_run_dir(path)
    return WandbLog(
        curve=curve_from_rows(run.rows),
        name=run.name,
        group=run.group,
        config=run.config,
        exit_code=run.exit_code,
        started_at=run.started_at,
    )


def _is_run_dir(path: Path) -> bool:
    return path.is_dir() and "run-" in path.name and any(path.glob("*.wandb"))
