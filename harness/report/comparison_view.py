"""``harness compare``'s one entry point: compute the comparison asked for
(:mod:`harness.results.comparison`) and render it in the format asked for.

Three views of one input: the fixed-n comparison (or, for a ``[factors]`` study, its factorial
effects), the anytime-valid sequential verdicts (or the group-sequential design a study's
``--until-decided`` run stored), and the paired differences at every logged step.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Literal

from harness.results.comparison import CompareOptions, Prepared

# fixed: analysis.compare (factorial effects for a [factors] study); sequential:
# analysis.sequential_compare; over_steps: analysis.compare_over_steps.
CompareView = Literal["fixed", "sequential", "over_steps"]


@dataclass(frozen=True, kw_only=True)
class CompareSettings:
    """What ``harness compare`` was asked.

    Attributes:
        path: a study directory or name, a results file, or None for the most recent study.
        runs_dir: the runs root; None for the default.
        options: how to compare (metric, baseline, direction, alpha, margin ...).
        view: which comparison: ``fixed``, ``sequential`` or ``over_steps``.
        max_seeds: with the sequential view, the budget at which an undecided comparison is
            inconclusive; None for none.
        format: ``table``, ``markdown``, ``json`` or ``csv`` (csv not with ``sequential``).
    """

    path: str | None = None
    runs_dir: str | None = None
    options: CompareOptions = field(default_factory=CompareOptions)
    view: CompareView = "fixed"
    max_seeds: int | None = None
    format: Literal["table", "markdown", "json", "csv"] = "table"


def show_comparison(settings: CompareSettings) -> int:
    """Load the input, compare as ``settings`` asks, and print it on stdout.

    Args:
        settings: the input, the options and the view.

    Returns:
        0 (bad input raises).

    Raises:
        UserError: unreadable input, an unknown metric, anything the analysis rejects.
    """
    from harness.results.comparison import prepare

    prepared = prepare(settings.path, settings.options, runs_dir=settings.runs_dir)
    if settings.view == "over_steps":
        from harness.report.over_steps import render
        from harness.results.over_steps import over_steps_of

        render(
            over_steps_of(prepared, settings.options),
            settings.format,
            step_axis=prepared.inputs.step_axis(),
        )
    elif settings.view == "sequential":
        _show_sequential(settings, prepared)
    else:
        from harness.report.factorial import render_factorial
        from harness.report.text import render as render_comparison
        from harness.results.comparison import compare_prepared
        from harness.results.factorial import compare_factorial
        from harness.results.training_amount import unequal_training_note, with_note

        # Variants that trained for different amounts (a fixed time budget) are said to be
        # compared at the end, not at matched compute (issue 32, item 7).
        note = unequal_training_note(prepared, settings.options)
        factorial = compare_factorial(prepared, settings.options)  # None unless [factors]
        if factorial is not None:
            render_factorial(with_note(factorial, note), settings.format)
        else:
            result = compare_prepared(prepared, settings.options)
            render_comparison(with_note(result, note), settings.format)
    return 0


def _show_sequential(settings: CompareSettings, prepared: Prepared) -> None:
    """:func:`analysis.sequential_compare` on every non-baseline variant, rendered."""
    from rich.console import Console

    from harness.report.sequential_view import print_report
    from harness.results.comparison import compare_sequential
    from harness.results.training_amount import unequal_training_note, with_note

    report = with_note(
        compare_sequential(prepared, settings.options, max_seeds=settings.max_seeds),
        unequal_training_note(prepared, settings.options),
    )
    out = sys.stdout
    console = Console(
        file=out,
        width=None if out.isatty() else 160,
        highlight=False,
        soft_wrap=settings.format != "table",
    )
    print_report(report, console, fmt=settings.format)
