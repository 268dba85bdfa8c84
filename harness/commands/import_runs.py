"""``harness import-runs SOURCE LOCATION -o runs/NAME``: runs logged elsewhere become a study.

The flags become one :class:`harness.importers.session.ImportSettings` for
:func:`harness.importers.session.import_runs` (docs/importing.md). Never imports torch.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from analysis.verdict import Direction
from harness.commands._common import add_runs_dir
from harness.importers.session import SOURCES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "source",
        choices=SOURCES,
        help="wandb: a folder of wandb run folders (wandb/run-*, wandb/offline-run-*); "
        "wandb-api: an entity/project online; tensorboard: a log folder, one sub-folder per "
        "run; mlflow: an mlruns folder or a tracking URI; lightning: a CSVLogger save_dir; "
        "csv: a CSV/TSV table of runs",
    )
    parser.add_argument("location", help="the folder, file, URI or entity/project to read")
    parser.add_argument(
        "--output",
        "-o",
        default=None,
        help="the study folder to write (default: <runs dir>/<--name>); importing into it "
        "again adds what is new",
    )
    parser.add_argument("--name", default=None, help="study name (default: the output folder's)")
    parser.add_argument(
        "--metric", default=None, help="the primary metric (default: val_loss, loss ...)"
    )
    parser.add_argument(
        "--direction", choices=[direction.value for direction in Direction], default=None
    )
    parser.add_argument(
        "--variant-by",
        default=None,
        metavar="KEY,KEY",
        help="the config keys that tell variants apart, e.g. model.attn,model.protect_bos "
        "(default: every key whose value differs between runs, bookkeeping keys aside)",
    )
    parser.add_argument(
        "--seed-key",
        default=None,
        help="the config key of the seed (default: seed, random_seed, ...)",
    )
    parser.add_argument(
        "--baseline", default=None, help="the baseline variant (default: the one with most seeds)"
    )
    parser.add_argument(
        "--rename",
        action="append",
        default=[],
        metavar="OLD=NEW",
        help="read metric OLD as NEW (runs that logged one metric under two names; repeatable)",
    )
    group = parser.add_argument_group("wandb-api")
    group.add_argument("--group", default=None, help="only runs of this wandb group")
    group.add_argument(
        "--tag",
        action="append",
        default=[],
        help="only runs with this tag (repeatable: any of them)",
    )
    group.add_argument(
        "--state", default=None, help="only runs in this wandb state (finished, crashed ...)"
    )
    group = parser.add_argument_group("mlflow")
    group.add_argument("--experiment", default=None, help="only this experiment (default: all)")
    group = parser.add_argument_group("csv")
    group.add_argument("--run-column", default=None, help="the column naming each row's run")
    group.add_argument("--step-column", default=None, help="the column of steps")
    group.add_argument(
        "--config-columns",
        default=None,
        metavar="COL,COL",
        help="fractional-number columns that are config, not metrics (tables with one row per "
        "run; the --variant-by and --seed-key columns are config too)",
    )
    add_runs_dir(parser)


def run(args: argparse.Namespace) -> int:
    from harness.importers.session import ImportSettings, import_runs

    settings = ImportSettings(
        source=args.source,
        location=args.location,
        output=Path(args.output) if args.output else None,
        runs_dir=args.runs_dir,
        name=args.name,
        metric=args.metric,
        direction=None if args.direction is None else Direction(args.direction),
        variant_by=_list(args.variant_by),
        seed_key=args.seed_key,
        baseline=args.baseline,
        rename=tuple(args.rename),
        group=args.group,
        tags=tuple(args.tag),
        state=args.state,
        experiment=args.experiment,
        run_column=args.run_column,
        step_column=args.step_column,
        config_columns=_list(args.config_columns) or (),
    )
    return import_runs(settings)


def _list(text: str | None) -> tuple[str, ...] | None:
    """``a, b`` as ("a", "b"); None for no text."""
    if not text:
        return None
    return tuple(item.strip() for item in text.split(",") if item.strip())
