"""``harness report`` on a phased study's root: one section per phase with its decision.

A phased study (:mod:`harness.study.phases`) leaves ``<root>/<phase>/`` study directories and
``<root>/phases.json`` with each finished phase's decision. The root page shows, per phase,
the decision as recorded when the phase ran ("winner X separates and is carried forward" or
"a tie: later phases keep the baseline"), its comparison table and forest plot, and a link to
the phase's full report, which is written beside it in ``<out>/<phase>/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import UserError
from harness.report import format as f
from harness.report.page import Figures, Report, Section, html_page, markdown_page

if TYPE_CHECKING:
    from harness.results.comparison import CompareOptions


def build_phased_report(
    root: Path, options: CompareOptions, out_dir: Path
) -> tuple[Report, dict[str, Report]]:
    """The root report and each phase's own report (by phase name).

    Args:
        root: the phased study's root directory.
        options: the comparison options, applied to every phase; ``baseline`` does not apply
            (each phase has its own).
        out_dir: where the root report goes (phase reports go to ``out_dir / phase``).

    Returns:
        ``(root report, {phase name: phase report})``.

    Raises:
        UserError: ``--baseline`` was given, or ``phases.json`` is unreadable.
    """
    from harness.report.html import forest_figure, study_report
    from harness.results.comparison import compare_prepared, prepare
    from harness.results.load import phase_names
    from harness.store import read_phase_decisions

    if options.baseline:
        raise UserError("--baseline does not apply to a phased study: each phase has its own")
    decisions = {decision.phase: decision for decision in read_phase_decisions(root)}
    names = phase_names(root)
    figures = Figures()
    overview_rows: list[list[str]] = []
    phase_sections: list[Section] = []
    phase_reports: dict[str, Report] = {}
    for index, name in enumerate(names, start=1):
        decision = decisions.get(name)
        text = _decision_text(decision)
        try:
            prepared = prepare(str(root / name), options)
            result = compare_prepared(prepared, options)
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
        phase_reports[name] = study_report(
            prepared, result, options, title=f"{root.name} · phase {name}"
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
