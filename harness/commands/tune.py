"""``harness tune STUDY.toml``: seed-aware hyperparameter search through Optuna.

Runs trials until the study's Optuna storage holds ``--trials`` complete + pruned trials (a
rerun resumes; several processes on one storage cooperate), re-evaluates the top trials on
fresh seeds, and names a winner only if it separates from the runner-up. With ``--transfer``
it runs nothing and writes a study applying the search's choice at a target size instead.
The flags become one :class:`harness.tune.session.TuneSettings` for
:func:`harness.tune.session.run_tune`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.commands._common import (
    add_format_argument,
    add_study_arguments,
    positive,
    study_source,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_study_arguments(parser)
    parser.add_argument(
        "--trials",
        type=positive,
        default=None,
        help="trials in all, complete + pruned, counting earlier runs (default: search.trials)",
    )
    parser.add_argument(
        "--jobs",
        type=positive,
        default=None,
        help="runs at once (default: one per GPU, else one per CPU core); a trial's seeds run "
        "side by side, and trials run side by side when there are more jobs than seeds",
    )
    parser.add_argument(
        "--threads", type=positive, default=None, help="CPU threads per run (default: split)"
    )
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    add_format_argument(parser, ("table", "json"))
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="start the search over; the study directory (with its storage) is moved aside",
    )
    parser.add_argument("--no-wandb", action="store_true", help="do not log to wandb")
    parser.add_argument("--no-plots", action="store_true", help="do not write the plot files")
    parser.add_argument(
        "--transfer",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="run nothing; write a study applying the search's choice with KEY=VALUE "
        "changed, e.g. model.n_embd=512 (repeatable)",
    )
    parser.add_argument(
        "--transfer-width",
        type=positive,
        default=None,
        metavar="N",
        help="short for --transfer model.n_embd=N (muTransfer: search under muP)",
    )
    parser.add_argument(
        "--output", default=None, help="where --transfer writes the study (default: tune/)"
    )


def run(args: argparse.Namespace) -> int:
    from harness.tune.session import TuneSettings, run_tune

    transfer = list(args.transfer)
    if args.transfer_width is not None:
        transfer.append(f"model.n_embd={args.transfer_width}")
    settings = TuneSettings(
        source=study_source(args),
        runs_dir=args.runs_dir,
        trials=args.trials,
        jobs=args.jobs,
        threads=args.threads,
        device=args.device,
        format=args.format,
        fresh=args.fresh,
        wandb=not args.no_wandb,
        plots=not args.no_plots,
        transfer=tuple(transfer),
        output=Path(args.output) if args.output else None,
    )
    return run_tune(settings)
