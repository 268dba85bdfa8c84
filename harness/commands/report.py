"""``harness report [STUDY_DIR]``: a self-contained HTML page and a markdown report.

The comparison table, a forest plot of differences with CIs, curves per variant (mean and CI
band across seeds) and efficiency beside quality. Writes ``report.html`` (figures embedded),
``report.md`` and its ``report_*.png`` figures into the study directory, or ``--output-dir``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.commands._common import add_runs_dir
from harness.commands.compare import add_analysis_arguments, analyse


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
    from harness.report.html import build_report

    inputs, result = analyse(args)
    source = inputs.source
    out_dir = (
        Path(args.output_dir) if args.output_dir else (source if source.is_dir() else source.parent)
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    title = str(inputs.meta.get("name") or (source.name if source.is_dir() else source.stem))
    report = build_report(
        result,
        title=title,
        source=str(source),
        agg=args.agg,
        table=inputs.table,
        curves=inputs.curves(),
    )
    (out_dir / "report.html").write_text(report.html)
    (out_dir / "report.md").write_text(report.markdown)
    for name, data in report.images.items():
        (out_dir / name).write_bytes(data)
    print(f"wrote {out_dir / 'report.html'} and {out_dir / 'report.md'}")
    return 0
