"""The fault-injection loops (``tests/faults/fault_loop.py``): kill -9, SIGTERM, SIGSTOP +
SIGCONT and Ctrl-C at random (seeded) moments of a study, a search and an ``--until-decided``
study, each resumed and checked: every finished run recorded exactly once, every verdict the
uninterrupted study's, no process of the study left alive.

``pytest -m faults`` runs the loops, ``HARNESS_FAULT_ITERATIONS`` faults of each kind
(default 4: one of each signal); the default run (and CI) leaves them out and runs
:func:`test_one_fault_of_each_kind` instead, three faults in about a minute.
``benchmarks/fault_injection.py`` runs 20 or more of each (docs/benchmarks.md).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fault_loop import KINDS, Scenario, baseline, fault_loop, run_iteration

ITERATIONS = int(os.environ.get("HARNESS_FAULT_ITERATIONS", "4"))
SEED = int(os.environ.get("HARNESS_FAULT_SEED", "20261207"))


@pytest.mark.faults
@pytest.mark.parametrize("kind", KINDS)
def test_faults_at_random_moments_change_nothing(kind: str, tmp_path: Path) -> None:
    lines: list[str] = []
    results = fault_loop(kind, ITERATIONS, workdir=tmp_path, seed=SEED, say=lines.append)
    assert len(results) == ITERATIONS
    assert not [r for r in results if r.new], "\n".join(lines)


@pytest.mark.parametrize(
    ("kind", "fault"), [("study", "kill-9"), ("tune", "ctrl-c"), ("until-decided", "sigterm")]
)
def test_one_fault_of_each_kind(kind: str, fault: str, tmp_path: Path) -> None:
    """A fault a third of the way into each kind of study: short enough for every run."""
    import random

    reference = baseline(Scenario(kind=kind, root=tmp_path / "uninterrupted"))
    result = run_iteration(
        Scenario(kind=kind, root=tmp_path / "faulted"),
        fault,
        reference.seconds / 3,
        reference.verdicts,
        random.Random(SEED),
        rerun_s=reference.rerun_seconds,
    )
    assert result.landed, "the fault hit a running study"
    assert not result.new, result.problems
