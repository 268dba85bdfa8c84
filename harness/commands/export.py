"""``harness export STUDY_DIR --format parquet|csv``: the results table as a file.

One row per finished run: variant, seed, status and the final metrics (``load_table``, the table
``harness compare`` reads back). ``--full`` adds config hash, wall time, start and end, git
commit and dirty flag, device and host, and the resolved config as ``config.<dotted key>``
columns (``harness.store.load_runs_table``); ``--curves`` exports every logged metric row.
The flags become one :class:`harness.results.export.ExportSettings` for
:func:`harness.results.export.export_results`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.commands._common import add_study_dir_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_study_dir_argument(parser)
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    parser.add_argument(
        "--output", "-o", default=None, help="file to write (default: <study dir>/results.<format>)"
    )
    parser.add_argument(
        "--curves",
        action="store_true",
        help="export every logged metric row instead of final values",
    )
    parser.add_argument("--all", action="store_true", help="include failed and diverged runs")
    parser.add_argument(
        "--full",
        action="store_true",
        help="also config hash, wall time, git commit, device, host and the resolved config "
        "as config.<key> columns",
    )


def run(args: argparse.Namespace) -> int:
    from harness.results.export import ExportSettings, export_results

    settings = ExportSettings(
        study_dir=args.study_dir,
        runs_dir=args.runs_dir,
        format=args.format,
        output=Path(args.output) if args.output else None,
        curves=args.curves,
        include_unfinished=args.all,
        full=args.full,
    )
    return export_results(settings)
