"""``harness export STUDY_DIR --format parquet|csv``: the results table as a file.

One row per finished run: variant, seed, status and the final metrics (``load_table``, the table
``harness compare`` reads back). ``--full`` adds config hash, wall time, start and end, git
commit and dirty flag, device and host, and the resolved config as ``config.<dotted key>``
columns (``harness.store.load_runs_table``); ``--curves`` exports every logged metric row.
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
    from harness.store import find_study_dir, load_curves, load_runs_table, load_table
    from harness.store.atomic import atomic_write_with

    study_dir = find_study_dir(args.study_dir, runs_dir=args.runs_dir)
    loader = load_curves if args.curves else load_runs_table if args.full else load_table
    table = loader(study_dir, include_unfinished=args.all)
    name = "curves" if args.curves else "results"
    output = Path(args.output) if args.output else study_dir / f"{name}.{args.format}"
    write = table.write_parquet if args.format == "parquet" else table.write_csv
    try:
        # whole or not at all: a full disk leaves no 0-byte file where a table was expected
        atomic_write_with(output, write)
    except OSError as error:
        from harness.errors import UserError, os_error_message

        message = os_error_message(error, elsewhere="--output")
        raise UserError(f"cannot write the table: {message}") from None
    print(f"wrote {table.height} rows x {table.width} columns to {output}")
    return 0
