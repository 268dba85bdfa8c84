"""Writing files so that readers, on this host or another sharing the filesystem, never see a
torn one: the content goes to a temporary file, is fsynced, and is then moved into place."""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.store.layout import temporary_beside

# How Rust libraries (polars) name the OS error behind a failure.
_OS_ERROR = re.compile(r"\(os error (\d+)\)")


def atomic_write_text(path: Path, text: str, *, durable: bool = True) -> None:
    """Write ``text`` so that readers see the old content or the new, never a torn file.

    ``durable=False`` skips the fsync, for a writer that makes many files durable at once
    (:func:`harness.store.imported.flush_imports`).

    Raises:
        OSError: the write failed (a full or read-only disk ...), naming ``path``; the old
            content is untouched and no temporary file is left behind.
    """
    atomic_write_with(path, lambda tmp: tmp.write_bytes(text.encode()), durable=durable)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """:func:`atomic_write_text` for bytes (a figure, a page)."""
    atomic_write_with(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_with(path: Path, write: Callable[[Path], object], *, durable: bool = True) -> None:
    """Have ``write`` write a temporary file beside ``path``, then move it into place: readers
    (and a full disk halfway through) never leave a partial ``path``.

    Args:
        path: the file to write.
        write: writes the content to the path it is given (``frame.write_parquet``, say).
        durable: fsync the file before moving it into place (False: the caller syncs later).

    Raises:
        OSError: the write failed, naming ``path``; no temporary file is left behind.
    """
    tmp = temporary_beside(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        if durable:
            with tmp.open("rb+") as handle:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as error:
        _remove(tmp)
        raise _naming(error, path, tmp) from None
    except BaseException as error:
        _remove(tmp)
        # polars (Rust) reports some I/O errors as its own ComputeError: "... underlying IO
        # error: No space left on device (os error 28)"; it is the disk, not the data
        if isinstance(error, Exception) and _OS_ERROR.search(str(error)):
            raise _naming(OSError(None, str(error)), path, tmp) from None
        raise
    _fsync_dir(path.parent)


def exclusive_create(path: Path, content: dict[str, Any]) -> bool:
    """Create ``path`` with ``content`` unless it exists, atomically and already complete.

    The content goes to a temporary file that is then hard-linked into place (``link`` fails
    when the name exists, and is atomic on NFS too). A plain ``O_EXCL`` create would show
    other processes an empty claim for a moment, which they would take for a stale one.

    Returns:
        True when this call created the file, False when it existed.
    """
    tmp = temporary_beside(path)
    try:
        with tmp.open("w") as handle:
            json.dump(content, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(tmp, path)
    except FileExistsError:
        return False
    except OSError as error:
        raise _naming(error, path, tmp) from None
    finally:
        _remove(tmp)
    return True


def read_json_object(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``; None when the file is missing, torn, not UTF-8, not an
    object or unreadable (see :mod:`harness.store.unreadable` to say why)."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):  # JSON and UTF-8 errors are ValueErrors
        return None
    return data if isinstance(data, dict) else None


def _remove(path: Path) -> None:
    # never there, or the disk refuses even this: nothing more to do
    with contextlib.suppress(OSError):
        path.unlink()


def _naming(error: OSError, path: Path, tmp: Path) -> OSError:
    """``error`` naming ``path``: a failed write() names no file, and the temporary file's
    name would mean nothing to the user. An error naming another path (a directory that
    cannot be made) keeps it."""
    if error.filename is not None and str(error.filename) != str(tmp):
        return error
    code = error.errno
    if code is None:  # polars (Rust) says "Read-only file system (os error 30): <path>"
        found = _OS_ERROR.search(str(error))
        code = int(found.group(1)) if found else None
    if code is None:
        return OSError(None, str(error).replace(str(tmp), str(path)), str(path))
    return OSError(code, os.strerror(code), str(path))


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
