"""Helpers of the import tests: the fixture logs, the CLI, and harness's own compare."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from harness.cli import main

LOGS = Path(__file__).parent / "fixtures" / "logs"
FINAL_STEP = 45


def harness(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``harness ARGV`` in-process: (exit code, stdout, stderr)."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def compare_json(capsys: pytest.CaptureFixture[str], path: Path, *extra: str) -> dict[str, Any]:
    """``harness compare PATH --format json`` as data."""
    code, out, err = harness(capsys, "compare", str(path), "--format", "json", *extra)
    assert code == 0, err
    return json.loads(out)


def expected_table(tmp_path: Path, *, seeds: tuple[int, ...] | None = None) -> Path:
    """The fixtures' own numbers, final step, as the run table harness compare reads."""
    table = pl.read_csv(LOGS / "expected.csv").filter(pl.col("step") == FINAL_STEP).drop("step")
    if seeds is not None:
        table = table.filter(pl.col("seed").is_in(list(seeds)))
    path = tmp_path / "expected_final.csv"
    table.write_csv(path)
    return path
