"""``harness export``'s one entry point: a study's results table written as a file.

One row per finished run: variant, seed, status and the final metrics (``load_table``, the
table ``harness compare`` reads back); ``full`` adds config hash, wall time, start and end, git
commit and dirty flag, device and host, and the resolved config as ``config.<dotted key>``
columns (``harness.store.load_runs_table``); ``curves`` exports every logged metric row.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal


@dataclass(frozen=True, kw_only=True)
class ExportSettings:
    """What ``harness export`` was asked.

    Attributes:
        study_dir: a study directory or name, or None for the most recent study.
        runs_dir: the runs root; None for the default.
        format: ``parquet`` or ``csv``.
        output: the file to write; None for ``<study dir>/results.<format>`` (or ``curves``).
        curves: every logged metric row instead of final values.
        include_unfinished: failed and diverged runs too.
        full: the runs' configs and provenance beside their metrics.
    """

    study_dir: str | None = None
    runs_dir: str | None = None
    format: Literal["parquet", "csv"] = "parquet"
    output: Path | None = None
    curves: bool = False
    include_unfinished: bool = False
    full: bool = False


def export_results(settings: ExportSettings) -> int:
    """Write the table, whole or not at all, and say what was written on stdout.

    Returns:
        0 (bad input raises).

    Raises:
        UserError: no study there, or the file cannot be written (naming ``--output``).
    """
    from harness.store import find_study_dir, load_curves, load_runs_table, load_table
    from harness.store.atomic import atomic_write_with

    study_dir = find_study_dir(settings.study_dir, runs_dir=settings.runs_dir)
    loader = load_curves if settings.curves else load_runs_table if settings.full else load_table
    table = loader(study_dir, include_unfinished=settings.include_unfinished)
    name = "curves" if settings.curves else "results"
    output = settings.output or study_dir / f"{name}.{settings.format}"
    write = table.write_parquet if settings.format == "parquet" else table.write_csv
    try:
        # whole or not at all: a full disk leaves no 0-byte file where a table was expected
        atomic_write_with(output, write)
    except OSError as error:
        from harness.errors import UserError, os_error_message

        message = os_error_message(error, elsewhere="--output")
        raise UserError(f"cannot write the table: {message}") from None
    print(f"wrote {table.height} rows x {table.width} columns to {output}")
    return 0
