"""Fixtures of the import tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from import_helpers import LOGS


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    """A writable copy of the fixture logs (tests that damage or add runs)."""
    copy = tmp_path / "logs"
    shutil.copytree(LOGS, copy)
    return copy
