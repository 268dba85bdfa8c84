"""The end-of-study summary: variant × seed final metric, and what to type next."""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from harness.results.summary_data import Outcome
from harness.results.wandb_sync import sync_command
from harness.store import FileSystemStore, RunKey
from harness.store.records import RunRecord
from harness.study.spec import StudySpec

SHOWN_REASONS = 10
REASON_CHARS = 300


def print_summary(
    console: Console,
    spec: StudySpec,
    outcome: Outcome,
    *,
    workers: int | None = None,
    wall_time_s: float | None = None,
) -> int:
    """Print the summary table: variant × seed final metric, and what to type next.

    Args:
        console: where to print.
        spec: the study.
        outcome: what this invocation did.
        workers: runs at once; with it, harness's own share of the wall time is printed.
        wall_time_s: this invocation's wall time; default: this process's age.

    Returns:
        The exit code: 1 when any run failed or is unfinished, else 0.
    """
    store = FileSystemStore(outcome.study_dir)
    table = Table(title=f"{spec.name}: final {spec.metric} ({spec.direction})")
    table.add_column("variant", style="bold")
    for seed in spec.seeds:
        table.add_column(f"s{seed}", justify="right")
    failed, unfinished = [], []
    reasons: list[str] = []  # why each failed run failed: no progress display may have said
    finals: dict[str, list[tuple[int, float]]] = {}
    for variant in spec.variants:
        cells = []
        for seed in spec.seeds:
            key = RunKey(variant=variant.name, seed=seed)
            record = store.read_record(key)
            if record is None:
                status = store.status(key)
                cells.append(f"[dim]{status}")
                # planned (it has a config) and not running: its worker died without a record
                if status == "pending" and store.read_config(key) is not None:
                    unfinished.append(key)
            elif record.status != "done":
                cells.append(f"[red]{record.status}")
                if record.status == "failed":
                    failed.append(key)
                    reasons.append(f"{key} failed: {failure_reason(record)}")
            else:
                value = record.final_metrics.get(spec.metric)
                cells.append(f"{value:.4f}" if value is not None else "[dim]n/a")
                if value is not None:
                    finals.setdefault(variant.name, []).append((seed, value))
        name = f"{variant.name} (baseline)" if variant.name == spec.baseline else variant.name
        table.add_row(name, *cells)
    console.print(table)
    console.print(
        f"{len(outcome.executed)} run(s) executed now, {len(outcome.skipped)} already "
        f"finished, {len(outcome.planned)} in the study; results in {outcome.study_dir}"
    )
    if outcome.busy:
        console.print(f"[yellow]{len(outcome.busy)} run(s) are running in another process.")
    executed = outcome.executed
    records = executed if isinstance(executed, Iterable) else ()
    overhead = overhead_line(records, workers=workers, wall_time_s=wall_time_s)
    if overhead is not None:
        console.print(escape(overhead))
    for line in lost_runs_lines(outcome.study_dir):  # issue 18: lost runs are a result
        console.print(f"[yellow]{escape(line)}")
    for warning in seed_ignored_warnings(spec.metric, finals):
        console.print(f"[yellow]warning: {escape(warning)}")
    if failed:
        console.print(
            f"[red]{len(failed)} run(s) failed: "
            f"{', '.join(str(k) for k in failed)}; see their output.log "
            "(rerun them with --retry-failed)"
        )
        for reason in reasons[:SHOWN_REASONS]:
            console.print(f"  {escape(reason)}", soft_wrap=True)
        if len(reasons) > SHOWN_REASONS:
            console.print(f"  ... and {len(reasons) - SHOWN_REASONS} more")
    if unfinished:
        console.print(
            f"[red]{len(unfinished)} run(s) did not finish: "
            f"{', '.join(str(k) for k in unfinished)}; their worker died without a record "
            "(see worker.log in the run directory); run again to resume"
        )
    if finals:  # a study with no finished run has nothing to compare
        console.print(
            f"Next: [bold]harness compare {shlex.quote(str(outcome.study_dir))} "
            f"--metric {spec.metric}"
        )
    for line in wandb_lines(outcome):  # issue 33: a lost wandb service is said, not hidden
        console.print(f"[yellow]{escape(line)}", soft_wrap=True)
    if (sync := sync_command(outcome.study_dir)) is not None:  # wandb logged offline
        console.print(f"Upload the offline wandb runs: [bold]{escape(sync)}")
    return 1 if failed or unfinished else 0


def wandb_lines(outcome: Outcome) -> list[str]:
    """What did not reach wandb among the runs this invocation finished, read back from each
    run's wandb log (:func:`harness.worker.wandb_sink.wandb_logged`); empty when all did, or
    when wandb was off.

    Args:
        outcome: what this invocation did.

    Returns:
        Lines for the summary.
    """
    from harness.worker.wandb_sink import wandb_logged
    from harness.worker.wandb_source import wandb_run_id

    planned = outcome.planned if isinstance(outcome.planned, Iterable) else ()
    logging = {
        plan.key
        for plan in planned
        if getattr(plan, "wandb", {}).get("mode", "disabled") != "disabled"
    }
    executed = outcome.executed if isinstance(outcome.executed, Iterable) else ()
    store = FileSystemStore(outcome.study_dir)
    records = [r for r in executed if RunKey(variant=r.variant, seed=r.seed) in logging]
    missing, partial = [], []
    for record in records:
        key = RunKey(variant=record.variant, seed=record.seed)
        run_id = wandb_run_id(
            study=record.study,
            variant=record.variant,
            seed=record.seed,
            config_hash=record.config_hash,
        )
        logged = wandb_logged(store.run_dir(key), run_id)
        if logged.path is None or (logged.rows == 0 and not logged.finished):
            missing.append(str(key))
        elif not logged.finished:
            partial.append(f"{key} ({logged.rows} row(s))")
    if not missing and not partial:
        return []
    full = len(records) - len(missing) - len(partial)
    lines = [f"wandb: {full} of the {len(records)} run(s) finished now were logged in full"]
    if missing:
        lines.append(f"  not logged to wandb: {', '.join(missing)}")
    if partial:
        lines.append(f"  logged in part (their wandb log ends early): {', '.join(partial)}")
    lines.append(
        "  every run's metrics are in the store (harness export); why wandb stopped is in "
        "each run's worker.log (a lost wandb service, say)"
    )
    return lines


def failure_reason(record: RunRecord) -> str:
    """A failed run's reason on one line: the first line of its error, and the last line of its
    output when the error does not quote it (``command exited with code 1`` says little alone).

    Args:
        record: a failed run's record.

    Returns:
        At most :data:`REASON_CHARS` characters.
    """
    error = (record.error or "failed").strip().splitlines() or ["failed"]
    reason = error[0]
    output = [line.strip() for line in (record.output_tail or "").splitlines() if line.strip()]
    if output and output[-1] not in (record.error or ""):
        reason += f"; last output: {output[-1]}"
    return reason if len(reason) <= REASON_CHARS else reason[: REASON_CHARS - 3] + "..."


def seed_ignored_warnings(metric: str, finals: Mapping[str, list[tuple[int, float]]]) -> list[str]:
    """Variants whose seeds all gave a bit-identical final ``metric``: the seed never reached
    the training, so their seed noise is zero and no verdict may rest on them.

    Args:
        metric: the study metric.
        finals: variant -> (seed, final value) of its done runs.

    Returns:
        One warning per such variant (two seeds or more), naming it and how to pass the seed.
    """
    warnings = []
    for variant, values in finals.items():
        distinct = {value.hex() for _, value in values}  # bit for bit, nan included
        if len(values) >= 2 and len(distinct) == 1:
            seeds = ", ".join(str(seed) for seed, _ in values)
            warnings.append(
                f"{variant}: every seed ({seeds}) gave the bit-identical final {metric} "
                f"{values[0][1]!r}: the command ignores its seed, so these runs measure no seed "
                "noise and no better/worse verdict can rest on them. Pass the seed to the "
                "script ('--seed {seed}' in the command, or read $HARNESS_SEED) and make it "
                "seed its generators with it (torch.manual_seed(seed), not a fixed 1337)."
            )
    return warnings


def lost_runs_lines(study_dir: Path) -> list[str]:
    """One line per variant that lost runs: planned / done / diverged / failed (issue 18).

    ``harness compare`` withholds "better" from such a variant unless it stays better with each
    lost run counted as its worst outcome (docs/analysis.md).
    """
    from harness.store import load_run_statuses

    statuses = load_run_statuses(study_dir)
    lines = []
    for variant in statuses["variant"].unique(maintain_order=True).to_list():
        status = statuses.filter(statuses["variant"] == variant)["status"].to_list()
        diverged, failed = status.count("diverged"), status.count("failed")
        if diverged or failed:
            lines.append(
                f"lost runs: {variant}: {len(status)} planned, {status.count('done')} done, "
                f"{diverged} diverged, {failed} failed (harness compare counts each lost run "
                "as its worst outcome before calling it better)"
            )
    return lines


def overhead_line(
    executed: Iterable[object], *, workers: int | None, wall_time_s: float | None = None
) -> str | None:
    """Harness's own cost in this invocation: the wall time minus the runs' work (training and
    evaluation, or a command's process: ``RunRecord.timings``) divided among the workers, as a
    share of the wall time (issue 21).

    Args:
        executed: the records of the runs this invocation finished.
        workers: runs at once.
        wall_time_s: the invocation's wall time; default: this process's age.

    Returns:
        The line, or None when nothing ran, the workers are unknown or no record has timings.
    """
    from harness.store.records import WORK_TIMING_KEYS

    timings = [getattr(record, "timings", None) or {} for record in executed]
    timed = [t for t in timings if t]
    if not workers or not timed:
        return None
    wall = wall_time_s if wall_time_s is not None else process_age_s()
    if wall is None or wall <= 0:
        return None
    work = sum(t.get(key, 0.0) for t in timed for key in WORK_TIMING_KEYS)
    overhead = max(0.0, wall - work / workers)
    return (
        f"harness overhead: {overhead:.1f} s of {wall:.1f} s wall time ({100 * overhead / wall:.0f}"
        f" %): the wall time minus the {len(timed)} run(s)' training, evaluation and command "
        f"time ({work:.1f} s) over {workers} worker(s); per run in record.json 'timings'"
    )


def process_age_s() -> float | None:
    """Seconds since this process started (Linux ``/proc``); None where unknown."""
    import os

    from harness.processes import process_start_time

    start_ticks = process_start_time(os.getpid())
    try:
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    if start_ticks is None:
        return None
    return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
