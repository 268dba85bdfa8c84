"""Opening a run's log files (``worker.log``, ``output.log``) for writing: from empty, and
never through a symbolic link.

A run's folder is harness's, but a link put there (by hand, by a script that writes into
``$HARNESS_RUN_DIR``, by a copied folder) would have the next attempt truncate whatever file
it points to. The link itself is replaced instead, and the new log says so on its first line.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _NOFOLLOW


def open_log(path: Path) -> int:
    """Open ``path`` for writing from empty and return its file descriptor (the caller closes
    it); a symbolic link at ``path`` is replaced by a new file, the file it points to left
    untouched.

    Args:
        path: the log file, in a run's folder.

    Returns:
        A file descriptor open for writing, not inherited by programs the caller executes.

    Raises:
        OSError: the file cannot be created (a full or read-only disk, a directory there).
    """
    try:
        return os.open(path, _FLAGS | os.O_CLOEXEC, 0o644)
    except OSError as error:
        if error.errno != errno.ELOOP or not path.is_symlink():
            raise
    target = os.readlink(path)
    path.unlink()  # the link, never what it points to
    fd = os.open(path, _FLAGS | os.O_EXCL | os.O_CLOEXEC, 0o644)
    with contextlib.suppress(OSError):
        os.write(
            fd,
            f"harness: {path.name} was a symbolic link to {target}; it was replaced by this "
            "file (the file it pointed to is untouched)\n".encode(errors="replace"),
        )
    return fd


def append_to_log(path: Path, text: str) -> None:
    """Append ``text`` to a run's log, never through a symbolic link: a link at ``path`` is
    replaced by a new file, as :func:`open_log` does, and the text goes there.

    Args:
        path: the log file, in a run's folder.
        text: what to append.

    Raises:
        OSError: the file cannot be written.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | _NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as error:
        if error.errno != errno.ELOOP or not path.is_symlink():
            raise
        fd = open_log(path)
    with os.fdopen(fd, "a") as log:
        log.write(text)
