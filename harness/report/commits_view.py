"""The sections a commits study's page opens with: the last ``harness bisect`` over it (the
path it took: each tested commit in history order with its estimate against the good endpoint,
its interval, its verdict and when it was tested) and the last ``harness regress`` (HEAD
against the reference, its interval and the tolerance). They render the ``bisect.json`` /
``regress.json`` the commands saved in the study directory; nothing is run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from analysis.verdict import improvement
from harness.errors import UserError
from harness.report.page import Figures, Section
from harness.report.style import CHECK_COLOUR
from harness.report.svg_plot import IntervalRow, interval_rows
from harness.store.command_results import command_result_path, read_command_result

GREY = "#6e7781"


def _signed(value: Any) -> str:
    return "" if value is None else f"{value:+.4g}"


def _worse_sign(direction: str) -> float:
    """The sign of a difference that is worse: + when lower is better."""
    return -improvement(1.0, direction)


def bisect_sections(result: dict[str, Any], figures: Figures) -> list[Section]:
    """The bisect's outcome, its path as an interval plot, and the table of tested commits."""
    metric = result.get("metric", "metric")
    outcome = result["outcome"]
    level = f"{100 * (1 - result['alpha']):g}% CI"
    if outcome == "found":
        effect = result.get("effect") or {}
        head = (
            f"First bad commit: {result['first_bad'][:12]} {result.get('first_bad_subject') or ''}"
            f" — {metric} {_signed(effect.get('diff'))} against the good endpoint ({level} "
            f"{_signed(effect.get('ci_low'))} .. {_signed(effect.get('ci_high'))})."
        )
    else:
        head = f"First bad commit not determined ({outcome}): {result.get('reason') or ''}"
    order = {t["commit"]: index + 1 for index, t in enumerate(result["tested"])}
    tested = sorted(result["tested"], key=lambda t: t["position"])
    rows = []
    for t in tested:
        estimate = t.get("vs_good") or {}
        word = t["verdict"] + ("*" if t["forced"] else "")
        if t["role"] == "good endpoint":
            word = "good (endpoint)"
        rows.append(
            IntervalRow(
                label=f"{t['position']:>3} {t['short']} #{order[t['commit']]}",
                estimate=0.0 if t["role"] == "good endpoint" else estimate.get("diff"),
                low=estimate.get("ci_low"),
                high=estimate.get("ci_high"),
                colour=CHECK_COLOUR.get(t["verdict"], GREY),
                word=word,
                data={"commit": t["commit"], "verdict": t["verdict"], "role": t["role"]},
            )
        )
    references = [(0.0, "good endpoint")]
    if result.get("margin") is not None:
        references.append((_worse_sign(result["direction"]) * result["margin"], "margin"))
    svg = interval_rows(
        rows,
        x_label=f"{metric}: difference from the good endpoint ({level}, paired by seed)",
        references=references,
        css="bisect-path",
    )
    figures.add_svg("bisect", "report_bisect.svg", "The commits the bisect tested", svg)
    table_rows = [
        [
            str(t["position"]),
            t["short"],
            t["role"],
            t["verdict"],
            str(order[t["commit"]]),
            str(t["seeds"]),
            _signed((t.get("vs_good") or {}).get("diff")),
            (
                f"{_signed(t['vs_good']['ci_low'])} .. {_signed(t['vs_good']['ci_high'])}"
                if t.get("vs_good")
                else ""
            ),
            "forced" if t["forced"] else (t.get("error") or ""),
            t.get("subject", ""),
        ]
        for t in tested
    ]
    forced = any(t["forced"] for t in tested)
    return [
        Section(
            title="Bisect",
            paragraphs=[
                head,
                f"Exit code {result.get('exit_code', '')}. Each commit in history order (good "
                "endpoint first), its difference from the good endpoint with its interval, and "
                "its verdict; #k is the order it was tested in (the bisect's path). Alpha spent "
                f"{result['alpha_spent']:.3g} of {result['alpha']} over "
                f"{result['decisions_made']} decision(s)"
                + (
                    f"; margin {result['margin']:.4g}: a commit worse by less is good."
                    if result.get("margin") is not None
                    else "."
                ),
                *(
                    ["Warning: * a forced verdict at --max-seeds is not error-controlled."]
                    if forced
                    else []
                ),
            ],
            figure="bisect",
        ),
        Section(
            title="Tested commits",
            headers=[
                "position",
                "commit",
                "role",
                "verdict",
                "tested",
                "seeds",
                f"diff vs good ({metric})",
                level,
                "note",
                "subject",
            ],
            rows=table_rows,
            level=3,
        ),
    ]


def regress_sections(result: dict[str, Any], figures: Figures) -> list[Section]:
    """The regress gate's outcome, HEAD's interval against the reference and the tolerance."""
    comparison = result.get("comparison") or {}
    outcome = result["outcome"]
    paragraphs = [f"{result['message']} (exit code {result.get('exit_code', '')})."]
    sections = []
    if comparison:
        level = f"{100 * (1 - result['alpha']):g}% CI"
        metric = result.get("metric", "metric")
        tolerance = result.get("tolerance") or 0.0
        references = [(0.0, "reference")]
        if tolerance:
            references.append((_worse_sign(result["direction"]) * tolerance, "tolerance"))
        row = IntervalRow(
            label=f"{result.get('head', 'HEAD')}",
            estimate=comparison.get("diff"),
            low=comparison.get("ci_low"),
            high=comparison.get("ci_high"),
            colour=CHECK_COLOUR.get(outcome, GREY),
            word=outcome,
            data={"outcome": outcome},
        )
        svg = interval_rows(
            [row],
            x_label=f"{metric}: HEAD minus the reference ({level}, paired by seed)",
            references=references,
            css="regress-interval",
        )
        figures.add_svg("regress", "report_regress.svg", "HEAD against the reference", svg)
        sections.append(
            Section(
                title="Regress gate",
                paragraphs=paragraphs,
                headers=["outcome", "head", "reference", "diff", level, "p", "tolerance"],
                rows=[
                    [
                        outcome,
                        str(result.get("head", "")),
                        str(result.get("reference", "")),
                        _signed(comparison.get("diff")),
                        f"{_signed(comparison.get('ci_low'))} .. "
                        f"{_signed(comparison.get('ci_high'))}",
                        "" if comparison.get("p_value") is None else f"{comparison['p_value']:.2g}",
                        f"{tolerance:.4g}",
                    ]
                ],
                figure="regress",
            )
        )
    else:
        sections.append(Section(title="Regress gate", paragraphs=paragraphs))
    return sections


def commit_sections_of(study_dir: Path) -> Callable[[Figures], list[Section]] | None:
    """The lead sections of ``study_dir``'s page when bisect or regress saved a result there.

    Raises:
        UserError: a saved result is damaged (naming the file).
    """
    bisect = read_command_result(study_dir, "bisect")
    regress = read_command_result(study_dir, "regress")
    if bisect is None and regress is None:
        return None

    def lead(figures: Figures) -> list[Section]:
        sections: list[Section] = []
        for command, result, render in (
            ("bisect", bisect, bisect_sections),
            ("regress", regress, regress_sections),
        ):
            if result is None:
                continue
            try:
                sections += render(result, figures)
            except (KeyError, TypeError, ValueError, AttributeError) as error:
                path = command_result_path(study_dir, command)  # type: ignore[arg-type]
                raise UserError(
                    f"{path}: not a complete {command} result ({type(error).__name__}: "
                    f"{error}); run harness {command} again"
                ) from None
        return sections

    return lead
