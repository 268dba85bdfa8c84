"""Where a result came from: the git state of the code that produced it."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any


def git_state(directory: Path) -> dict[str, Any]:
    """``{"git_commit", "git_dirty"}`` of the repository containing ``directory``.

    Both are None outside a git repository. "Dirty" means tracked files differ from HEAD.
    """

    def git(*args: str) -> str | None:
        try:
            result = subprocess.run(
                ["git", *args], cwd=directory, capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return result.stdout.strip() if result.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"git_commit": None, "git_dirty": None}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"git_commit": commit, "git_dirty": bool(status)}
