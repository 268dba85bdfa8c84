"""A synthetic git repository for bisect and regress tests: instant, no torch.

Commit ``i`` (0-based, ``n_commits`` of them) holds a ``train.py`` whose final ``val_loss`` is

    3.0 + seed_effect(seed) + 0.002 * i + interaction(i, seed) + regression * [i >= culprit]

with ``seed_effect ~ N(0, 1)`` shared by every commit (what pairing by seed cancels),
``interaction ~ N(0, 0.1)`` drawn per (commit, seed) (the noise that remains after pairing:
changing the code reshuffles some randomness), and a planted regression of 0.3 — far below the
seed spread of 1.0. Commit ``crash`` exits with an error. All draws are seeded by strings, so the
fixture is the same on every machine; the script appends ``"<commit> <seed>"`` to
``$TRAIN_CALLS`` on every call, so tests can count invocations, and sleeps ``$TRAIN_SLEEP``
seconds when set (for interrupting a bisect mid-run).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

TRAIN_PY = """\
import argparse, json, os, random, time

COMMIT = {commit}
REGRESSION = {regression}
CRASH = {crash}
SEED_SD = 1.0
INTERACTION_SD = 0.1

parser = argparse.ArgumentParser()
parser.add_argument("--seed", type=int, required=True)
parser.add_argument("--out", required=True)
args = parser.parse_args()
if os.environ.get("TRAIN_CALLS"):
    with open(os.environ["TRAIN_CALLS"], "a") as calls:
        calls.write(f"{{COMMIT}} {{args.seed}}\\n")
if os.environ.get("TRAIN_SLEEP"):
    time.sleep(float(os.environ["TRAIN_SLEEP"]))
if CRASH:
    raise SystemExit("train.py: CUDA error: an illegal memory access was encountered")
seed_effect = random.Random(f"seed-{{args.seed}}").gauss(0.0, SEED_SD)
interaction = random.Random(f"commit-{{COMMIT}}-seed-{{args.seed}}").gauss(0.0, INTERACTION_SD)
val_loss = 3.0 + seed_effect + 0.002 * COMMIT + interaction + REGRESSION
with open(args.out, "a") as out:
    out.write(json.dumps({{"step": 100, "val_loss": val_loss}}) + "\\n")
"""

STUDY = """\
[study]
name = "synthetic"
metric = "val_loss"
direction = "minimize"
seeds = {seeds}
baseline = "train"

[base]
command = "{{python}} train.py --seed {{seed}} --out {{run_dir}}/metrics.jsonl"
params = {{ python = "{python}" }}
env = {{ TRAIN_CALLS = "{calls}" }}

[variants.train]
"""

ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z",
}


@dataclass(frozen=True)
class SyntheticRepo:
    repo: Path
    study: Path
    calls: Path
    runs: Path
    shas: list[str]
    culprit: int
    crash: int

    def calls_made(self) -> list[tuple[int, int]]:
        if not self.calls.exists():
            return []
        return [tuple(map(int, line.split())) for line in self.calls.read_text().splitlines()]


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, **ENV}
    result = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, env=env, check=True
    )
    return result.stdout.strip()


def value(commit: int, seed: int, *, culprit: int, regression: float = 0.3) -> float:
    """The fixture's val_loss, computed directly (what train.py at ``commit`` prints)."""
    import random

    seed_effect = random.Random(f"seed-{seed}").gauss(0.0, 1.0)
    interaction = random.Random(f"commit-{commit}-seed-{seed}").gauss(0.0, 0.1)
    return (
        3.0 + seed_effect + 0.002 * commit + interaction + (regression if commit >= culprit else 0)
    )


def build(
    root: Path,
    *,
    n_commits: int = 12,
    culprit: int = 7,
    crash: int = 5,
    regression: float = 0.3,
    seeds: int = 4,
) -> SyntheticRepo:
    """Create the repository under ``root/repo``, a study file and a runs root beside it.

    The user's side of the repository is deliberately messy: a branch ``work`` checked out,
    a modified tracked file and an untracked one, so tests can check nothing of it changes.
    """
    repo = root / "repo"
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "work")
    (repo / "notes.txt").write_text("notes\n")
    shas = []
    for i in range(n_commits):
        (repo / "train.py").write_text(
            TRAIN_PY.format(
                commit=i, regression=regression if i >= culprit else 0.0, crash=i == crash
            )
        )
        git(repo, "add", "train.py", "notes.txt")
        git(repo, "commit", "-q", "-m", f"change {i}: tweak the training script")
        shas.append(git(repo, "rev-parse", "HEAD"))
    (repo / "notes.txt").write_text("notes\nuncommitted edit\n")
    (repo / "scratch.txt").write_text("untracked\n")
    calls = root / "calls.log"
    study = root / "study.toml"
    study.write_text(STUDY.format(seeds=seeds, python=sys.executable, calls=calls))
    return SyntheticRepo(
        repo=repo, study=study, calls=calls, runs=root / "runs", shas=shas,
        culprit=culprit, crash=crash,
    )  # fmt: skip


def user_state(repo: Path) -> dict[str, str]:
    """What bisect must leave alone: status, HEAD, branch, index, the dirty files' content."""
    return {
        "status": git(repo, "status", "--porcelain"),
        "head": git(repo, "rev-parse", "HEAD"),
        "branch": git(repo, "symbolic-ref", "HEAD"),
        "index": git(repo, "ls-files", "--stage"),
        "notes": (repo / "notes.txt").read_text(),
        "scratch": (repo / "scratch.txt").read_text(),
        "train": (repo / "train.py").read_text(),
    }


def worktrees(repo: Path) -> list[str]:
    return [
        line for line in git(repo, "worktree", "list", "--porcelain").splitlines()
        if line.startswith("worktree ")
    ]  # fmt: skip
