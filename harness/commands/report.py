"""``harness report [STUDY_DIR]``: a self-contained HTML page and a markdown report.

The comparison table, a forest plot of differences with CIs, the metric against a swept
parameter with a trend test, efficiency beside quality with the Pareto view, and curves per
variant (mean and CI band across seeds). Writes ``report.html`` (figures embedded),
``report.md`` and its ``report_*.png`` figures into the study directory, or ``--output-dir``.
On a phased study's root: one section per phase with its decision, and each phase's own report
in ``<out>/<phase>/``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from harness.commands._common import add_runs_dir
from harness.commands.compare import add_analysis_arguments, compare_options

if TYPE_CHECKING:
    from harness.report.page import Report
    from harness.results.comparison import CompareOptions


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "path",
        nargs="?",
        default=None,
        metavar="STUDY_DIR",
        help="a study directory or name, or a results/curves file (default: the most recent study)",
    )
    add_analysis_arguments(parser)
    parser.add_argument(
        "--output-dir",
        "-o",
        default=None,
        help="where to write report.html, report.md and the figures (default: the study "
        "directory, or the file's directory)",
    )
    add_runs_dir(parser)


def run(args: argparse.Namespace) -> int:
    from harness.report.html import study_report
    from harness.results.comparison import compare_prepared, prepare
    from harness.results.load import phased_root

    options = compare_options(args)
    root = phased_root(args.path, runs_dir=args.runs_dir)
    if root is not None:
        return _run_phased(root, options, args.output_dir)
    prepared = prepare(args.path, options, runs_dir=args.runs_dir)
    report = study_report(prepared, compare_prepared(prepared, options), options)
    source = prepared.inputs.source
    out_dir = (
        Path(args.output_dir) if args.output_dir else (source if source.is_dir() else source.parent)
    )
    _write(report, out_dir)
    print(f"wrote {out_dir / 'report.html'} and {out_dir / 'report.md'}")
    return 0


def _run_phased(root: Path, options: CompareOptions, output_dir: str | None) -> int:
    from harness.report.phased import build_phased_report

    out_dir = Path(output_dir) if output_dir else root
    report, phases = build_phased_report(root, options, out_dir)
    _write(report, out_dir)
    for name, phase_report in phases.items():
        _write(phase_report, out_dir / name)
    print(
        f"wrote {out_dir / 'report.html'} and {out_dir / 'report.md'} "
        f"({len(phases)} phase report(s) beside them)"
    )
    return 0


def _write(report: Report, out_dir: Path) -> None:
    """Write the page, the markdown and its figures, each whole or not at all (a full disk
    leaves no half page behind).

    Raises:
        UserError: a file cannot be written, naming it (and ``--output-dir``).
    """
    from harness.errors import UserError, os_error_message
    from harness.store.atomic import atomic_write_bytes, atomic_write_text

    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, data in report.images.items():  # the figures first: the pages link them
            atomic_write_bytes(out_dir / name, data)
        atomic_write_text(out_dir / "report.md", report.markdown)
        atomic_write_text(out_dir / "report.html", report.html)
    except OSError as error:
        message = os_error_message(error, elsewhere="--output-dir")
        raise UserError(f"cannot write the report: {message}") from None
