"""Writing files so that readers, on this host or another sharing the filesystem, never see a
torn one: the content goes to a temporary file, is fsynced, and is then moved into place."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any


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


def exclusive_create(path: Path, content: dict[str, Any]) -> bool:
    """Create ``path`` with ``content`` unless it exists, atomically and already complete.

    The content goes to a temporary file that is then hard-linked into place (``link`` fails
    when the name exists, and is atomic on NFS too). A plain ``O_EXCL`` create would show
    other processes an empty claim for a moment, which they would take for a stale one.

    Returns:
        True when this call created the file, False when it existed.
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


def read_json_object(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``; None when the file is missing, torn or not an object."""
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
