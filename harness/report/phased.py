"""``harness report`` on a phased study's root: one section per phase with its decision.

A phased study (:mod:`harness.study.phases`) leaves ``<root>/<phase>/`` study directories and
``<root>/phases.json`` with each finished phase's decision. The root page shows, per phase,
the decision as recorded when the phase ran ("winner X separates and is carried forward" or
"a tie: later phases keep the baseline"), its comparison table and forest plot, and a link to
the phase's full report, which is written beside it in ``<out>/<phase>/``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from harness.errors import UserError
from harness.report import format as f
from harness.report.page import Figures, Report, Section, html_page, markdown_page


def build_phased_report(
    root: Path, args: argparse.Namespace, out_dir: Path
) -> tuple[Report, dict[str, Report]]:
    """The root report and each phase's own report (by phase name).

    Args:
        root: the phased study's root directory.
        args: the ``harness report`` analysis options; ``--baseline`` does not apply (each
            phase has its own).
        out_dir: where the root report goes (phase reports go to ``out_dir / phase``).

    Raises:
        UserError: ``--baseline`` was given, or ``phases.json`` is unreadable.
    """
    from harness.commands.compare import compare_prepared, prepare
    from harness.report.html import build_report, forest_figure
    from harness.report.load import phase_names
    from harness.study.phases import PhaseDecision

    if args.baseline:
        raise UserError("--baseline does not apply to a phased study: each phase has its own")
    decisions = _decisions(root)
    names = phase_names(root)
    figures = Figures()
    overview_rows: list[list[str]] = []
    phase_sections: list[Section] = []
    phase_reports: dict[str, Report] = {}
    for index, name in enumerate(names, start=1):
        recorded = decisions.get(name)
        decision = (
            PhaseDecision(
                phase=name,
                chosen=str(recorded["chosen"]),
                winner=str(recorded["winner"]),
                separated=bool(recorded["separated"]),
                tiers=tuple(tuple(t) for t in recorded["tiers"]),
            )
            if recorded
            else None
        )
        text = _decision_text(decision)
        phase_args = argparse.Namespace(**{**vars(args), "path": str(root / name)})
        try:
            prepared = prepare(phase_args)
            result = compare_prepared(prepared, phase_args)
        except UserError as error:
            overview_rows.append([str(index), name, "-", text, "-"])
            phase_sections.append(
                Section(
                    title=f"Phase {index}: {name}",
                    paragraphs=[text, f"Warning: cannot compare this phase: {error}"],
                )
            )
            continue
        seeds = max(v.n for v in result.variants)
        overview_rows.append(
            [str(index), name, f"{len(result.variants)} × {seeds}", text, _carried(decision)]
        )
        phase_reports[name] = build_report(
            result,
            title=f"{root.name} · phase {name}",
            source=str(root / name),
            agg=args.agg,
            table=prepared.inputs.table,
            curves=prepared.inputs.curves(),
            runs=prepared.table,
            sweep=prepared.inputs.meta.get("sweep"),
            paired=args.paired,
        )
        key = f"{name}_forest"
        figures.add(key, f"report_{key}.png", f"Phase {name}: differences", forest_figure(result))
        paragraphs = [
            text,
            f.design_line(result) + ".",
            f"Tiers (best first): {f.tiers_line(result)}.",
        ]
        if decision is not None and _tier_sets(decision.tiers) != _tier_sets(result.tiers):
            paragraphs.append(
                "The decision was made with the study's settings when the phase ran; with this "
                "report's settings the tiers come out as shown here."
            )
        paragraphs += [f"Warning: {w}" for w in result.warnings]
        phase_sections.append(
            Section(
                title=f"Phase {index}: {name}",
                paragraphs=paragraphs,
                headers=f.comparison_headers(result),
                rows=f.comparison_cells(result),
                figure=key,
                links=[
                    (f"Full report of phase {name}", f"{name}/report.html", f"{name}/report.md")
                ],
            )
        )
    overview = Section(
        title="Phases and decisions",
        paragraphs=[
            "Each phase is compared against its own baseline. A phase carries its winner "
            "forward only when the winner separates from every other variant of the phase (it "
            "stands alone in the top tier after multiplicity correction); otherwise the phase "
            "was a tie and later phases build on its baseline."
        ],
        headers=["#", "phase", "variants × seeds", "decision", "carried forward"],
        rows=overview_rows,
    )
    sections = [overview, *phase_sections]
    meta = f"phased study · {len(names)} phase(s) · source {root}"
    title = root.name
    report = Report(
        html=html_page(title, meta, sections, figures),
        markdown=markdown_page(title, meta, sections, figures),
        images=figures.images,
    )
    return report, phase_reports


def _decisions(root: Path) -> dict[str, dict[str, Any]]:
    try:
        payload = json.loads((root / "phases.json").read_text())
        return {str(d["phase"]): d for d in payload}
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UserError(
            f"{root / 'phases.json'}: cannot read the phase decisions: {error}"
        ) from None


def _tier_sets(tiers: Any) -> list[frozenset[str]]:
    return [frozenset(tier) for tier in tiers]


def _decision_text(decision: Any) -> str:
    if decision is None:
        return "Not decided yet: the phase has not finished."
    if decision.separated:
        return f"Winner '{decision.winner}' separates from the rest and is carried forward."
    top = ", ".join(decision.tiers[0]) if decision.tiers else decision.winner
    return (
        f"A tie (top tier: {top}): no variant separates, so later phases keep the baseline "
        f"'{decision.chosen}'."
    )


def _carried(decision: Any) -> str:
    if decision is None:
        return "-"
    return decision.chosen if decision.separated else f"{decision.chosen} (baseline, tie)"
