"""Git plumbing for measuring old commits without touching the user's checkout.

Every commit is checked out with ``git worktree add --detach`` into a directory of its own, by
default under ``<git common dir>/harness-worktrees/`` (inside ``.git``, so it never shows up in
``git status``). Nothing here runs ``git checkout``, ``git reset``, ``git stash`` or anything
else that writes the user's working tree, index, HEAD or branches: the only state git gains is
the worktree registration in ``.git/worktrees/``, which :meth:`WorktreePool.close` removes again
— also on Ctrl-C or SIGTERM, because it runs from a ``finally`` with SIGINT ignored while it
cleans up. A pool killed with SIGKILL leaves its directory behind; the next pool on the same
repository removes directories whose owning process is gone, and their registrations (only
ours: never ``git worktree prune``, which would touch the user's own worktrees).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import UserError
from harness.processes import process_start_time, same_process_alive

WORKTREE_DIR_NAME = "harness-worktrees"


@dataclass(frozen=True, kw_only=True)
class Commit:
    """A resolved commit.

    Attributes:
        sha: the full object name.
        subject: the first line of its message.
    """

    sha: str
    subject: str

    @property
    def short(self) -> str:
        """The 12-digit prefix used as the variant (directory) name of its measurements."""
        return self.sha[:12]


def git(repo: Path, *args: str, check: bool = True) -> str:
    """Run a read-only (or worktree-only) git command in ``repo``; return its stripped stdout.

    Raises:
        UserError: git is missing, or the command fails while ``check`` is set.
    """
    try:
        result = subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise UserError(f"cannot run git: {error}") from None
    if check and result.returncode != 0:
        raise UserError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def repo_root(path: str | Path) -> Path:
    """The top-level directory of the git repository containing ``path``.

    Raises:
        UserError: ``path`` is not inside a git working tree.
    """
    path = Path(path).resolve()
    if not path.is_dir():
        raise UserError(f"{path} is not a directory")
    result = subprocess.run(
        ["git", "-C", str(path), "rev-parse", "--show-toplevel"], capture_output=True, text=True
    )
    if result.returncode != 0:
        raise UserError(f"{path} is not inside a git repository (bisect and regress need one)")
    return Path(result.stdout.strip())


def resolve_commit(repo: Path, rev: str) -> Commit:
    """The commit ``rev`` names (a sha, branch, tag, ``HEAD~3`` ...).

    Raises:
        UserError: ``rev`` names no commit in ``repo``.
    """
    result = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0 or not result.stdout.strip():
        raise UserError(f"unknown revision {rev!r} in {repo}")
    sha = result.stdout.strip()
    return Commit(sha=sha, subject=git(repo, "log", "-1", "--format=%s", sha))


def commits_between(repo: Path, good: Commit, bad: Commit) -> list[Commit]:
    """The first-parent history from ``good`` to ``bad``, both included, oldest first.

    Following first parents linearizes merges the way ``git bisect --first-parent`` does: a
    merge commit stands for the branch it brought in.

    Raises:
        UserError: ``good`` is not an ancestor of ``bad`` (or they are the same commit).
    """
    if good.sha == bad.sha:
        raise UserError("--good and --bad name the same commit")
    ancestor = subprocess.run(
        ["git", "-C", str(repo), "merge-base", "--is-ancestor", good.sha, bad.sha],
        capture_output=True,
    )
    if ancestor.returncode != 0:
        raise UserError(
            f"--good {good.short} is not an ancestor of --bad {bad.short}; "
            "bisect needs the good commit to come before the bad one"
        )
    lines = git(
        repo, "log", "--first-parent", "--reverse", "--format=%H %s", f"{good.sha}..{bad.sha}"
    ).splitlines()
    commits = [good]
    for line in lines:
        sha, _, subject = line.partition(" ")
        commits.append(Commit(sha=sha, subject=subject))
    if commits[-1].sha != bad.sha:  # bad reached through a side branch only: keep it last
        commits.append(bad)
    return commits


def is_dirty(repo: Path) -> bool:
    """Whether tracked files differ from HEAD (untracked files do not count)."""
    return bool(git(repo, "status", "--porcelain", "--untracked-files=no"))


def git_common_dir(repo: Path) -> Path:
    """The repository's shared ``.git`` directory (the same from every worktree)."""
    common = Path(git(repo, "rev-parse", "--git-common-dir"))
    if not common.is_absolute():
        common = repo / common
    return common.resolve()


def default_worktree_base(repo: Path) -> Path:
    """``<git common dir>/harness-worktrees``: inside ``.git``, invisible to ``git status``."""
    return git_common_dir(repo) / WORKTREE_DIR_NAME


class WorktreePool:
    """Detached worktrees of commits, created on demand and all removed by :meth:`close`.

    Use as a context manager. Worktrees live in ``<base>/<pid>-<pid start>/<sha>`` so that two
    bisects of one repository never share one, and leftovers of a killed process are found.

    Args:
        repo: the repository.
        base: where worktrees go; default :func:`default_worktree_base`.
    """

    def __init__(self, repo: Path, base: Path | None = None) -> None:
        self.repo = repo
        self.base = (base or default_worktree_base(repo)).resolve()
        self.directory = self.base / _owner_tag(os.getpid())
        self._trees: dict[str, Path] = {}
        self._previous_sigterm: Any = None

    def __enter__(self) -> WorktreePool:
        self.remove_abandoned()
        self._previous_sigterm = _exit_on_sigterm()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.close()
        finally:
            if self._previous_sigterm is not None:
                signal.signal(signal.SIGTERM, self._previous_sigterm)

    def path(self, commit: Commit) -> Path:
        """The worktree of ``commit``, created on first use."""
        if commit.sha in self._trees:
            return self._trees[commit.sha]
        path = self.directory / commit.sha
        self.directory.mkdir(parents=True, exist_ok=True)
        self._trees[commit.sha] = path  # registered before git runs: close() removes halves
        try:
            git(self.repo, "worktree", "add", "--detach", "--force", str(path), commit.sha)
        except UserError:
            self.release(commit)
            raise
        return path

    def release(self, commit: Commit) -> None:
        """Remove the worktree of ``commit`` now (it is recreated if needed again)."""
        path = self._trees.pop(commit.sha, None)
        if path is not None:
            self._remove(path)

    def close(self) -> None:
        """Remove every worktree of this pool, with SIGINT ignored so cleanup finishes."""
        with _sigint_ignored():
            for sha in list(self._trees):
                self._remove(self._trees.pop(sha))
            with contextlib.suppress(OSError):
                self.directory.rmdir()
            with contextlib.suppress(OSError):
                self.base.rmdir()
            self._prune_own_registrations()

    def remove_abandoned(self) -> None:
        """Remove worktree directories left by pools whose process no longer exists."""
        if not self.base.is_dir():
            return
        for owner in self.base.iterdir():
            if owner.name == self.directory.name or _owner_alive(owner.name):
                continue
            for tree in owner.iterdir() if owner.is_dir() else ():
                self._remove(tree)
            with contextlib.suppress(OSError):
                owner.rmdir()
        self._prune_own_registrations()

    def _prune_own_registrations(self) -> None:
        """Drop git's records of *our* worktrees whose directory is gone (a half-made one).

        Not ``git worktree prune``: that would also forget the user's own worktrees whose
        directory is merely absent right now (an unmounted drive).
        """
        registrations = git_common_dir(self.repo) / "worktrees"
        if not registrations.is_dir():
            return
        for admin in registrations.iterdir():
            try:
                checkout = Path((admin / "gitdir").read_text().strip()).parent
            except OSError:
                continue
            if checkout.is_relative_to(self.base) and not checkout.exists():
                shutil.rmtree(admin, ignore_errors=True)

    def _remove(self, path: Path) -> None:
        git(self.repo, "worktree", "remove", "--force", str(path), check=False)
        if path.exists():
            shutil.rmtree(path, ignore_errors=True)


def _owner_tag(pid: int) -> str:
    return f"{pid}-{process_start_time(pid) or 0}"


def _owner_alive(tag: str) -> bool:
    pid_text, _, start = tag.partition("-")
    if not pid_text.isdigit():
        return True  # not ours: leave it alone
    return same_process_alive(
        int(pid_text), int(start) if start.isdigit() and start != "0" else None
    )


def _exit_on_sigterm() -> Any:
    """Make SIGTERM raise SystemExit (so ``finally`` blocks clean up) where it would kill the
    process outright; return the handler it replaces, or None when it changed nothing."""
    if threading.current_thread() is not threading.main_thread():
        return None
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return None

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    return signal.signal(signal.SIGTERM, stop)


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
