"""The results store as a directory tree: the study directory is the single source of truth.

Layout::

    <study dir>/study.json
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
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.processes import process_start_time, same_process_alive
from harness.store._base import RunConfigFile, RunKey, Store
from harness.store.records import RunRecord, Status

# A claim from another host counts as abandoned when its heartbeat is older than this.
HEARTBEAT_INTERVAL_S = 15.0
STALE_AFTER_S = 120.0


class FileSystemStore(Store):
    """A study directory on a local or shared filesystem.

    Args:
        study_dir: the study's directory (created on first write).
    """

    def __init__(self, study_dir: str | Path) -> None:
        self.study_dir = Path(study_dir)

    # -- study ------------------------------------------------------------------------------
    def write_study_meta(self, meta: dict[str, Any]) -> None:
        atomic_write_text(self.study_dir / "study.json", json.dumps(meta, indent=2))

    def read_study_meta(self) -> dict[str, Any]:
        path = self.study_dir / "study.json"
        if not path.exists():
            return {}
        data: dict[str, Any] = json.loads(path.read_text())
        return data

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
        if _exclusive_create(path, owner):
            return True
        with self._lock():
            current = _read_json(path)
            if current is not None and claim_is_live(current, path):
                return False
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            return _exclusive_create(path, owner)

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
        data = _read_json(self.run_dir(key) / "record.json")
        return RunRecord.from_dict(data) if data is not None else None

    def status(self, key: RunKey) -> Status:
        record = self.read_record(key)
        if record is not None:
            return record.status
        path = self.run_dir(key) / "claim.json"
        claim = _read_json(path)
        if claim is not None and claim_is_live(claim, path):
            return "running"
        return "pending"

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


def claim_owner(role: str) -> dict[str, Any]:
    """The claim content identifying this process."""
    pid = os.getpid()
    return {
        "host": socket.gethostname(),
        "pid": pid,
        "pid_start": process_start_time(pid),
        "role": role,
        "claimed_at": time.time(),
    }


def claim_is_live(claim: dict[str, Any], path: Path) -> bool:
    """Whether the process holding a claim is still there.

    On the same host: its pid exists and started when the claim says (pids are reused). On
    another host: its heartbeat (the claim file's mtime) is recent.
    """
    if claim.get("host") == socket.gethostname():
        pid = claim.get("pid")
        if not isinstance(pid, int):
            return False
        return same_process_alive(pid, claim.get("pid_start"))
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return False
    return age < STALE_AFTER_S


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` so that readers see the old content or the new, never a torn file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with tmp.open("w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _exclusive_create(path: Path, content: dict[str, Any]) -> bool:
    """Create ``path`` with ``content`` unless it exists, atomically and already complete.

    The content goes to a temporary file that is then hard-linked into place (``link`` fails
    when the name exists, and is atomic on NFS too). A plain ``O_EXCL`` create would show
    other processes an empty claim for a moment, which they would take for a stale one.
    """
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with tmp.open("w") as handle:
        json.dump(content, handle)
        handle.flush()
        os.fsync(handle.fileno())
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        tmp.unlink()
    return True


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _seed_of(name: str) -> int:
    try:
        return int(name[1:])
    except ValueError:
        return -1
