"""``harness runs [STUDY_DIR]``: list a study's runs and their status."""

from __future__ import annotations

import argparse

from harness.commands._common import add_study_dir_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_study_dir_argument(parser)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from harness.store import FileSystemStore, find_study_dir, load_study_meta

    study_dir = find_study_dir(args.study_dir, runs_dir=args.runs_dir)
    meta = load_study_meta(study_dir)
    store = FileSystemStore(study_dir)
    metric = meta.metric
    table = Table(title=f"{meta.name} ({study_dir})")
    for column in ("variant", "seed", "status", metric, "wall s", "note"):
        table.add_column(column)
    counts: dict[str, int] = {}
    for key in store.run_keys():
        status = store.status(key)
        counts[status] = counts.get(status, 0) + 1
        record = store.read_record(key)
        value = record.final_metrics.get(metric) if record else None
        table.add_row(
            key.variant,
            str(key.seed),
            status,
            f"{value:.4f}" if value is not None else "",
            f"{record.wall_time_s:.1f}" if record else "",
            (record.error or "") if record else "",
        )
    console = Console()
    console.print(table)
    console.print(", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
    return 0
