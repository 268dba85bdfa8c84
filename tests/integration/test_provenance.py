"""Provenance comes from the repository the run's code is in, not from where harness runs.

A command with ``cwd`` in another git repository records that repository's commit; with an
uncommitted change there, the run is marked dirty and the change is saved beside the run
(``git.diff``), so the code can be rebuilt with ``git checkout COMMIT && git apply git.diff``.
Without a ``cwd``, the study file's repository is the one recorded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """\
import json, os, sys
seed = int(sys.argv[1])
with open(os.path.join(os.environ["HARNESS_RUN_DIR"], "metrics.jsonl"), "a") as f:
    f.write(json.dumps({"step": 1, "val_loss": 2.0 + 0.01 * seed}) + "\\n")
"""


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def make_repo(path: Path, files: dict[str, str]) -> str:
    path.mkdir(parents=True)
    git(path, "init", "-q")
    for name, text in files.items():
        (path / name).write_text(text)
    git(path, "add", *files)
    git(path, "commit", "-q", "-m", "initial")
    return git(path, "rev-parse", "HEAD")


def run_study(study: Path, runs: Path, *, cwd: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "harness", "study", str(study), "--runs-dir", str(runs),
         "--no-wandb", "--no-progress", "--jobs", "1"],
        cwd=cwd, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def records(runs: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(runs.rglob("record.json"))]


@pytest.mark.skipif(subprocess.run(["git", "--version"]).returncode != 0, reason="no git")
def test_a_command_in_another_repository_records_its_commit_and_diff(tmp_path: Path) -> None:
    code = tmp_path / "training_repo"
    commit = make_repo(code, {"train.py": SCRIPT})
    (code / "train.py").write_text(SCRIPT + "# tuned the schedule, not committed yet\n")
    # the study file lives outside any repository; harness runs from a third directory
    study = tmp_path / "study.toml"
    study.write_text(
        f"""
        [study]
        name = "prov"
        seeds = 1
        [base]
        command = "python train.py {{seed}}"
        cwd = "{code}"
        [variants.a]
        """.replace("\n        ", "\n")
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    run_study(study, tmp_path / "runs", cwd=elsewhere)

    (record,) = records(tmp_path / "runs")
    provenance = record["provenance"]
    assert record["status"] == "done"
    assert provenance["git_commit"] == commit
    assert provenance["git_dirty"] is True
    assert Path(provenance["git_repo"]).resolve() == code.resolve()
    assert provenance["git_diff"] == "git.diff"
    diff = (tmp_path / "runs" / "prov" / "runs" / "a" / "s0" / "git.diff").read_text()
    assert "+# tuned the schedule, not committed yet" in diff
    # the saved diff rebuilds the run's code from the recorded commit
    rebuilt = tmp_path / "rebuilt"
    git(tmp_path, "clone", "-q", str(code), str(rebuilt))
    git(rebuilt, "checkout", "-q", commit)
    git(rebuilt, "apply", str(tmp_path / "runs" / "prov" / "runs" / "a" / "s0" / "git.diff"))
    assert (rebuilt / "train.py").read_text() == (code / "train.py").read_text()


@pytest.mark.skipif(subprocess.run(["git", "--version"]).returncode != 0, reason="no git")
def test_without_cwd_the_study_files_repository_is_recorded(tmp_path: Path) -> None:
    studies = tmp_path / "studies_repo"
    study_text = f"""
[study]
name = "prov_clean"
seeds = 1
[base]
command = "python {studies}/train.py {{seed}}"
[variants.a]
"""
    commit = make_repo(studies, {"study.toml": study_text, "train.py": SCRIPT})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    run_study(studies / "study.toml", tmp_path / "runs", cwd=elsewhere)

    (record,) = records(tmp_path / "runs")
    assert record["status"] == "done", record
    assert record["provenance"]["git_commit"] == commit
    assert record["provenance"]["git_dirty"] is False
    assert record["provenance"]["git_diff"] is None
    assert not (tmp_path / "runs" / "prov_clean" / "runs" / "a" / "s0" / "git.diff").exists()
