"""Reading store files that may be damaged: say which file, what is wrong and what to do.

A study directory lives for months and passes through hands, editors, copies and full disks: a
``record.json`` can be truncated, hold ``{}`` or bytes that are not UTF-8. One such file must not
take a study's other runs down with it, so readers here turn every way a file can be bad into an
:class:`UnreadableFile` (path + problem), and callers either leave the run out with a
:class:`~harness.errors.StoreWarning` that says how to repair or retry it, or stop with a
:class:`~harness.errors.UserError` when nothing can be done without the file.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from harness.errors import StoreWarning


class UnreadableFile(ValueError):
    """A store file that exists but cannot be used.

    Attributes:
        path: the file.
        problem: what is wrong with it, in words ("not valid JSON (...)", "no 'seed'").
    """

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


def load_json(path: Path) -> Any | None:
    """The JSON value in ``path``; None when the file does not exist.

    Raises:
        UnreadableFile: the file cannot be read, is not UTF-8, is empty or is not JSON.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:  # a directory in its place, no permission, an I/O error
        raise UnreadableFile(path, f"cannot be read ({error.strerror or error})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UnreadableFile(path, f"not UTF-8 text (byte {error.start})") from None
    if not text.strip():
        raise UnreadableFile(path, "empty")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        where = f"line {error.lineno} column {error.colno}"
        ends_early = error.pos >= len(text.rstrip()) or error.msg.startswith("Unterminated")
        cut = ", truncated?" if ends_early else ""
        raise UnreadableFile(path, f"not valid JSON ({error.msg}: {where}{cut})") from None
    except (ValueError, RecursionError) as error:  # a 5000-digit integer, [[[[...]]]]
        raise UnreadableFile(path, f"not usable JSON: {error}") from None


def load_json_object(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``; None when the file does not exist.

    Raises:
        UnreadableFile: as :func:`load_json`, or the value is not an object.
    """
    data = load_json(path)
    if data is not None and not isinstance(data, dict):
        raise UnreadableFile(path, f"expected a JSON object, found {type(data).__name__}")
    return data


def warn_unreadable(error: UnreadableFile, consequence: str) -> None:
    """Say that a file was left aside: ``"<path>: <problem>; <consequence>"``.

    Shown once per message by the CLI (``harness <command>: warning: ...``).
    """
    warnings.warn(f"{error}; {consequence}", StoreWarning, stacklevel=3)
