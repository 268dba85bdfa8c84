"""``harness tune STUDY.toml``: seed-aware hyperparameter search through Optuna.

Runs trials until the study's Optuna storage holds ``--trials`` complete + pruned trials (a
rerun resumes; several processes on one storage cooperate), re-evaluates the top trials on
fresh seeds, and names a winner only if it separates from the runner-up. With ``--transfer``
it runs nothing and writes a study applying the search's choice at a target size instead.
"""

from __future__ import annotations

import argparse
import json
import sys

from harness.commands._common import (
    add_format_argument,
    add_study_arguments,
    load_study_from_args,
    positive,
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
    from rich.console import Console

    from harness.store import runs_root
    from harness.tune.config import search_of

    spec = load_study_from_args(args)
    search = search_of(spec)
    study_dir = runs_root(args.runs_dir) / spec.name
    console = Console(stderr=args.format == "json", soft_wrap=True)
    transfer = list(args.transfer)
    if args.transfer_width is not None:
        transfer.append(f"model.n_embd={args.transfer_width}")
    if transfer:
        return _transfer(args, spec, search, study_dir, transfer, console)
    return _tune(args, spec, search, study_dir, console)


def _tune(args, spec, search, study_dir, console) -> int:  # type: ignore[no-untyped-def]
    import time

    from harness.errors import UserError
    from harness.executors.local import LocalExecutor
    from harness.report.progress import RichProgress
    from harness.run.runner import wandb_settings
    from harness.store import FileSystemStore
    from harness.tune.report import param_importances, print_report, save_plots, summarize
    from harness.tune.search import Search
    from harness.tune.storage import is_local, storage_location, tune_dir
    from harness.tune.transfer import CHECK_ATTR
    from harness.tune.winner import SeparationCheck, reevaluate, separation_check, top_trials

    if args.fresh:
        if not is_local(search.storage):
            raise UserError(
                "--fresh moves the study directory aside, but this search's storage is "
                f"{search.storage!r}: set search.study_name to start a new search there"
            )
        FileSystemStore(study_dir).archive()
    started = time.monotonic()
    target = args.trials or search.trials
    wandb = wandb_settings(spec, disabled=args.no_wandb, job_type="tune")

    def say(line: str) -> None:
        console.print(line, markup=False, highlight=False)

    def executor_factory() -> LocalExecutor:
        return LocalExecutor(jobs=args.jobs, threads=args.threads, device=args.device)

    search_loop = Search(
        spec,
        search,
        study_dir=study_dir,
        target=target,
        executor_factory=executor_factory,
        wandb=wandb,
        say=say,
    )
    console.print(
        f"tuning '{spec.name}': {len(search.space)} parameters, {target} trials x "
        f"{len(search.seeds)} seeds; storage {storage_location(search.storage, study_dir)}"
    )
    study = search_loop.run()

    check: SeparationCheck | None = None
    if search.top_k:
        trials = top_trials(study, search.top_k)
        if len(trials) >= 2:
            console.print(
                f"re-evaluating the top {len(trials)} trials on fresh seeds "
                f"{','.join(map(str, search.fresh_seeds))}"
            )
            reevaluate(
                spec,
                search,
                trials,
                runs_root=study_dir.parent,
                executor_factory=executor_factory,
                wandb=wandb,
                progress=RichProgress(console) if args.format == "table" else None,
            )
            check = separation_check(spec, search, trials, study_dir)
        else:
            check = SeparationCheck(
                verdict="skipped",
                alpha=search.alpha,
                fresh_seeds=search.fresh_seeds,
                reason="fewer than 2 complete trials with distinct parameters",
            )
        study.set_user_attr(
            CHECK_ATTR,
            {
                k: v
                for k, v in check.to_dict().items()
                if k in ("verdict", "winner", "tied", "reason")
            },
        )
    plots = {} if args.no_plots else save_plots(study, tune_dir(study_dir) / "plots")
    summary = summarize(
        study,
        check=check,
        storage=storage_location(search.storage, study_dir),
        plots=plots,
        importances=param_importances(study),
    )
    summary["trials_run_here"] = search_loop.trials_run
    summary["wall_s"] = round(time.monotonic() - started, 1)
    if args.format == "json":
        json.dump(summary, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        print_report(console, summary, metric=spec.metric, direction=spec.direction)
        console.print(f"done in {summary['wall_s']:.0f}s; runs in {study_dir}/runs")
    return 0


def _transfer(args, spec, search, study_dir, assignments, console) -> int:  # type: ignore[no-untyped-def]
    from pathlib import Path

    from harness.tune.search import open_study
    from harness.tune.storage import tune_dir
    from harness.tune.transfer import (
        chosen_trial,
        parse_assignments,
        transfer_study,
        write_transfer,
    )

    targets = parse_assignments(assignments)
    study = open_study(spec, search, study_dir)
    trial, basis = chosen_trial(study)
    text, transferred, warnings = transfer_study(spec, search, trial, targets, basis=basis)
    path = Path(args.output) if args.output else tune_dir(study_dir) / f"{transferred.name}.toml"
    write_transfer(text, path)
    if args.format == "json":
        payload = {
            "study_file": str(path),
            "trial": trial.number,
            "basis": basis,
            "params": dict(trial.params),
            "targets": targets,
            "warnings": warnings,
        }
        json.dump(payload, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    print(text)
    for warning in warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    console.print(f"wrote {path}; run it with: harness study {path}")
    return 0
