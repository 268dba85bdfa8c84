"""``harness study STUDY.toml``: run every variant across seeds; resumes where it stopped."""

from __future__ import annotations

import argparse

from harness.commands._common import add_study_arguments, load_study_from_args, positive


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_study_arguments(parser)
    parser.add_argument(
        "--jobs",
        type=positive,
        default=None,
        help="runs at once (default: one per GPU, else one per CPU core)",
    )
    parser.add_argument(
        "--threads",
        type=positive,
        default=None,
        help="CPU threads per run (default: cores divided among jobs)",
    )
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--executor", default="local", help="local (default), slurm or ray")
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="start the study over; the old directory is moved aside",
    )
    parser.add_argument(
        "--retry-failed",
        action="store_true",
        help="rerun runs that failed (crashed or exited non-zero)",
    )
    parser.add_argument("--no-wandb", action="store_true", help="do not log to wandb")
    parser.add_argument("--no-progress", action="store_true", help="no live progress display")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from harness.executors import make_executor
    from harness.progress import RichProgress
    from harness.runner import run_study, wandb_settings
    from harness.store import runs_root
    from harness.summary import print_summary

    spec = load_study_from_args(args)
    console = Console()
    root = runs_root(args.runs_dir)
    outcome = run_study(
        spec,
        runs_root=root,
        executor_factory=lambda: make_executor(
            args.executor, jobs=args.jobs, threads=args.threads, device=args.device
        ),
        fresh=args.fresh,
        retry_failed=args.retry_failed,
        wandb=wandb_settings(spec, disabled=args.no_wandb),
        progress=None if args.no_progress else RichProgress(),
    )
    return print_summary(console, spec, outcome)
