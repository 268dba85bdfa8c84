"""A study directory written by an earlier harness resumes and compares with this one.

``tests/fixtures/legacy_study/`` was produced by harness at commit 8fcdcf7 (before the
study/run/store/report rooms): ``harness study legacy.toml --runs-dir runs --no-wandb`` ran
2 variants x 4 seeds, then the records and metrics of seed 3 were deleted, as if the study had
been killed before those runs finished. ``expected_compare.json`` is what that harness's
``harness compare runs/legacy --metric val_loss --format json`` printed on the complete study.
The script is deterministic, so the resumed study must compare exactly the same.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "legacy_study"


def harness(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def legacy(tmp_path: Path) -> Path:
    root = tmp_path / "legacy_study"
    shutil.copytree(FIXTURE, root)
    return root


def test_an_old_study_directory_resumes_only_its_unfinished_runs(legacy: Path) -> None:
    before = {path: path.read_bytes() for path in (legacy / "runs").rglob("record.json")}
    assert len(before) == 6

    result = harness("study", "legacy.toml", "--runs-dir", "runs", "--no-wandb", cwd=legacy)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 run(s) executed now, 6 already finished" in " ".join(result.stdout.split())
    for path, content in before.items():
        assert path.read_bytes() == content, f"{path} was rewritten"
    assert len(list((legacy / "runs").rglob("record.json"))) == 8


def test_an_old_study_directory_compares_as_before(legacy: Path) -> None:
    resumed = harness("study", "legacy.toml", "--runs-dir", "runs", "--no-wandb", cwd=legacy)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr

    result = harness(
        "compare", "runs/legacy", "--metric", "val_loss", "--format", "json", cwd=legacy
    )

    assert result.returncode == 0, result.stderr
    now = json.loads(result.stdout)
    expected = json.loads((legacy / "expected_compare.json").read_text())
    assert now["variants"] == expected["variants"]
    for new, old in zip(now["comparisons"], expected["comparisons"], strict=True):
        for key, value in old.items():  # fields may be added, none changed
            expected_value = pytest.approx(value, rel=1e-12) if isinstance(value, float) else value
            assert new[key] == expected_value, key
    assert now["tiers"] == expected["tiers"]
