"""``harness validate STUDY.toml``: check the file and print the expanded run list.

A phased study is validated phase by phase (each phase as the study it will run, a
``base_from`` phase on its baseline until it is decided) and its runs are listed per phase.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from harness.commands._common import add_format_argument, add_study_arguments

if TYPE_CHECKING:
    from harness.study.spec import StudySpec


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_study_arguments(parser)
    add_format_argument(parser, ("table", "json", "markdown", "csv"))
    design = parser.add_argument_group("the group-sequential design of --until-decided")
    design.add_argument(
        "--max-seeds",
        type=int,
        default=None,
        help="show the per-look boundaries of `harness study --until-decided --max-seeds N` "
        "and, without --margin, what a comparison can expect: power and mean seeds at the "
        "budget's 80%%-power effect and with no effect, simulated (on stderr, after the run list)",
    )
    design.add_argument("--alpha", type=float, default=0.05, help="family-wise error level")
    design.add_argument(
        "--margin", type=float, default=None, help="minimal effect of interest (futility)"
    )


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from harness.report.listing import render_listing
    from harness.report.plan_view import PlannedStudy, plan_listing
    from harness.store import runs_root
    from harness.study.phases import parse_phased
    from harness.study.spec import located_in, parse_study, read_study_file

    path = Path(args.study_file)
    raw, text = read_study_file(path, overrides=args.overrides, seeds=args.seeds)
    root = runs_root(args.runs_dir)
    if "phases" in raw:
        phased = parse_phased(raw, source=path, text=text)
        name = phased.name
        studies = [
            PlannedStudy(
                spec=(spec := phased.phase_spec(index, {})),
                study_dir=root / phased.name / spec.name,
                phase=index,
                base_from=phase.get("base_from"),
            )
            for index, phase in enumerate(phased.phases)
        ]
    else:
        with located_in(path, text):
            spec = parse_study(raw, source=path)
        name = spec.name
        studies = [PlannedStudy(spec=spec, study_dir=root / spec.name)]
    listing = plan_listing(args.study_file, name, studies)
    if studies[0].phase is None and studies[0].spec.factorial is not None:
        from harness.report.factorial import with_design  # cells, and a fraction's aliases

        listing = with_design(listing, studies[0].spec.factorial)
    render_listing(listing, args.format)
    _print_warnings([planned.spec for planned in studies])
    if args.max_seeds is not None:
        _print_design(studies[0].spec, args)
    return 0


def _print_design(spec: StudySpec, args: argparse.Namespace) -> None:
    """The per-look boundaries of the group-sequential design ``--max-seeds`` asks for, on
    stderr (the run list on stdout stays parseable)."""
    from rich.console import Console

    from analysis.group_sequential import (
        design_boundaries,
        operating_characteristics,
        planned_looks,
    )
    from harness.errors import UserError
    from harness.report.sequential_view import print_boundaries
    from harness.run.adaptive import AdaptiveSettings, seed_sequence

    comparisons = sum(1 for v in spec.variants if v.name != spec.baseline)
    if comparisons == 0:
        raise UserError("--max-seeds: the study has no variant besides the baseline")
    settings = AdaptiveSettings(
        max_seeds=args.max_seeds, alpha=args.alpha, margin=args.margin, group_sequential=True
    )
    design = settings.design(comparisons)
    first = min(len(spec.seeds), len(seed_sequence(spec, args.max_seeds)))
    looks = planned_looks(design, first=first)
    bounds = design_boundaries(design, looks)
    expected = None if design.margin is not None else operating_characteristics(design, looks)
    fmt = args.format if args.format in ("json", "markdown") else "table"
    print_boundaries(design, bounds, Console(stderr=True), fmt=fmt, characteristics=expected)


def _print_warnings(specs: list[StudySpec]) -> None:
    """Warnings about a valid study that would not measure what it should, on stderr (the
    listing on stdout stays parseable); the exit code stays 0."""
    from rich.console import Console
    from rich.markup import escape

    from harness.study.checks import study_warnings

    console = Console(stderr=True)
    seen: set[str] = set()
    for spec in specs:
        for warning in study_warnings(spec):
            if warning not in seen:  # phases share their commands
                seen.add(warning)
                console.print(f"[yellow]warning: {escape(warning)}")
