"""``harness study STUDY.toml``: run every variant across seeds; resumes where it stopped."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.commands._common import add_study_arguments, positive
from harness.executors.config import add_executor_arguments

if TYPE_CHECKING:
    from rich.console import Console

    from harness.spec import StudySpec


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
    add_executor_arguments(parser)
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

    from harness.spec import located_in, parse_study, read_study_file
    from harness.store import runs_root

    path = Path(args.study_file)
    raw, text = read_study_file(path, overrides=args.overrides, seeds=args.seeds)
    console = Console()
    root = runs_root(args.runs_dir)
    if "phases" in raw:
        return _run_phased(raw, path, text, root, args, console)
    with located_in(path, text):
        spec = parse_study(raw, source=path)
    return _run_one(spec, root, args, console)


def _run_one(spec: StudySpec, root: Path, args: argparse.Namespace, console: Console) -> int:
    """Run one study's unfinished runs and print its summary; returns the exit code."""
    from harness.executors import make_executor
    from harness.executors.config import executor_settings
    from harness.progress import RichProgress
    from harness.runner import run_study, wandb_settings
    from harness.summary import print_summary

    settings = executor_settings(spec, args)
    outcome = run_study(
        spec,
        runs_root=root,
        executor_factory=lambda: make_executor(
            settings.kind,
            settings=settings,
            jobs=settings.jobs,
            threads=args.threads,
            device=args.device,
        ),
        fresh=args.fresh,
        retry_failed=args.retry_failed,
        wandb=wandb_settings(spec, disabled=args.no_wandb),
        progress=None if args.no_progress else RichProgress(),
    )
    return print_summary(console, spec, outcome)


def _run_phased(
    raw: dict[str, Any],
    path: Path,
    text: str,
    root: Path,
    args: argparse.Namespace,
    console: Console,
) -> int:
    from harness.phases import parse_phased, run_phases
    from harness.store import load_table

    phased = parse_phased(raw, source=path, text=text)
    codes: list[int] = []
    decisions = run_phases(
        phased,
        runs_root=root,
        run_phase=lambda spec, phase_root: codes.append(_run_one(spec, phase_root, args, console)),
        load_table=load_table,
        announce=console.print,
    )
    console.print(f"[bold]{phased.name}: {len(decisions)} phase(s)")
    for decision in decisions:
        console.print(f"  {decision.describe()}")
    console.print(f"Decisions in {root / phased.name / 'phases.json'}")
    return max(codes, default=0)
