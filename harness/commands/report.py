"""``harness report [STUDY_DIR]``: a self-contained HTML page and a markdown report.

The comparison table, a forest plot of differences with CIs, the metric against a swept
parameter with a trend test, efficiency beside quality with the Pareto view, and curves per
variant (mean and CI band across seeds). Writes ``report.html`` (figures embedded),
``report.md`` and its ``report_*.png`` figures into the study directory, or ``--output-dir``.
On a phased study's root: one section per phase with its decision, and each phase's own report
in ``<out>/<phase>/``. On a coordinate check's folder: its verdict beside the coord-check plot;
on the commits study of ``harness bisect`` / ``regress``: their path and intervals first. The
flags become one :class:`harness.report.write.ReportSettings` for
:func:`harness.report.write.write_report`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.commands._common import add_runs_dir
from harness.commands.compare import add_analysis_arguments, compare_options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "path",
        nargs="?",
        default=None,
        metavar="STUDY_DIR",
        help="a study directory or name, a results/curves file, or a coordinate check's folder "
        "(runs/coordcheck/NAME) (default: the most recent study)",
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
    from harness.report.write import ReportSettings, write_report

    settings = ReportSettings(
        path=args.path,
        runs_dir=args.runs_dir,
        options=compare_options(args),
        output_dir=Path(args.output_dir) if args.output_dir else None,
    )
    return write_report(settings)
