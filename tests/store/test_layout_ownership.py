"""The store alone names the files of a study and of a run (harness.store.layout.RunDir).

Any other module that needs one asks a ``RunDir`` for its path; a file name spelled as a string
literal outside ``harness/store/`` is a second owner of the layout, and fails here.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from harness.store.layout import COMMAND_RESULT_FILES, RunDir

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("harness", "analysis")
OWNER = ROOT / "harness" / "store"
# every file name of the layout: a run's files, and the study's own
RUN_FILES = {
    path.name
    for path in (
        RunDir(Path("run")).config,
        RunDir(Path("run")).claim,
        RunDir(Path("run")).metrics,
        RunDir(Path("run")).record,
        RunDir(Path("run")).output,
        RunDir(Path("run")).worker_log,
        RunDir(Path("run")).executor,
        RunDir(Path("run")).slurm_log,
        RunDir(Path("run")).git_diff,
    )
}
LAYOUT_NAMES = RUN_FILES | {"study.json", "phases.json", "sequential.json"}
LAYOUT_NAMES |= set(COMMAND_RESULT_FILES.values())  # coordcheck.json, bisect.json, regress.json
# the check the issue names, as a grep: a quoted file name anywhere in a line
QUOTED = re.compile(
    r'"(metrics\.jsonl|record\.json|config\.json|worker\.log|output\.log|claim\.json|study\.json)"'
)


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of the docstring nodes of a module, its classes and functions."""
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def literal_file_names(source: str) -> list[tuple[int, str]]:
    """(line, name) for every string literal in ``source`` that is a layout file name.

    Docstrings and comments do not count; an f-string's literal parts do.
    """
    tree = ast.parse(source)
    skip = _docstrings(tree)
    return sorted(
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in skip
        and node.value in LAYOUT_NAMES
    )


def _sources() -> list[Path]:
    files = [path for folder in SCANNED for path in sorted((ROOT / folder).rglob("*.py"))]
    return [path for path in files if not path.is_relative_to(OWNER)]


def test_the_layout_names_every_file_of_a_run() -> None:
    assert {
        "config.json",
        "claim.json",
        "metrics.jsonl",
        "record.json",
        "output.log",
        "worker.log",
    } <= RUN_FILES


def test_the_scanner_finds_a_literal_file_name_and_skips_docstrings_and_comments() -> None:
    source = (
        '"""Reads record.json: "record.json"."""\n'
        "# a comment naming 'metrics.jsonl'\n"
        "def f(run_dir):\n"
        '    """The run\'s "config.json"."""\n'
        '    return run_dir / "metrics.jsonl", f"{run_dir}" + "worker.log"\n'
    )
    assert literal_file_names(source) == [(5, "metrics.jsonl"), (5, "worker.log")]


@pytest.mark.parametrize("path", _sources(), ids=lambda path: str(path.relative_to(ROOT)))
def test_no_module_outside_the_store_spells_a_layout_file_name(path: Path) -> None:
    found = literal_file_names(path.read_text(encoding="utf-8"))
    assert not found, (
        f"{path.relative_to(ROOT)} spells the store's file names {found}: "
        "ask harness.store.layout.RunDir for the path instead"
    )


def test_no_quoted_file_name_outside_the_store() -> None:
    hits = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in _sources()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if QUOTED.search(line)
    ]
    assert not hits, "\n".join(hits)
