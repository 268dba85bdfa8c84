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
    console.print(
        f"[green]{args.study_file} is valid[/]: study '{spec.name}', metric "
        f"{spec.metric} ({spec.direction}), baseline {spec.baseline}, "
        f"{len(spec.variants)} variants x {len(spec.seeds)} seeds = "
        f"{len(spec.variants) * len(spec.seeds)} runs into "
        f"{runs_root(args.runs_dir) / spec.name}"
    )
    table = Table(title="runs")
    for column in ("variant", "kind", "seeds", "config hash", "overrides"):
        table.add_column(column)
    for variant in spec.variants:
        overrides = ", ".join(f"{k}={v}" for k, v in _flatten(variant.overrides).items())
        table.add_row(
            variant.name,
            variant.kind,
            ",".join(map(str, spec.seeds)),
            variant.config_hash,
            overrides or "(base)",
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
