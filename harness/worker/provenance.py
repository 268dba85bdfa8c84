"""Where a result came from: the git state of the code that produced it.

The code of a run is in the repository it runs in: a command's ``cwd`` (the user's training
repository), else the study file's repository. A dirty tree's changes are kept beside the run
(``git.diff``), so the exact code can be rebuilt: ``git checkout <commit> && git apply git.diff``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

# A diff bigger than this (a data file committed by mistake, say) is cut: the record notes it.
MAX_DIFF_BYTES = 5_000_000


def git_state(directory: Path, *, save_diff_to: Path | None = None) -> dict[str, Any]:
    """The git state of the repository containing ``directory``.

    Args:
        directory: a directory inside the repository (need not be its root).
        save_diff_to: when given and the tree is dirty, ``git diff HEAD`` (tracked files,
            staged or not; untracked files are not in it) is written to this file (a run's
            :attr:`~harness.store.layout.RunDir.git_diff`).

    Returns:
        ``{"git_commit", "git_dirty", "git_repo", "git_diff"}``: the HEAD commit, whether
        tracked files differ from it, the repository's root, and the saved diff's file name
        (relative to the run directory it is saved in; None when clean or not saved). All None
        outside a git repository. ``"git_diff_truncated": True`` is added when the diff was cut
        at ``MAX_DIFF_BYTES``.
    """

    def git(*args: str) -> str | None:
        try:
            result = subprocess.run(
                ["git", *args], cwd=directory, capture_output=True, text=True, timeout=30
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return result.stdout if result.returncode == 0 else None

    empty = {"git_commit": None, "git_dirty": None, "git_repo": None, "git_diff": None}
    if not Path(directory).is_dir():
        return empty
    commit = git("rev-parse", "HEAD")
    if commit is None:
        return empty
    status = git("status", "--porcelain", "--untracked-files=no")
    root = git("rev-parse", "--show-toplevel")
    state: dict[str, Any] = {
        "git_commit": commit.strip(),
        "git_dirty": bool(status and status.strip()),
        "git_repo": root.strip() if root else None,
        "git_diff": None,
    }
    if state["git_dirty"] and save_diff_to is not None:
        diff = git("diff", "HEAD", "--binary")
        if diff:
            data = diff.encode()
            if len(data) > MAX_DIFF_BYTES:
                data = data[:MAX_DIFF_BYTES]
                state["git_diff_truncated"] = True
            save_diff_to.write_bytes(data)
            state["git_diff"] = save_diff_to.name
    return state


def code_directory(cwd: str | None, *, study_source: str | None) -> Path:
    """The directory whose repository a run's code comes from.

    Args:
        cwd: a command run's ``cwd``, if it has one (None for a built-in run).
        study_source: the study file, as stored in the study's description, if known.

    Returns:
        A command's ``cwd`` when it has one, else the study file's directory, else the
        current directory (the worker's, which is where harness was started).
    """
    if cwd:
        return Path(cwd).expanduser()
    if study_source:
        return Path(study_source).expanduser().parent
    return Path.cwd()
