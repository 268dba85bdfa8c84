"""The results store as a directory tree: the study directory is the single source of truth.

Layout::

    <study dir>/study.json                             the study's description (StudyMeta)
    <study dir>/runs/<variant>/s<seed>/config.json     resolved config + hash, before the run
    <study dir>/runs/<variant>/s<seed>/claim.json      while running: host, pid; mtime = heartbeat
    <study dir>/runs/<variant>/s<seed>/metrics.jsonl   appended while running
    <study dir>/runs/<variant>/s<seed>/record.json     the finished run, written atomically

Crash safety: ``record.json`` is written to a temporary file, fsynced and renamed into place, so
a run either has a complete record or none; a run without one is unfinished and is rerun. A
``kill -9`` therefore never corrupts a finished run and never makes a half-written one look
finished. Concurrency: a run is claimed with an exclusive create (``O_EXCL``), which is atomic
on local filesystems and on NFSv3+; a claim whose owner is gone is taken over under a
``flock`` on the study's lock file, so two processes never both take over the same stale claim.

An ``--until-decided`` study also keeps ``<study dir>/sequential.json``: its sequential design and
the looks taken (``SequentialLooks``).

A phased study is a directory of such study directories, one per phase, with the decisions of
the finished phases in ``<phased root>/phases.json``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from harness.errors import UserError
from harness.store._base import RunConfigFile, RunKey, Store
from harness.store.atomic import atomic_write_text, exclusive_create, read_json_object
from harness.store.claims import claim_is_live
from harness.store.meta import PhaseDecision, SequentialLooks, StudyMeta
from harness.store.records import RunRecord, Status

STUDY_FILE = "study.json"
PHASES_FILE = "phases.json"
SEQUENTIAL_FILE = "sequential.json"


class FileSystemStore(Store):
    """A study directory on a local or shared filesystem.

    Args:
        study_dir: the study's directory (created on first write).
    """

    def __init__(self, study_dir: str | Path) -> None:
        self.study_dir = Path(study_dir)

    @classmethod
    def of_run_dir(cls, run_dir: str | Path) -> tuple[FileSystemStore, RunKey]:
        """The store a run directory belongs to, and the run's key.

        Args:
            run_dir: a directory :meth:`run_dir` returned (``<study>/runs/<variant>/s<seed>``).

        Returns:
            ``(store, key)`` such that ``store.run_dir(key) == run_dir``.

        Raises:
            ValueError: ``run_dir`` is not laid out as a run directory.
        """
        run_dir = Path(run_dir)
        seed = _seed_of(run_dir.name) if run_dir.name.startswith("s") else -1
        if seed < 0 or run_dir.parent.parent.name != "runs":
            raise ValueError(f"{run_dir} is not a run directory (<study>/runs/<variant>/s<seed>)")
        store = cls(run_dir.parent.parent.parent)
        return store, RunKey(variant=run_dir.parent.name, seed=seed)

    # -- study ------------------------------------------------------------------------------
    def write_study_meta(self, meta: StudyMeta) -> None:
        text = json.dumps(meta.to_dict(), indent=2)
        atomic_write_text(self.study_dir / STUDY_FILE, text)

    def read_study_meta(self) -> StudyMeta | None:
        path = self.study_dir / STUDY_FILE
        try:
            return StudyMeta.from_dict(json.loads(path.read_text()))
        except FileNotFoundError:
            return None
        except (ValueError, TypeError, AttributeError) as error:
            raise UserError(f"{path}: not a readable study description: {error}") from None

    # -- runs -------------------------------------------------------------------------------
    def run_dir(self, key: RunKey) -> Path:
        return self.study_dir / "runs" / key.variant / f"s{key.seed}"

    def write_config(self, config: RunConfigFile) -> None:
        key = RunKey(variant=config.variant, seed=config.seed)
        payload = {
            "study": config.study,
            "variant": config.variant,
            "seed": config.seed,
            "kind": config.kind,
            "config": config.config,
            "config_hash": config.config_hash,
        }
        atomic_write_text(self.run_dir(key) / "config.json", json.dumps(payload, indent=2))

    def read_config(self, key: RunKey) -> RunConfigFile | None:
        path = self.run_dir(key) / "config.json"
        if not path.exists():
            return None
        return RunConfigFile(**json.loads(path.read_text()))

    def try_claim(self, key: RunKey, owner: dict[str, Any]) -> bool:
        path = self.run_dir(key) / "claim.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        if exclusive_create(path, owner):
            return True
        with self._lock():
            if self.live_claim(key) is not None:
                return False
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            return exclusive_create(path, owner)

    def live_claim(self, key: RunKey) -> dict[str, Any] | None:
        """The claim on a run (see :func:`~harness.store.claims.claim_owner`) while its process
        is still there; None when the run is unclaimed or its claim is stale."""
        path = self.run_dir(key) / "claim.json"
        claim = read_json_object(path)
        return claim if claim is not None and claim_is_live(claim, path) else None

    def update_claim(self, key: RunKey, owner: dict[str, Any]) -> None:
        """Hand a claim to the process that actually runs the work (the worker)."""
        atomic_write_text(self.run_dir(key) / "claim.json", json.dumps(owner))

    def heartbeat(self, key: RunKey) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.utime(self.run_dir(key) / "claim.json")

    def release(self, key: RunKey) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.run_dir(key) / "claim.json").unlink()

    def write_record(self, record: RunRecord) -> None:
        key = RunKey(variant=record.variant, seed=record.seed)
        atomic_write_text(self.run_dir(key) / "record.json", record.to_json())

    def read_record(self, key: RunKey) -> RunRecord | None:
        data = read_json_object(self.run_dir(key) / "record.json")
        return RunRecord.from_dict(data) if data is not None else None

    def status(self, key: RunKey) -> Status:
        record = self.read_record(key)
        if record is not None:
            return record.status
        return "running" if self.live_claim(key) is not None else "pending"

    def run_keys(self) -> Iterator[RunKey]:
        runs = self.study_dir / "runs"
        if not runs.is_dir():
            return
        for variant_dir in sorted(runs.iterdir()):
            if not variant_dir.is_dir():
                continue
            seed_dirs = [d for d in variant_dir.iterdir() if d.name.startswith("s")]
            for seed_dir in sorted(seed_dirs, key=lambda d: _seed_of(d.name)):
                if _seed_of(seed_dir.name) >= 0 and (seed_dir / "config.json").exists():
                    yield RunKey(variant=variant_dir.name, seed=_seed_of(seed_dir.name))

    def archive(self) -> Path | None:
        """Move the whole study directory aside (for ``--fresh``); nothing is deleted."""
        if not self.study_dir.exists():
            return None
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = self.study_dir.with_name(f"{self.study_dir.name}.old-{stamp}")
        suffix = 1
        while target.exists():  # archived twice within a second
            suffix += 1
            target = self.study_dir.with_name(f"{self.study_dir.name}.old-{stamp}-{suffix}")
        self.study_dir.rename(target)
        return target

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        self.study_dir.mkdir(parents=True, exist_ok=True)
        with (self.study_dir / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def is_study_dir(path: Path) -> bool:
    """Whether ``path`` holds a study (its ``study.json``)."""
    return (path / STUDY_FILE).is_file()


def is_phased_root(path: Path) -> bool:
    """Whether ``path`` is the root of a phased study: phase decisions and no ``study.json``."""
    return (path / PHASES_FILE).is_file() and not is_study_dir(path)


def write_phase_decisions(root: Path, decisions: Iterable[PhaseDecision]) -> None:
    """Store the decisions of a phased study's finished phases, in phase order.

    Args:
        root: the phased study's root (its phases are study directories inside it).
        decisions: the decisions so far; they replace what was stored.
    """
    payload = [decision.to_dict() for decision in decisions]
    atomic_write_text(root / PHASES_FILE, json.dumps(payload, indent=2))


def read_phase_decisions(root: Path) -> list[PhaseDecision]:
    """The stored decisions of a phased study, in phase order.

    Raises:
        UserError: the decisions are missing or unreadable.
    """
    path = root / PHASES_FILE
    try:
        return [PhaseDecision.from_dict(entry) for entry in json.loads(path.read_text())]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UserError(f"{path}: cannot read the phase decisions: {error}") from None


def write_sequential_looks(study_dir: Path, looks: SequentialLooks) -> None:
    """Store an ``--until-decided`` study's design and looks (replacing what was there)."""
    atomic_write_text(Path(study_dir) / SEQUENTIAL_FILE, json.dumps(looks.to_dict(), indent=2))


def read_sequential_looks(study_dir: Path) -> SequentialLooks | None:
    """The stored design and looks of a study; None when it has none.

    Raises:
        UserError: the record is unreadable.
    """
    path = Path(study_dir) / SEQUENTIAL_FILE
    try:
        return SequentialLooks.from_dict(json.loads(path.read_text()))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, AttributeError) as error:
        raise UserError(f"{path}: cannot read the sequential design: {error}") from None


def _seed_of(name: str) -> int:
    try:
        return int(name[1:])
    except ValueError:
        return -1
