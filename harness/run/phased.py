"""Running a phased study: each phase in order, each decided from its results, the decisions
stored at the study's root (``harness.store.write_phase_decisions``).

The plan — which phases, and what each builds on — is :mod:`harness.study.phases`. A phase's
chosen variant is its winner only when the winner separates (it stands alone in the top tier of
``analysis.compare``); otherwise the phase was a tie and later phases build on its baseline.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from analysis.verdict import improvement
from harness.store import PhaseDecision, write_phase_decisions
from harness.study.phases import PhasedStudy
from harness.study.spec import StudySpec


def decide(spec: StudySpec, table: Any) -> PhaseDecision:
    """The phase's decision from its results table.

    Args:
        spec: the phase's study.
        table: its results (``variant``, ``seed``, metric columns), as ``load_table`` gives.

    Returns:
        The winner by mean among the top tier, and the variant later phases build on: the
        winner when it separates, else the baseline.
    """
    from analysis import compare
    from analysis.compare import AnalysisError

    try:
        result = compare(
            table, metric=spec.metric, baseline=spec.baseline, direction=spec.direction
        )
    except AnalysisError:  # e.g. a variant with fewer than 2 finished seeds: nothing separates
        names = tuple(v.name for v in spec.variants)
        return PhaseDecision(
            phase=spec.name,
            chosen=spec.baseline,
            winner=spec.baseline,
            separated=False,
            tiers=(names,),
        )
    top = result.tiers[0]
    means = {v.variant: v.mean for v in result.variants}
    winner = max(top, key=lambda name: improvement(means[name], spec.direction))
    separated = len(top) == 1
    return PhaseDecision(
        phase=spec.name,
        chosen=winner if separated else spec.baseline,
        winner=winner,
        separated=separated,
        tiers=tuple(tuple(t) for t in result.tiers),
    )


def run_phases(
    phased: PhasedStudy,
    *,
    runs_root: Path,
    run_phase: Callable[[StudySpec, Path], Any],
    load_table: Callable[[Path], Any],
    announce: Callable[[str], None] = print,
) -> list[PhaseDecision]:
    """Run the phases in order; each phase's finished runs are reused on a rerun.

    Args:
        phased: the validated phased study.
        runs_root: the runs root; phases go to ``runs_root / phased.name / <phase>``.
        run_phase: runs one phase's study given its runs root (``harness.run.runner.run_study``).
        load_table: the results table of a study directory (``harness.store.load_table``).
        announce: where progress lines go.

    Returns:
        Each phase's decision, in phase order (also stored after each phase).
    """
    root = runs_root / phased.name
    chosen: dict[str, str] = {}
    decisions: list[PhaseDecision] = []
    for index, phase in enumerate(phased.phases):
        spec = phased.phase_spec(index, chosen)
        announce(
            f"phase {index + 1}/{len(phased.phases)}: {spec.name} "
            f"({len(spec.variants)} variants x {len(spec.seeds)} seeds)"
        )
        run_phase(spec, root)
        decision = decide(spec, load_table(root / spec.name))
        chosen[phase["name"]] = decision.chosen
        decisions.append(decision)
        announce(decision.describe())
        write_phase_decisions(root, decisions)
    return decisions
