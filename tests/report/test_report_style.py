"""One report style, keyed by Verdict, serves the terminal, markdown and HTML renderers."""

from __future__ import annotations

from analysis.verdict import Direction, Verdict
from harness.report.style import BETTER_WORDS, VERDICT_COLOUR, VERDICT_STYLE, verdict_css


def test_every_comparison_verdict_has_one_look_in_every_renderer() -> None:
    fixed = (Verdict.BETTER, Verdict.WORSE, Verdict.EQUIVALENT, Verdict.INDISTINGUISHABLE)
    for verdict in fixed:
        assert verdict in VERDICT_STYLE and verdict in VERDICT_COLOUR
        assert f".{verdict} {{ color: {VERDICT_COLOUR[verdict]};" in verdict_css()
    # A table cell holds the word: the style is found by it.
    assert VERDICT_STYLE["better"] == "bold green" and VERDICT_COLOUR["worse"] == "#cf222e"
    assert {BETTER_WORDS[d].values for d in Direction} == {"lower", "higher"}
