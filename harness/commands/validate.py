"""``harness validate STUDY.toml``: check the file and print the expanded run list.

A phased study is validated phase by phase (each phase as the study it will run, a
``base_from`` phase on its baseline until it is decided) and its runs are listed per phase.
The flags become one :class:`harness.run.validate.ValidateSettings` for
:func:`harness.run.validate.validate_study`.
"""

from __future__ import annotations

import argparse

from harness.commands._common import add_format_argument, add_study_arguments, study_source


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
    from harness.run.adaptive import AdaptiveSettings
    from harness.run.validate import ValidateSettings, validate_study

    design = None
    if args.max_seeds is not None:
        design = AdaptiveSettings(
            max_seeds=args.max_seeds, alpha=args.alpha, margin=args.margin, group_sequential=True
        )
    settings = ValidateSettings(
        source=study_source(args), runs_dir=args.runs_dir, format=args.format, design=design
    )
    return validate_study(settings)
