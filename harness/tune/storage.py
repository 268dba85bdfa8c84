"""Where the Optuna study lives, and the lock that keeps cooperating processes exact.

By default the storage is a JournalStorage file inside the study directory,
``<runs root>/<study name>/tune/journal.log`` (append-only, safe for several processes on one
machine or on a shared filesystem), so the search is kept with its runs. ``storage = "sqlite"``
uses ``tune/optuna.db``; any other Optuna storage URL (PostgreSQL, MySQL ...) serves workers on
several hosts. Either file opens in optuna-dashboard: ``optuna-dashboard <path or URL>``.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.errors import UserError
from harness.tune.journal import damaged_record_error, repair_torn_tail

JOURNAL_FILE = "journal.log"
SQLITE_FILE = "optuna.db"


def tune_dir(study_dir: Path) -> Path:
    """The search's own folder inside the study directory: storage, plots, transfer files."""
    return study_dir / "tune"


def storage_location(storage: str, study_dir: Path) -> str:
    """What to hand to optuna-dashboard: a journal file path or a storage URL."""
    if storage == "journal":
        return str(tune_dir(study_dir) / JOURNAL_FILE)
    if storage == "sqlite":
        return f"sqlite:///{(tune_dir(study_dir) / SQLITE_FILE).resolve()}"
    return storage


def is_local(storage: str) -> bool:
    """Whether the storage is a file of the study directory (and ``--fresh`` may move it)."""
    return storage in ("journal", "sqlite")


def open_storage(storage: str, study_dir: Path) -> Any:
    """An Optuna storage object for the ``[search] storage`` setting."""
    import optuna

    tune_dir(study_dir).mkdir(parents=True, exist_ok=True)
    if storage == "journal":
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        journal = Path(storage_location(storage, study_dir))
        repair_torn_tail(journal)
        try:
            return JournalStorage(JournalFileBackend(str(journal)))
        except (ValueError, KeyError, TypeError) as error:  # a record Optuna cannot replay
            raise damaged_record_error(journal, error) from None
    try:
        return optuna.storages.RDBStorage(storage_location(storage, study_dir))
    except ImportError as error:
        raise UserError(f"storage {storage!r} needs a database driver: {error}") from None
    except Exception as error:  # bad URL, unreachable server: the user's to fix
        raise UserError(f"cannot open the Optuna storage {storage!r}: {error}") from None


@contextlib.contextmanager
def ask_lock(storage: str, study_dir: Path) -> Iterator[None]:
    """Serialise "count the trials, then ask for one" among processes on a file storage.

    For a remote storage there is no shared lock; the search then relies on trial numbers
    (see ``harness.tune.search``) to drop the rare surplus trial.
    """
    if not is_local(storage):
        yield
        return
    path = tune_dir(study_dir) / ".ask.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
