"""``harness regress STUDY.toml --against REV``: the CI gate — is HEAD worse than REV?

HEAD means the committed HEAD, checked out in its own worktree: uncommitted changes are not
measured (a note says so when there are some) unless ``--working-tree`` is given, which runs the
command in the repository itself. The reference is REV, measured the same way, or stored
results (``--baseline-results DIR``, any study directory). Both are measured at the study's
seeds (or ``--seeds``) and compared paired by seed; see :mod:`harness.bisect.regress` for the
decision. Exit 1 only for a significant regression beyond ``--tolerance`` (or when HEAD's
command fails), else 0; 2 for bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.commands._common import (
    add_format_argument,
    add_study_arguments,
    load_study_from_args,
)
from harness.commands.bisect import add_git_arguments, open_measurements, probability
from harness.errors import UserError

if TYPE_CHECKING:
    import polars as pl


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_study_arguments(parser)
    parser.add_argument("--against", metavar="REV", default=None, help="the reference revision")
    parser.add_argument(
        "--baseline-results",
        metavar="STUDY_DIR",
        type=Path,
        default=None,
        help="stored results to compare with instead of measuring --against",
    )
    parser.add_argument(
        "--baseline-variant",
        default=None,
        help="the variant of --baseline-results to use (default: the measured variant's name)",
    )
    parser.add_argument(
        "--tolerance",
        default="0",
        help="how much worse HEAD may be: metric units (0.01) or percent of the reference "
        "mean (1%%); default 0",
    )
    parser.add_argument("--alpha", type=probability, default=0.05, help="CI level 1 - alpha")
    parser.add_argument(
        "--working-tree",
        action="store_true",
        help="measure the working tree as it is (uncommitted changes included) instead of HEAD",
    )
    add_format_argument(parser, ("table", "json"), aliases={"text": "table"})
    add_git_arguments(parser)


def run(args: argparse.Namespace) -> int:
    import polars as pl

    from harness.bisect.measure import command_variant
    from harness.bisect.paired import compare_paired
    from harness.bisect.regress import Tolerance, judge_regression
    from harness.bisect.worktrees import WorktreePool, is_dirty, repo_root, resolve_commit

    if (args.against is None) == (args.baseline_results is None):
        raise UserError("give exactly one of --against REV and --baseline-results STUDY_DIR")
    tolerance = Tolerance.parse(args.tolerance)
    repo = repo_root(args.repo)
    spec = load_study_from_args(args)
    variant = command_variant(spec, args.variant)
    metric = args.metric or spec.metric
    head = resolve_commit(repo, "HEAD")
    against = resolve_commit(repo, args.against) if args.against else None
    seeds = list(spec.seeds)
    stored = _stored_results(args, metric, variant.name) if against is None else None
    if stored is not None:
        stored_seeds = set(stored["seed"].to_list())
        seeds = [s for s in seeds if s in stored_seeds] if args.seeds else sorted(stored_seeds)
        if not seeds:
            raise UserError(f"{args.baseline_results} has no runs at the requested seeds")

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    if against is not None and against.sha == head.sha and not args.working_tree:
        message = f"no regression detected: HEAD {head.short} is the reference itself"
        _print(args, {"outcome": "no_regression", "message": message, "head": head.sha})
        return 0
    if not args.working_tree and is_dirty(repo):
        say(
            "note: the working tree has uncommitted changes; they are not measured (HEAD "
            f"{head.short} is). Use --working-tree to measure them."
        )
    with WorktreePool(repo, args.worktree_dir) as pool:
        measurer = open_measurements(spec, variant, metric, args, repo, pool, say)
        reference_name = "reference"
        if against is not None:
            reference_name = against.short
            measurer.write_meta(baseline=against.short)
            failed = [m for m in measurer.measure(against, seeds) if not m.ok]
            if failed:
                raise UserError(
                    f"--against {against.short} ({against.subject}) cannot be measured: seed "
                    f"{failed[0].seed}: {failed[0].error}"
                )
        if args.working_tree:
            head_name, head_label = "working-tree", f"the working tree (on {head.short})"
            results = measurer.measure_working_tree(head, seeds)
        else:
            head_name, head_label = head.short, f"HEAD {head.short}"
            results = measurer.measure(head, seeds)
    failed = [m for m in results if not m.ok]
    if failed:
        message = (
            f"REGRESSION: {head_label} cannot be measured: seed {failed[0].seed}: {failed[0].error}"
        )
        _print(args, {"outcome": "failed", "message": message, "head": head.sha})
        return 1

    if stored is not None:
        table = pl.concat(
            [
                measurer.table([head_name], seeds),
                stored.with_columns(pl.lit(reference_name).alias("variant")),
            ]
        )
        reference_label = str(args.baseline_results)
    else:
        assert against is not None
        table = measurer.table([head_name, against.short], seeds)
        reference_label = f"{against.short} ({against.subject})"
    comparison = compare_paired(
        table,
        metric=metric,
        variant=head_name,
        baseline=reference_name,
        alpha=args.alpha,
        direction=spec.direction,
    )
    reference_values = table.filter(pl.col("variant") == reference_name)[metric].to_list()
    reference_mean = sum(reference_values) / len(reference_values) if reference_values else 0.0
    result = judge_regression(
        comparison,
        tolerance=tolerance.absolute(reference_mean),
        direction=spec.direction,
        alpha=args.alpha,
        head=head_label,
        reference=reference_label,
        metric=metric,
    )
    _print(
        args,
        {**result.to_dict(), "head_commit": head.sha, "study_dir": str(measurer.study_dir)},
        text=result.message,
    )
    return result.exit_code


def _stored_results(args: argparse.Namespace, metric: str, variant: str) -> pl.DataFrame:
    """The reference rows (``variant``, ``seed``, metric) of ``--baseline-results``."""
    import polars as pl

    from harness.store import find_study_dir, load_table

    table = load_table(find_study_dir(args.baseline_results))
    if metric not in table.columns:
        raise UserError(f"{args.baseline_results} has no metric '{metric}'")
    names = table["variant"].unique(maintain_order=True).to_list()
    wanted = args.baseline_variant or (variant if variant in names or len(names) != 1 else names[0])
    if wanted not in names:
        raise UserError(
            f"{args.baseline_results} has no variant '{wanted}' (it has: {', '.join(names)}); "
            "pick one with --baseline-variant"
        )
    rows = table.filter(pl.col("variant") == wanted).select("variant", "seed", metric)
    return rows.drop_nulls(metric)


def _print(args: argparse.Namespace, payload: dict[str, Any], text: str | None = None) -> None:
    if args.format == "json":
        print(json.dumps(payload, indent=2))
    else:
        print(text or payload["message"])
