"""The results store as a directory tree: the study directory is the single source of truth.

The directory tree (which file is where) is named in :mod:`harness.store.layout`.

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
import errno
import fcntl
import json
import os
import time
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from harness.errors import StoreWarning, UserError
from harness.store._base import RunConfigFile, RunKey, Store
from harness.store.atomic import atomic_write_text, exclusive_create, read_json_object
from harness.store.claims import claim_is_live, end_claimed_command, held_by, unprovable_claim
from harness.store.layout import (
    LOCK_FILE,
    RUNS_FOLDER,
    SEQUENTIAL_FILE,
    STUDY_FILE,
    RunDir,
    harness_temporaries,
    phase_decisions_file,
)
from harness.store.meta import PhaseDecision, SequentialLooks, StudyMeta
from harness.store.read_only import imported_from, refuse_writing
from harness.store.records import RunRecord, Status
from harness.store.unreadable import UnreadableFile, load_json, load_json_object, warn_unreadable

_SPACE_PROBE_BYTES = 64 * 1024
# A temporary file of an atomic write older than this was left by a writer that died.
LEFTOVER_TEMPORARY_S = 60.0


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
        if seed < 0 or run_dir.parent.parent.name != RUNS_FOLDER:
            raise ValueError(f"{run_dir} is not a run directory (<study>/runs/<variant>/s<seed>)")
        store = cls(run_dir.parent.parent.parent)
        return store, RunKey(variant=run_dir.parent.name, seed=seed)

    # -- study ------------------------------------------------------------------------------
    def write_study_meta(self, meta: StudyMeta) -> None:
        """Store the description, unless the stored one says the same (``updated_at`` aside):
        resuming a finished study then writes nothing, and works on a read-only store."""
        path = self.study_dir / STUDY_FILE
        text = json.dumps(meta.to_dict(), indent=2)
        try:
            stored = load_json_object(path)
        except UnreadableFile:
            stored = None  # a damaged description is replaced
        origin = imported_from(stored or {})
        if origin is not None and imported_from(meta.other) is None:
            raise refuse_writing(self.study_dir, origin, "describe it as another study")
        if stored is not None and _same_description(stored, json.loads(text)):
            return
        atomic_write_text(path, text)

    def read_study_meta(self) -> StudyMeta | None:
        """The stored description; None when there is none.

        Raises:
            UserError: ``study.json`` is damaged, naming it, what is wrong and how to repair it.
        """
        path = self.study_dir / STUDY_FILE
        try:
            data = load_json_object(path)
            return StudyMeta.from_dict(data) if data is not None else None
        except (UnreadableFile, ValueError) as error:
            problem = error.problem if isinstance(error, UnreadableFile) else str(error)
            raise UserError(
                f"{path}: not a readable study description ({problem}); run 'harness study' "
                "on the study file again to rewrite it (finished runs are kept)"
            ) from None

    def refuse_if_imported(self, action: str) -> None:
        """Refuse ``action`` when the study was imported (:mod:`harness.store.read_only`).

        Raises:
            UserError: it was, naming where from and how to import it again.
        """
        try:
            stored = load_json_object(self.study_dir / STUDY_FILE)
        except UnreadableFile:
            stored = None  # a damaged description: rewritten by the study, as before
        origin = imported_from(stored or {})
        if origin is not None:
            raise refuse_writing(self.study_dir, origin, action)

    # -- runs -------------------------------------------------------------------------------
    def run_dir(self, key: RunKey) -> Path:
        return self.study_dir / RUNS_FOLDER / key.variant / f"s{key.seed}"

    def paths(self, key: RunKey) -> RunDir:
        """Every path of the run ``key`` (its :meth:`run_dir` and the files in it)."""
        return RunDir(self.run_dir(key))

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
        atomic_write_text(self.paths(key).config, json.dumps(payload, indent=2))

    def read_config(self, key: RunKey) -> RunConfigFile | None:
        """A run's stored config; None when it has none, or when ``config.json`` is damaged
        (said in a :class:`~harness.errors.StoreWarning`)."""
        try:
            return self._load_config(key)
        except UnreadableFile as error:
            if (self.paths(key).record).exists():
                consequence = (
                    "the run's record still counts, without its stored config; delete "
                    f"{self.run_dir(key)} to rerun the run"
                )
            else:
                consequence = "the next 'harness study' writes it again when it runs the run"
            warn_unreadable(error, consequence)
            return None

    def _load_config(self, key: RunKey) -> RunConfigFile | None:
        path = self.paths(key).config
        data = load_json(path)
        try:
            config = RunConfigFile.from_dict(data) if data is not None else None
        except ValueError as error:
            raise UnreadableFile(path, f"not a run config: {error}") from None
        if config is not None:
            _check_names_its_folder(path, RunKey(variant=config.variant, seed=config.seed), key)
        return config

    def try_claim(self, key: RunKey, owner: dict[str, Any]) -> bool:
        self.refuse_if_imported("run into it")
        path = self.paths(key).claim
        path.parent.mkdir(parents=True, exist_ok=True)
        if exclusive_create(path, owner):
            self._remove_leftover_temporaries(key)
            return True
        with self._lock():
            if self.live_claim(key) is not None:
                return False
            # the claim is abandoned: end what its command left running before the run
            # starts again (two attempts must never write one metrics.jsonl)
            end_claimed_command(read_json_object(path), self.run_dir(key))
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            claimed = exclusive_create(path, owner)
        if claimed:
            self._remove_leftover_temporaries(key)
        return claimed

    def _remove_leftover_temporaries(self, key: RunKey) -> None:
        """Delete the temporary files that writers killed mid-write (kill -9, a power loss)
        left in a run's folder; each claim of the run would otherwise add to them. A write
        takes milliseconds: one older than :data:`LEFTOVER_TEMPORARY_S` is nobody's."""
        cutoff = time.time() - LEFTOVER_TEMPORARY_S
        for path in harness_temporaries(self.run_dir(key)):
            with contextlib.suppress(OSError):
                if path.lstat().st_mtime < cutoff:
                    path.unlink()

    def live_claim(self, key: RunKey) -> dict[str, Any] | None:
        """The claim on a run (see :func:`~harness.store.claims.claim_owner`) while its process
        is still there; None when the run is unclaimed or its claim is stale."""
        path = self.paths(key).claim
        try:
            claim = load_json_object(path)
        except UnreadableFile as error:  # claims are written whole: this one was damaged
            consequence = "taken for an abandoned claim: the next 'harness study' runs the run"
            warn_unreadable(error, consequence)
            return None
        if claim is None:
            return None
        unprovable = unprovable_claim(claim)
        if unprovable is not None:
            warnings.warn(
                f"{path}: {unprovable}; taken for an abandoned claim (the next 'harness "
                "study' runs the run again)",
                StoreWarning,
                stacklevel=2,
            )
            return None
        return claim if claim_is_live(claim, path) else None

    def update_claim(self, key: RunKey, owner: dict[str, Any]) -> None:
        """Hand a claim to the process that actually runs the work (the worker)."""
        atomic_write_text(self.paths(key).claim, json.dumps(owner))

    def hand_over_claim(self, key: RunKey, worker: dict[str, Any]) -> str | None:
        """The worker's take-over of its run: the claim keeps the scheduler's ``token`` and
        gains the worker's identity (host, pid ...) and its ``worker`` id (its own token).

        Refused when another worker already took the run over and is still there (a worker
        resumed after a second runner started the run again), or when the run is unclaimed
        and already has a record (it finished meanwhile). An unclaimed run without a record
        (a worker started by hand) is claimed afresh.

        Args:
            key: the run.
            worker: the worker's :func:`~harness.store.claims.claim_owner`.

        Returns:
            The claim's token (the scheduler's) when the claim is now this worker's, else None.
        """
        path = self.paths(key).claim
        with self._lock():
            claim = read_json_object(path)
            if claim is None:
                if (self.paths(key).record).exists():
                    return None
                claim = {"token": worker["token"]}
            elif "worker" in claim and claim_is_live(claim, path):
                return None
            token = str(claim.get("token") or worker["token"])  # a claim from before tokens
            taken = {**worker, "token": token, "worker": worker["token"]}
            atomic_write_text(path, json.dumps(taken))
            return token

    def claim_held(self, key: RunKey, token: str, worker: str | None = None) -> bool:
        """Whether the run's claim still carries ``token`` (and the ``worker`` id, if given)."""
        return held_by(read_json_object(self.paths(key).claim), token, worker)

    def note_claim_command(
        self, key: RunKey, token: str, worker: str, *, pgid: int, start: int | None
    ) -> bool:
        """Name the command's process group in the worker's claim (see ``claims``); False,
        changing nothing, when the claim is no longer this worker's."""
        path = self.paths(key).claim
        with self._lock():
            claim = read_json_object(path)
            if claim is None or not held_by(claim, token, worker):
                return False
            atomic_write_text(
                path, json.dumps({**claim, "command_pgid": pgid, "command_start": start})
            )
            return True

    def heartbeat(self, key: RunKey, token: str | None = None) -> None:
        """Touch the claim (its mtime is the heartbeat); with ``token``, only a claim that
        still carries it."""
        path = self.paths(key).claim
        if token is not None and not held_by(read_json_object(path), token):
            return
        with contextlib.suppress(FileNotFoundError):
            os.utime(path)

    def release(self, key: RunKey, token: str | None = None) -> None:
        """Drop the claim; with ``token``, only a claim that still carries it (a process that
        lost its claim to another must not release the other's)."""
        path = self.paths(key).claim
        if token is None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            return
        with self._lock():
            if held_by(read_json_object(path), token):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

    def end_abandoned_command(self, key: RunKey, token: str) -> None:
        """End the process group of a command whose worker died, if the claim is ``token``'s."""
        claim = read_json_object(self.paths(key).claim)
        if held_by(claim, token):
            end_claimed_command(claim, self.run_dir(key))

    def live_claims(self) -> list[tuple[RunKey, dict[str, Any]]]:
        """The runs of the study that a live process holds now, with their claims."""
        held = []
        for key in self.run_keys():
            claim = self.live_claim(key)
            if claim is not None:
                held.append((key, claim))
        return held

    def write_record(self, record: RunRecord) -> None:
        key = RunKey(variant=record.variant, seed=record.seed)
        atomic_write_text(self.paths(key).record, record.to_json())

    def write_record_if_held(self, record: RunRecord, *, token: str, worker: str) -> bool:
        """Store the record only while the run's claim is still this worker's, checked under
        the study's lock (which a take-over of a stale claim also holds), so a run is never
        recorded by two workers.

        Returns:
            Whether the record was written.
        """
        key = RunKey(variant=record.variant, seed=record.seed)
        with self._lock():
            if not self.claim_held(key, token, worker):
                return False
            self.write_record(record)
            return True

    def read_record(self, key: RunKey) -> RunRecord | None:
        """A finished run's record; None while the run is unfinished, and when its
        ``record.json`` is damaged (said in a :class:`~harness.errors.StoreWarning`: the run
        counts as unfinished, so ``harness study`` runs it again)."""
        try:
            return self._load_record(key)
        except UnreadableFile as error:
            warn_unreadable(
                error,
                "the run counts as unfinished and is left out of results; the next "
                "'harness study' runs it again and replaces the file (repair the file first "
                "to keep the run)",
            )
            return None

    def _load_record(self, key: RunKey) -> RunRecord | None:
        path = self.paths(key).record
        data = load_json(path)
        try:
            record = RunRecord.from_dict(data) if data is not None else None
        except ValueError as error:
            raise UnreadableFile(path, f"not a run record: {error}") from None
        if record is not None:
            _check_names_its_folder(path, RunKey(variant=record.variant, seed=record.seed), key)
        return record

    def problems(self, key: RunKey) -> list[str]:
        """What is wrong with a run's stored files (its damaged ``record.json`` and
        ``config.json``), in words, without warnings: for listings."""
        found = []
        for load in (self._load_record, self._load_config):
            try:
                load(key)
            except UnreadableFile as error:
                found.append(f"{error.path.name}: {error.problem}")
        return found

    def status(self, key: RunKey) -> Status:
        record = self.read_record(key)
        if record is not None:
            return record.status
        return "running" if self.live_claim(key) is not None else "pending"

    def run_keys(self) -> Iterator[RunKey]:
        """Every run folder with its ``config.json``; a folder that holds a run's results but
        cannot be one (see :meth:`damaged_runs`) is left out with a warning naming it."""
        for folder, key, problem in self._run_folders():
            if problem is None and key is not None:
                yield key
            elif problem is not None:
                warnings.warn(
                    f"{folder}: {problem}; the run is left out of results and verdicts. "
                    f"{_DAMAGED_FOLDER_ADVICE}",
                    StoreWarning,
                    stacklevel=2,
                )

    def damaged_runs(self) -> list[tuple[Path, RunKey | None, str]]:
        """Run folders holding a run's results that cannot be read as the run they name: a
        ``record.json`` without its ``config.json``, or a folder not named ``s<seed>``.
        :meth:`run_keys` leaves them out (with a warning); ``harness runs`` lists them.

        Returns:
            (folder, the run its name stands for (None when it names none), what is wrong).
        """
        return [(f, k, p) for f, k, p in self._run_folders() if p is not None]

    def _run_folders(self) -> Iterator[tuple[Path, RunKey | None, str | None]]:
        """Each seed folder under ``runs/``, in (variant, numeric seed) order: its key (None
        when its name is no ``s<seed>``) and what is wrong with it (None: a run, or an empty
        folder left by a claim)."""
        runs = self.study_dir / RUNS_FOLDER
        if not runs.is_dir():
            return
        for variant_dir in sorted(runs.iterdir()):
            if not variant_dir.is_dir():
                continue
            seed_dirs = [d for d in variant_dir.iterdir() if d.is_dir()]
            for seed_dir in sorted(seed_dirs, key=lambda d: (_seed_of(d.name), d.name)):
                seed = _seed_of(seed_dir.name)
                key = RunKey(variant=variant_dir.name, seed=seed) if seed >= 0 else None
                paths = RunDir(seed_dir)
                has_config = paths.config.exists()
                if key is not None and seed_dir.name == f"s{seed}":
                    if has_config:
                        yield seed_dir, key, None
                    elif paths.record.exists():
                        yield seed_dir, key, "a run folder with a record.json but no config.json"
                elif has_config or paths.record.exists():
                    yield seed_dir, None, "a run folder not named s<seed> (such as s0, s1)"

    def archive(self) -> Path | None:
        """Move the whole study directory aside (for ``--fresh``); nothing is deleted."""
        if not self.study_dir.exists():
            return None
        self.refuse_if_imported("move it aside for --fresh")
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = self.study_dir.with_name(f"{self.study_dir.name}.old-{stamp}")
        suffix = 1
        while target.exists():  # archived twice within a second
            suffix += 1
            target = self.study_dir.with_name(f"{self.study_dir.name}.old-{stamp}-{suffix}")
        self.study_dir.rename(target)
        return target

    def out_of_space(self) -> OSError | None:
        """Whether the disk (or the quota) holding the study is full now: a worker that died
        without a record may have died of it, and could not even say so in its log.

        Returns:
            An ``ENOSPC``/``EDQUOT`` error naming the study directory when a 64 KiB write
            there fails for want of space; None when it succeeds (or fails otherwise).
        """
        probe = self.study_dir / f".space-probe.{os.getpid()}.tmp"
        try:
            with probe.open("wb") as handle:
                handle.write(bytes(_SPACE_PROBE_BYTES))
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as error:
            if error.errno in (errno.ENOSPC, errno.EDQUOT):
                return OSError(error.errno, error.strerror, str(self.study_dir))
            return None
        finally:
            with contextlib.suppress(OSError):
                probe.unlink()
        return None

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        self.study_dir.mkdir(parents=True, exist_ok=True)
        with (self.study_dir / LOCK_FILE).open("a") as handle:
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
    return phase_decisions_file(path).is_file() and not is_study_dir(path)


def write_phase_decisions(root: Path, decisions: Iterable[PhaseDecision]) -> None:
    """Store the decisions of a phased study's finished phases, in phase order.

    Args:
        root: the phased study's root (its phases are study directories inside it).
        decisions: the decisions so far; they replace what was stored.
    """
    payload = [decision.to_dict() for decision in decisions]
    atomic_write_text(phase_decisions_file(root), json.dumps(payload, indent=2))


def read_phase_decisions(root: Path) -> list[PhaseDecision]:
    """The stored decisions of a phased study, in phase order.

    Raises:
        UserError: the decisions are missing or unreadable.
    """
    path = phase_decisions_file(root)
    try:
        entries = load_json(path)
    except UnreadableFile as error:
        raise UserError(f"{path}: cannot read the phase decisions: {error.problem}") from None
    if entries is None:
        raise UserError(f"{path}: cannot read the phase decisions: missing")
    if not isinstance(entries, list):
        raise UserError(
            f"{path}: cannot read the phase decisions: expected a list of phases, found "
            f"{type(entries).__name__}; run 'harness study' on the study file again to rewrite it"
        )
    decisions = []
    for number, entry in enumerate(entries, start=1):
        try:
            decisions.append(PhaseDecision.from_dict(entry))
        except ValueError as error:
            raise UserError(
                f"{path}: cannot read the phase decisions: entry {number}: {error}; run "
                "'harness study' on the study file again to rewrite it (finished runs are kept)"
            ) from None
    return decisions


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
        data = load_json_object(path)
        return SequentialLooks.from_dict(data) if data is not None else None
    except UnreadableFile as error:
        raise UserError(f"{path}: cannot read the sequential design: {error.problem}") from None
    except (ValueError, TypeError, AttributeError) as error:
        raise UserError(f"{path}: cannot read the sequential design: {error}") from None


_DAMAGED_FOLDER_ADVICE = (
    "Nothing was deleted: restore the missing file (or rename the folder), or delete the "
    "folder to run the run again"
)


def _check_names_its_folder(path: Path, named: RunKey, folder: RunKey) -> None:
    """A record or config names the run whose folder holds it; one that names another run was
    copied or moved there, and is not guessed at."""
    if named != folder:
        raise UnreadableFile(path, f"names run {named}, not {folder} whose folder holds it")


def _same_description(stored: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether two study descriptions say the same, ``updated_at`` aside, and the study file
    counting as the same however its path is spelled (``x.toml``, ``./x.toml``, absolute)."""
    ignored = ("updated_at", "source")
    if {k: v for k, v in stored.items() if k not in ignored} != {
        k: v for k, v in new.items() if k not in ignored
    }:
        return False
    before, after = stored.get("source"), new.get("source")
    if before == after:
        return True
    try:
        return before is not None and after is not None and os.path.samefile(before, after)
    except (OSError, TypeError, ValueError):  # gone, or not a path: they differ
        return False


def _seed_of(name: str) -> int:
    try:
        return int(name[1:])
    except ValueError:
        return -1
