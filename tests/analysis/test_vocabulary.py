"""One vocabulary for verdicts: ``Direction``, ``Verdict`` and the sign convention are defined
once (``analysis/verdict.py``), the worst-case rule for lost runs is one function, and one
report style serves every renderer."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest

from analysis.lost_runs import worst_case_stands, worst_value
from analysis.verdict import (
    Direction,
    Verdict,
    Withheld,
    as_direction,
    improvement,
    improvement_interval,
)

REPO = Path(__file__).resolve().parents[2]
# The vocabulary itself, and the study schema that reads the words from a study file.
MAY_SPELL_DIRECTIONS = {Path("analysis/verdict.py"), Path("harness/study/spec.py")}
DIRECTION_WORDS = ("minimize", "maximize")


def spelled_directions(source: str) -> list[int]:
    """Lines where ``source`` spells a direction: a string constant that is exactly one of
    the two words, or the word in double quotes anywhere (what ``grep '"minimize"'`` finds,
    docstrings included)."""
    lines = {
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and node.value in DIRECTION_WORDS
    }
    for number, line in enumerate(source.splitlines(), start=1):
        if any(f'"{word}"' in line for word in DIRECTION_WORDS):
            lines.add(number)
    return sorted(lines)


def test_the_scan_finds_a_direction_spelled_out() -> None:
    assert spelled_directions('sign = 1 if d == "minimize" else -1\n') == [1]
    assert spelled_directions("x = 1\npick = min if d == 'maximize' else max\n") == [2]
    assert spelled_directions('def f():\n    """Lower is "minimize"."""\n') == [2]
    assert spelled_directions("words = 'minimize or maximize'\nd = Direction.MINIMIZE\n") == []


def test_directions_are_spelled_only_by_the_vocabulary_and_the_study_schema() -> None:
    found = []
    for root in ("harness", "analysis"):
        for path in sorted((REPO / root).rglob("*.py")):
            relative = path.relative_to(REPO)
            if relative in MAY_SPELL_DIRECTIONS:
                continue
            found += [f"{relative}:{line}" for line in spelled_directions(path.read_text())]
    assert not found, (
        "spell directions as analysis.verdict.Direction and flip signs with improvement(): "
        + ", ".join(found)
    )


def test_direction_and_verdict_are_defined_once() -> None:
    definitions = []
    for root in ("harness", "analysis"):
        for path in sorted((REPO / root).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                names = []
                if isinstance(node, ast.ClassDef):
                    names = [node.name]
                elif isinstance(node, ast.Assign):
                    names = [t.id for t in node.targets if isinstance(t, ast.Name)]
                elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                    names = [node.target.id]
                definitions += [
                    f"{path.relative_to(REPO)}:{name}"
                    for name in names
                    if name in ("Direction", "Verdict")
                ]
    assert definitions == ["analysis/verdict.py:Direction", "analysis/verdict.py:Verdict"]


def test_words_are_the_strings_every_report_and_json_file_holds() -> None:
    assert [d.value for d in Direction] == ["minimize", "maximize"]
    assert Direction.MINIMIZE == "minimize" and f"{Direction.MAXIMIZE}" == "maximize"
    assert json.dumps({"direction": Direction.MAXIMIZE, "verdict": Verdict.NOT_ESTIMABLE}) == (
        '{"direction": "maximize", "verdict": "not estimable"}'
    )
    assert {v.value for v in Verdict} >= {
        "better", "worse", "equivalent", "indistinguishable", "undecided", "inconclusive",
    }  # fmt: skip
    assert {w.value for w in Withheld} == {"unmeasured_noise", "lost_runs", "too_few_seeds"}


def test_as_direction_names_the_bad_value() -> None:
    assert as_direction("maximize") is Direction.MAXIMIZE
    with pytest.raises(ValueError, match="direction must be 'minimize' or 'maximize', got 'max'"):
        as_direction("max")


def test_improvement_is_positive_when_better() -> None:
    # variant - baseline = -0.5: lower, so better when minimizing and worse when maximizing.
    assert improvement(-0.5, Direction.MINIMIZE) == 0.5
    assert improvement(-0.5, "maximize") == -0.5
    values = np.array([1.0, -2.0, np.nan])
    np.testing.assert_array_equal(improvement(values, "minimize"), [-1.0, 2.0, np.nan])
    np.testing.assert_array_equal(improvement(values, "maximize"), values)


def test_improvement_interval_swaps_its_ends_when_lower_is_better() -> None:
    # The CI [-0.3, -0.1] of variant - baseline: wholly better when minimizing ...
    assert improvement_interval(-0.3, -0.1, Direction.MINIMIZE) == (0.1, 0.3)
    # ... and wholly worse when maximizing.
    assert improvement_interval(-0.3, -0.1, Direction.MAXIMIZE) == (-0.3, -0.1)
    low, high = improvement_interval(np.array([-1.0, 0.5]), np.array([1.0, 2.0]), "minimize")
    np.testing.assert_array_equal(low, [-1.0, -2.0])
    np.testing.assert_array_equal(high, [1.0, -0.5])


def test_worst_value_is_the_worst_finite_value_for_the_direction() -> None:
    values = [[1.0, np.nan, 3.0], [2.0, -np.inf, 0.5]]
    assert worst_value(values, Direction.MINIMIZE) == 3.0
    assert worst_value(values, Direction.MAXIMIZE) == 0.5


def test_worst_case_rule_imputes_the_winners_lost_runs_only() -> None:
    values = np.array([[1.0, 1.1, 1.2], [0.5, np.nan, 0.6]])
    lost = np.array([[False, False, False], [False, True, False]])
    seen = []

    def holds(imputed: np.ndarray) -> bool:
        seen.append(imputed)
        return False

    # Row 1 lost its run on seed 1: its claim is judged with that run at the worst value.
    assert not worst_case_stands(values, lost, winner=1, loser=0, worst=9.0, holds=holds)
    np.testing.assert_array_equal(seen[0], [[1.0, 1.1, 1.2], [0.5, 9.0, 0.6]])
    # Row 0 lost nothing: its claim stands without a re-test.
    assert worst_case_stands(values, lost, winner=0, loser=1, worst=9.0, holds=holds)
    assert len(seen) == 1
