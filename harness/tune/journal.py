"""A search's Optuna journal file after a crash: its torn last record cut off, other damage named.

Optuna's ``JournalFileBackend`` appends one write of whole lines per operation. A crash (or a
power loss that leaves the file's last block zero-filled) can leave a last line that is cut
short or is not JSON. Optuna's own reader skips such a last line and raises only on a bad line
that other lines follow; but the next append is written straight after the torn bytes, so the
torn line and the new record become one bad line in the middle of the file, and every later
read fails. Here the torn last line is therefore cut off before the storage is opened (under
Optuna's own lock, so no append is in flight), its bytes kept beside the journal in
``journal.log.torn``, with a warning: the storage then reads what Optuna's reader would have
read. A bad line before the last one is not guessed at: it is named by file and line.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import BinaryIO

from harness.errors import StoreWarning, UserError

TORN_SUFFIX = ".torn"
_TAIL_CHUNK = 1 << 16


def repair_torn_tail(path: Path) -> int:
    """Cut a torn last record off the journal, keeping its bytes in ``<path>.torn``.

    Args:
        path: the journal file (absent: nothing to do).

    Returns:
        How many bytes were cut off (0: the journal ends in a whole record).

    Warns:
        StoreWarning: naming the journal, when a record was cut off or could not be.
    """
    from optuna.storages.journal import JournalFileSymlinkLock

    if not path.exists() or _ends_in_a_whole_record(path):
        return 0
    lock = JournalFileSymlinkLock(str(path))
    try:
        lock.acquire()
    except OSError as error:  # a read-only study folder: Optuna's reader skips the line
        _warn_torn(
            path,
            f"its last record was torn by a crash and cannot be cut off here ({error.strerror});"
            " it is skipped, as Optuna's reader does",
        )
        return 0
    try:
        with path.open("r+b") as journal:
            end = _last_line_start(journal)
            journal.seek(end)
            torn = journal.read()
            if not torn or (torn.endswith(b"\n") and _is_record(torn)):
                return 0  # another process repaired it first (and may have appended since)
            with path.with_name(path.name + TORN_SUFFIX).open("ab") as kept:
                kept.write(torn)
                kept.flush()
                os.fsync(kept.fileno())
            journal.truncate(end)
            journal.flush()
            os.fsync(journal.fileno())
    finally:
        lock.release()
    _warn_torn(
        path,
        f"its last record ({len(torn)} bytes) was torn by a crash and is cut off, as Optuna's "
        f"reader skips it (kept in {path.name}{TORN_SUFFIX}); a trial it left unfinished runs "
        "again",
    )
    return len(torn)


def damaged_record_error(path: Path, error: Exception) -> UserError:
    """The error for a journal Optuna cannot read: the first bad line, by number.

    Args:
        path: the journal file.
        error: what Optuna raised.

    Returns:
        A ``UserError`` naming ``<path>:<line>`` and what to do.
    """
    line = _first_bad_line(path)
    what = f"line {line} is not a whole JSON record" if line is not None else str(error)
    where = f"{path}:{line}" if line is not None else str(path)
    return UserError(
        f"{where}: the Optuna journal is damaged before its last record ({what}); it cannot be "
        "repaired without losing trials. Restore it from a backup, or pass --fresh to start "
        "the search over (the study directory is moved aside, not deleted)."
    )


def _warn_torn(path: Path, what: str) -> None:
    warnings.warn(f"{path}: {what}", StoreWarning, stacklevel=3)


def _is_record(line: bytes) -> bool:
    try:
        json.loads(line)
    except ValueError:  # not UTF-8, not JSON
        return False
    return True


def _ends_in_a_whole_record(path: Path) -> bool:
    with path.open("rb") as journal:
        journal.seek(_last_line_start(journal))
        last = journal.read()
    return not last or (last.endswith(b"\n") and _is_record(last))


def _last_line_start(journal: BinaryIO) -> int:
    """Where the file's last line starts (ended by a newline or not), read backwards in
    chunks so that a long journal is not read whole."""
    end = journal.seek(0, os.SEEK_END)
    position = end
    if end:
        journal.seek(end - 1)
        if journal.read(1) == b"\n":
            position = end - 1  # the newline ending the last line is part of it
    while position > 0:
        start = max(0, position - _TAIL_CHUNK)
        journal.seek(start)
        newline = journal.read(position - start).rfind(b"\n")
        if newline >= 0:
            return start + newline + 1
        position = start
    return 0


def _first_bad_line(path: Path) -> int | None:
    with path.open("rb") as journal:
        for number, line in enumerate(journal, start=1):
            if not (line.endswith(b"\n") and _is_record(line)):
                return number
    return None
