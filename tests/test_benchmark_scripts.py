"""Every script in benchmarks/ imports: the figures in docs/benchmarks.md come from them, and a
function moved between modules must break CI, not the next person who reruns a benchmark."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = sorted(path.stem for path in BENCHMARKS.glob("*.py"))


def test_the_benchmarks_folder_has_scripts() -> None:
    assert "sequential_savings" in SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS)
def test_benchmark_script_imports(script: str) -> None:
    # A fresh interpreter per script: each imports what it needs from a clean state.
    code = f"import sys; sys.path.insert(0, {str(BENCHMARKS)!r}); import {script}"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
