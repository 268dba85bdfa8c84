"""The saved result of ``harness coordcheck``, ``bisect`` and ``regress``: one JSON object per
command in the folder its measurements live in, for ``harness report`` to find.

- coordcheck: ``<runs root>/coordcheck/<check>/coordcheck.json`` (beside its CSVs and PNG);
- bisect and regress: ``bisect.json`` / ``regress.json`` in the commits study
  ``<runs root>/<study>-<variant>-commits/`` whose runs are their measurements.

Each file holds the last invocation's result (the JSON ``--format json`` prints, exit code
included, plus what a page needs to draw it) and is replaced whole (temp file + rename), so a
reader never sees half of one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from harness.errors import UserError, os_error_message
from harness.store.atomic import atomic_write_text
from harness.store.layout import COMMAND_RESULT_FILES, COORDCHECK_FOLDER
from harness.store.unreadable import UnreadableFile, load_json_object

CommandName = Literal["coordcheck", "bisect", "regress"]
# bumped when a reader could no longer read what an older writer wrote
RESULT_VERSION = 1


def command_result_path(folder: Path, command: CommandName) -> Path:
    """Where ``command`` keeps its result in ``folder``."""
    return Path(folder) / COMMAND_RESULT_FILES[command]


def coordcheck_folder(runs_root: Path, name: str) -> Path:
    """A coordinate check's folder: ``<runs root>/coordcheck/<name>/``."""
    return Path(runs_root) / COORDCHECK_FOLDER / name


def write_command_result(folder: Path, command: CommandName, payload: dict[str, Any]) -> Path:
    """Save ``payload`` (JSON-serializable, no NaN) as ``command``'s result in ``folder``.

    Args:
        folder: the check's folder, or the commits study directory.
        command: "coordcheck", "bisect" or "regress".
        payload: the result; ``command`` and ``version`` are added.

    Returns:
        The file written.

    Raises:
        UserError: the file cannot be written (naming it).
    """
    path = command_result_path(folder, command)
    text = json.dumps({"command": command, "version": RESULT_VERSION, **payload}, indent=2)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, text + "\n")
    except OSError as error:
        raise UserError(f"cannot save the {command} result: {os_error_message(error)}") from None
    return path


def read_command_result(folder: Path, command: CommandName) -> dict[str, Any] | None:
    """``command``'s saved result in ``folder``; None when there is none.

    Raises:
        UserError: the file is damaged, or written by another command or a newer harness.
    """
    path = command_result_path(folder, command)
    try:
        data = load_json_object(path)
    except UnreadableFile as error:
        raise UserError(f"{path}: cannot read the {command} result: {error.problem}") from None
    if data is None:
        return None
    if data.get("command") != command or not isinstance(data.get("version"), int):
        raise UserError(f"{path}: not a saved {command} result (no 'command': '{command}')")
    if data["version"] > RESULT_VERSION:
        raise UserError(
            f"{path}: written by a newer harness (version {data['version']}); upgrade to read it"
        )
    return data
