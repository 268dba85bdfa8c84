"""One look for verdicts in every renderer: the terminal (rich), markdown and HTML pages.

Keyed by :class:`analysis.verdict.Verdict` and :class:`analysis.verdict.Direction`: the rich
style a verdict is printed in, its colour on a page and in a figure, the words added to a
verdict that was withheld or is still open, and how a report says which way is better.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass

from analysis.verdict import Direction, Verdict, Withheld

__all__ = [
    "BETTER_WORDS",
    "CHECK_COLOUR",
    "FUTILITY_NOTE",
    "OPEN_VERDICT_NOTE",
    "SURVIVORS_ONLY_MARK",
    "VERDICT_COLOUR",
    "VERDICT_STYLE",
    "WITHHELD_NOTE",
    "BetterWords",
    "VerdictLook",
    "check_css",
    "verdict_css",
]


@dataclass(frozen=True, kw_only=True)
class VerdictLook:
    """How one verdict looks.

    Attributes:
        terminal: the rich style in the terminal.
        colour: its colour on an HTML page and in figures; None leaves it uncoloured.
        bold: whether the page sets it bold.
    """

    terminal: str
    colour: str | None = None
    bold: bool = False


LOOKS: dict[Verdict, VerdictLook] = {
    Verdict.BETTER: VerdictLook(terminal="bold green", colour="#1a7f37", bold=True),
    Verdict.WORSE: VerdictLook(terminal="bold red", colour="#cf222e", bold=True),
    Verdict.INTERACTION: VerdictLook(terminal="bold magenta"),
    Verdict.DIFFERS: VerdictLook(terminal="bold yellow"),
    Verdict.EQUIVALENT: VerdictLook(terminal="cyan", colour="#0969da"),
    Verdict.INDISTINGUISHABLE: VerdictLook(terminal="dim", colour="#6e7781"),
    Verdict.NOT_ESTIMABLE: VerdictLook(terminal="dim"),
    # A fixed-design comparison with a single-run side: no verdict yet (more seeds decide).
    Verdict.UNDECIDED: VerdictLook(terminal="dim yellow"),
}

# Keyed by Verdict, read with the words a table cell holds (a StrEnum equals its word).
#: Verdict -> rich style, for the terminal tables.
VERDICT_STYLE: Mapping[str, str] = {verdict: look.terminal for verdict, look in LOOKS.items()}

#: Verdict -> colour, for page tables and figures (only the verdicts a page colours).
VERDICT_COLOUR: Mapping[str, str] = {
    verdict: look.colour for verdict, look in LOOKS.items() if look.colour is not None
}

#: The words of the checks that are not comparisons -> colour on a page and in a figure: the
#: coordinate check's verdict, a bisected commit's verdict, the regress gate's outcome.
CHECK_COLOUR: Mapping[str, str] = {
    "PASS": "#1a7f37",
    "FAIL": "#cf222e",
    "INCONCLUSIVE": "#9a6700",
    "good": "#1a7f37",
    "bad": "#cf222e",
    "skip": "#6e7781",
    "no_regression": "#1a7f37",
    "equivalent": "#0969da",
    "regression": "#cf222e",
    "failed": "#cf222e",
}


def check_css() -> str:
    """The page's CSS for a check's word in a table cell (``<td class="check-PASS">``)."""
    return (
        "\n".join(
            f".check-{word} {{ color: {colour}; font-weight: 600; text-align: left; }}"
            for word, colour in CHECK_COLOUR.items()
        )
        + "\n"
    )


#: Why a verdict was withheld, in the words a table adds to it.
WITHHELD_NOTE: dict[Withheld, str] = {
    Withheld.UNMEASURED_NOISE: "noise unmeasured",
    Withheld.LOST_RUNS: "lost runs",
    Withheld.TOO_FEW_SEEDS: "one seed: no verdict",
}

#: Added to an interval computed from the surviving runs alone (either side lost runs): it is
#: biased when the losses depend on the outcome; the verdict went through the worst-case rule.
#: (analysis.lost_runs.survivors_only_notes explains the mark in the report's warnings).
SURVIVORS_ONLY_MARK = "†"

#: What a futility stop shows, added to its verdict: the effect is unlikely to reach the
#: margin (not "there is no effect": an effect smaller than the margin may well be there).
#: Keyed by whether a margin was stated (else the design's default: the effect the seed budget
#: detects with 80 % power).
FUTILITY_NOTE: dict[bool, str] = {
    True: "futility stop: the effect is unlikely to reach the margin",
    False: "futility stop: the effect is unlikely to reach what the seed budget could detect",
}

#: What an open sequential verdict means, added to it in a table.
OPEN_VERDICT_NOTE: dict[Verdict, str] = {
    Verdict.UNDECIDED: "more seeds could decide",
    Verdict.INCONCLUSIVE: "seed budget spent",
}


@dataclass(frozen=True, kw_only=True)
class BetterWords:
    """How a report says which way is better.

    Attributes:
        values: which values are better ("lower" / "higher").
        arrow: an axis label's pointer to the better side.
        of_zero: which side of 0 a difference is better on ("below" / "above").
    """

    values: str
    arrow: str
    of_zero: str


BETTER_WORDS: dict[Direction, BetterWords] = {
    Direction.MINIMIZE: BetterWords(values="lower", arrow="← better", of_zero="below"),
    Direction.MAXIMIZE: BetterWords(values="higher", arrow="better →", of_zero="above"),
}


def verdict_css() -> str:
    """The page's CSS for coloured verdict cells: left-aligned like words, in their colour."""
    coloured = [(verdict, look) for verdict, look in LOOKS.items() if look.colour is not None]
    selectors = ["td:first-child", "th:first-child", "td.text"]
    selectors += [f"td.{verdict}" for verdict, _ in coloured]
    align = textwrap.fill(", ".join(selectors) + " { text-align: left; }", width=80)
    rules = [
        f".{verdict} {{ color: {look.colour};{' font-weight: 600;' if look.bold else ''} }}"
        for verdict, look in coloured
    ]
    lines = [" ".join(rules[i : i + 2]) for i in range(0, len(rules), 2)]
    return align + "\n" + "\n".join(lines) + "\n"
