"""``harness validate STUDY.toml``: check the file and print the expanded run list."""

from __future__ import annotations

import argparse

from harness.commands._common import add_study_arguments, load_study_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_study_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from harness.store import runs_root

    spec = load_study_from_args(args)
    console = Console()
    if not console.is_terminal:  # piped: keep whole lines (hashes, paths) for grep
        console = Console(width=240)
    console.print(
        f"[green]{args.study_file} is valid[/]: study '{spec.name}', metric "
        f"{spec.metric} ({spec.direction}), baseline {spec.baseline}, "
        f"{len(spec.variants)} variants x {len(spec.seeds)} seeds = "
        f"{len(spec.variants) * len(spec.seeds)} runs into "
        f"{runs_root(args.runs_dir) / spec.name}"
    )
    table = Table(title="runs")
    for column in ("variant", "seed", "kind", "config hash", "run directory", "overrides"):
        table.add_column(column)
    study_dir = runs_root(args.runs_dir) / spec.name
    for variant in spec.variants:
        overrides = ", ".join(f"{k}={v}" for k, v in _flatten(variant.overrides).items())
        for index, seed in enumerate(spec.seeds):
            table.add_row(
                variant.name,
                str(seed),
                variant.kind,
                variant.config_hash,
                str(study_dir / "runs" / variant.name / f"s{seed}"),
                (overrides or "(base)") if index == 0 else "",
            )
    console.print(table)
    return 0


def _flatten(table: object, prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    if isinstance(table, dict):
        for key, value in table.items():
            if isinstance(value, dict):
                flat.update(_flatten(value, f"{prefix}{key}."))
            else:
                flat[f"{prefix}{key}"] = value
    return flat
