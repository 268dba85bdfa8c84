"""Git plumbing: revisions resolve or fail as bad input; worktrees come and go cleanly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.bisect.worktrees import (
    WorktreePool,
    commits_between,
    default_worktree_base,
    is_dirty,
    repo_root,
    resolve_commit,
)
from harness.errors import UserError

sys.path.insert(0, str(Path(__file__).parent))
from bisect_synthetic_repo import build, git, user_state, worktrees


@pytest.fixture
def synthetic(tmp_path):  # type: ignore[no-untyped-def]
    return build(tmp_path, n_commits=4, culprit=2, crash=99)


def test_revisions_resolve_and_bad_ones_are_user_errors(synthetic, tmp_path):
    repo = repo_root(synthetic.repo / ".")
    assert repo == synthetic.repo.resolve()
    head = resolve_commit(repo, "HEAD")
    assert head.sha == synthetic.shas[-1]
    assert head.subject == "change 3: tweak the training script"
    assert resolve_commit(repo, synthetic.shas[1][:8]).sha == synthetic.shas[1]
    with pytest.raises(UserError, match="unknown revision"):
        resolve_commit(repo, "no-such-branch")
    outside = tmp_path / "plain"
    outside.mkdir()
    with pytest.raises(UserError, match="not inside a git repository"):
        repo_root(outside)


def test_commits_between_is_the_first_parent_history_oldest_first(synthetic):
    repo = synthetic.repo
    good, bad = resolve_commit(repo, "HEAD~3"), resolve_commit(repo, "HEAD")
    assert [c.sha for c in commits_between(repo, good, bad)] == synthetic.shas
    with pytest.raises(UserError, match="not an ancestor"):
        commits_between(repo, bad, good)
    with pytest.raises(UserError, match="same commit"):
        commits_between(repo, good, good)


def test_worktrees_check_out_commits_and_leave_nothing_behind(synthetic):
    repo = synthetic.repo
    before = user_state(repo)
    assert is_dirty(repo)  # the fixture has an uncommitted edit
    old = resolve_commit(repo, "HEAD~2")
    with WorktreePool(repo) as pool:
        tree = pool.path(old)
        assert "COMMIT = 1" in (tree / "train.py").read_text()
        assert git(tree, "rev-parse", "HEAD") == old.sha
        assert pool.path(old) == tree  # created once
        assert tree.is_relative_to(default_worktree_base(repo))
        assert len(worktrees(repo)) == 2
        assert git(repo, "status", "--porcelain") == before["status"]  # inside .git: invisible
        pool.release(old)
        assert not tree.exists() and len(worktrees(repo)) == 1
        pool.path(old)
    assert len(worktrees(repo)) == 1
    assert not default_worktree_base(repo).exists()
    assert user_state(repo) == before


def test_worktrees_of_a_killed_process_are_removed_by_the_next_pool(synthetic):
    repo = synthetic.repo
    script = (
        "import os, sys; sys.path.insert(0, sys.argv[2])\n"
        "from pathlib import Path\n"
        "from harness.bisect.worktrees import WorktreePool, resolve_commit\n"
        "pool = WorktreePool(Path(sys.argv[1]))\n"
        "pool.path(resolve_commit(Path(sys.argv[1]), 'HEAD~1'))\n"
        "os._exit(0)  # like a SIGKILL: no cleanup\n"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", script, str(repo), str(root)], check=True)
    assert len(worktrees(repo)) == 2
    with WorktreePool(repo):
        assert len(worktrees(repo)) == 1
    assert not default_worktree_base(repo).exists()
    registrations = repo / ".git" / "worktrees"
    assert not registrations.exists() or os.listdir(registrations) == []


def test_the_users_own_worktrees_are_left_alone_even_when_absent(synthetic, tmp_path):
    repo = synthetic.repo
    theirs = tmp_path / "elsewhere"
    git(repo, "worktree", "add", "--detach", str(theirs), "HEAD~1")
    moved = tmp_path / "unmounted"
    theirs.rename(moved)  # like a worktree on a drive that is not mounted right now
    with WorktreePool(repo) as pool:
        pool.path(resolve_commit(repo, "HEAD~2"))
    assert any(str(theirs) in line for line in worktrees(repo))  # still registered
    moved.rename(theirs)
    assert git(theirs, "rev-parse", "HEAD") == synthetic.shas[-2]
