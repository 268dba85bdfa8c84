"""``harness regress``'s one entry point, the CI gate: is HEAD worse than a reference
revision (or stored results)?

HEAD means the committed HEAD, checked out in its own worktree: uncommitted changes are not
measured (a note says so when there are some) unless ``working_tree`` is set, which runs the
command in the repository itself. Both are measured at the study's seeds and compared paired by
seed; :mod:`harness.bisect.regress` decides.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.bisect.settings import RegressSettings, open_measurements
from harness.errors import UserError

if TYPE_CHECKING:
    import polars as pl

    from harness.study.spec import StudySpec


def regress_gate(settings: RegressSettings) -> int:
    """Measure HEAD (or the working tree) and the reference at the same seeds, compare them
    paired by seed and print the decision on stdout (progress on stderr).

    Args:
        settings: the study's command, the reference and the tolerance.

    Returns:
        1 for a significant regression beyond the tolerance, or when HEAD cannot be measured;
        else 0.

    Raises:
        UserError: a bad revision, repository, study or reference.
    """
    import polars as pl

    from harness.bisect.measure import command_variant
    from harness.bisect.paired import compare_paired
    from harness.bisect.regress import Tolerance, judge_regression
    from harness.bisect.worktrees import WorktreePool, is_dirty, repo_root, resolve_commit

    measure = settings.measure
    if (settings.against is None) == (settings.baseline_results is None):
        raise UserError("give exactly one of --against REV and --baseline-results STUDY_DIR")
    tolerance = Tolerance.parse(settings.tolerance)
    repo = repo_root(measure.repo)
    spec = measure.source.load()
    variant = command_variant(spec, measure.variant)
    metric = measure.metric or spec.metric
    head = resolve_commit(repo, "HEAD")
    against = resolve_commit(repo, settings.against) if settings.against else None
    seeds = list(spec.seeds)
    stored = _stored_results(settings, metric, variant.name) if against is None else None
    if stored is not None:
        stored_seeds = set(stored["seed"].to_list())
        seeds = (
            [s for s in seeds if s in stored_seeds]
            if measure.source.seeds
            else sorted(stored_seeds)
        )
        if not seeds:
            raise UserError(f"{settings.baseline_results} has no runs at the requested seeds")

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    if against is not None and against.sha == head.sha and not settings.working_tree:
        message = f"no regression detected: HEAD {head.short} is the reference itself"
        _print(
            settings,
            {"outcome": "no_regression", "message": message, "head": head.sha, "exit_code": 0},
        )
        return 0
    if not settings.working_tree and is_dirty(repo):
        say(
            "note: the working tree has uncommitted changes; they are not measured (HEAD "
            f"{head.short} is). Use --working-tree to measure them."
        )
    with WorktreePool(repo, measure.worktree_dir) as pool:
        measurer = open_measurements(spec, variant, metric, measure, repo, pool, say)
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
        if settings.working_tree:
            head_name, head_label = "working-tree", f"the working tree (on {head.short})"
            results = measurer.measure_working_tree(head, seeds)
        else:
            head_name, head_label = head.short, f"HEAD {head.short}"
            results = measurer.measure(head, seeds)
    failed = [m for m in results if not m.ok]
    reference_short = against.short if against is not None else None
    if failed:
        message = (
            f"REGRESSION: {head_label} cannot be measured: seed {failed[0].seed}: {failed[0].error}"
        )
        failure: dict[str, Any] = {"outcome": "failed", "message": message, "head": head.sha}
        failure |= {"head_commit": head.sha, "study_dir": str(measurer.study_dir), "exit_code": 1}
        _record(settings, spec, failure, head=head_name, reference=reference_short)
        _print(settings, failure)
        return 1

    if stored is not None:
        table = pl.concat(
            [
                measurer.table([head_name], seeds),
                stored.with_columns(pl.lit(reference_name).alias("variant")),
            ]
        )
        reference_label = str(settings.baseline_results)
    else:
        assert against is not None
        table = measurer.table([head_name, against.short], seeds)
        reference_label = f"{against.short} ({against.subject})"
    comparison = compare_paired(
        table,
        metric=metric,
        variant=head_name,
        baseline=reference_name,
        alpha=settings.alpha,
        direction=spec.direction,
    )
    reference_values = table.filter(pl.col("variant") == reference_name)[metric].to_list()
    reference_mean = sum(reference_values) / len(reference_values) if reference_values else 0.0
    result = judge_regression(
        comparison,
        tolerance=tolerance.absolute(reference_mean),
        direction=spec.direction,
        alpha=settings.alpha,
        head=head_label,
        reference=reference_label,
        metric=metric,
    )
    payload = result.to_dict() | {
        "head_commit": head.sha,
        "study_dir": str(measurer.study_dir),
        "exit_code": result.exit_code,
    }
    _record(settings, spec, payload, head=head_name, reference=reference_short)
    _print(settings, payload, text=result.message)
    return result.exit_code


def _record(
    settings: RegressSettings,
    spec: StudySpec,
    payload: dict[str, Any],
    *,
    head: str,
    reference: str | None,
) -> None:
    """Save the gate's result in the commits study (``regress.json``, for ``harness report``)
    and log its commits to wandb when it is on."""
    from harness.bisect.wandb_log import log_commit_runs, regress_runs
    from harness.run.runner import wandb_settings
    from harness.store.command_results import write_command_result

    study_dir = Path(payload["study_dir"])
    write_command_result(study_dir, "regress", payload)
    log_commit_runs(
        regress_runs(payload, head=head, reference=reference),
        wandb=wandb_settings(spec, disabled=not settings.measure.wandb, job_type="regress"),
        group=f"regress-{head}-vs-{reference or 'stored'}",
        study_dir=study_dir,
    )


def _stored_results(settings: RegressSettings, metric: str, variant: str) -> pl.DataFrame:
    """The reference rows (``variant``, ``seed``, metric) of ``--baseline-results``."""
    import polars as pl

    from harness.store import find_study_dir, load_table

    table = load_table(find_study_dir(settings.baseline_results))
    if metric not in table.columns:
        raise UserError(f"{settings.baseline_results} has no metric '{metric}'")
    names = table["variant"].unique(maintain_order=True).to_list()
    wanted = settings.baseline_variant or (
        variant if variant in names or len(names) != 1 else names[0]
    )
    if wanted not in names:
        raise UserError(
            f"{settings.baseline_results} has no variant '{wanted}' (it has: {', '.join(names)}); "
            "pick one with --baseline-variant"
        )
    rows = table.filter(pl.col("variant") == wanted).select("variant", "seed", metric)
    return rows.drop_nulls(metric)


def _print(settings: RegressSettings, payload: dict[str, Any], text: str | None = None) -> None:
    if settings.format == "json":
        print(json.dumps(payload, indent=2))
    else:
        print(text or payload["message"])
