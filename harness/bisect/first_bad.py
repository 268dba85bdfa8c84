"""``harness bisect``'s one entry point: find the commit that made a metric worse, through seed
noise, and print what was found (see :mod:`harness.bisect.search` for the algorithm)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from harness.bisect.settings import BisectSettings, open_measurements

if TYPE_CHECKING:
    from harness.bisect.search import BisectResult


def find_first_bad(settings: BisectSettings) -> int:
    """Bisect between ``settings.good`` and ``settings.bad`` and print the result on stdout
    (progress on stderr).

    Args:
        settings: the study's command, the endpoints and the error budget.

    Returns:
        0 when the first bad commit is found, 1 when not (endpoints not confirmed, or
        ambiguous because of untestable commits).

    Raises:
        UserError: a bad revision, repository or study.
    """
    from harness.bisect.measure import command_variant
    from harness.bisect.search import noisy_bisect
    from harness.bisect.wandb_log import bisect_runs, log_commit_runs
    from harness.bisect.worktrees import WorktreePool, commits_between, repo_root, resolve_commit
    from harness.run.runner import wandb_settings
    from harness.store.command_results import write_command_result

    measure = settings.measure
    repo = repo_root(measure.repo)
    spec = measure.source.load()
    variant = command_variant(spec, measure.variant)
    metric = measure.metric or spec.metric
    good = resolve_commit(repo, settings.good)
    bad = resolve_commit(repo, settings.bad)
    commits = commits_between(repo, good, bad)

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    with WorktreePool(repo, measure.worktree_dir) as pool:
        measurer = open_measurements(spec, variant, metric, measure, repo, pool, say)
        measurer.write_meta(baseline=good.short)
        result = noisy_bisect(
            commits,
            measurer,
            metric=metric,
            direction=spec.direction,
            seeds=spec.seeds,
            max_seeds=settings.max_seeds,
            alpha=settings.alpha,
            margin=settings.margin,
            report=say,
            release=pool.release,
        )
    code = 0 if result.outcome == "found" else 1
    payload = result.to_dict() | {
        "good": good.sha,
        "bad": bad.sha,
        "study_dir": str(measurer.study_dir),
        "measured_now": measurer.executed,
        "exit_code": code,
    }
    write_command_result(measurer.study_dir, "bisect", payload)  # for harness report
    log_commit_runs(
        bisect_runs(payload),
        wandb=wandb_settings(spec, disabled=not measure.wandb, job_type="bisect"),
        group=f"bisect-{good.short}..{bad.short}",
        study_dir=measurer.study_dir,
    )
    if settings.format == "json":
        print(json.dumps(payload, indent=2))
    else:
        print(render(result, study_dir=measurer.study_dir, measured_now=measurer.executed))
    return code


def render(result: BisectResult, *, study_dir: Path, measured_now: int) -> str:
    """The table output of a :class:`~harness.bisect.search.BisectResult`."""
    level = f"{100 * (1 - result.alpha):g}% CI"
    lines = []
    culprit = result.culprit
    if result.outcome == "found" and culprit is not None:
        lines.append(f"first bad commit: {culprit.commit.sha} {culprit.commit.subject}")
        effect = culprit.comparison
        if effect is not None:
            lines.append(
                f"  {result.metric} vs the good endpoint: {effect.diff:+.4g} ({level} "
                f"{effect.ci_low:+.4g} .. {effect.ci_high:+.4g}, p={effect.p_value:.2g}, "
                f"d_z={effect.effect_size:.2f}, {effect.n_pairs} paired seeds)"
                + ("  [forced decision]" if culprit.forced else "")
            )
    elif result.outcome == "ambiguous":
        lines.append(f"first bad commit not determined: {result.reason}")
    else:
        lines.append(f"nothing to bisect: {result.reason}")
    lines.append("")
    header = f"{'pos':>4}  {'commit':<12}  {'verdict':<8}  {'seeds':>5}  "
    header += f"{'diff vs good':>12}  {level:>21}  {'p':>8}  subject"
    lines.append(header)
    for tested in sorted(result.tested, key=lambda t: t.position):
        c = tested.comparison
        verdict = tested.verdict + ("*" if tested.forced else "")
        diff = f"{c.diff:+.4g}" if c else ""
        ci = f"{c.ci_low:+.4g} .. {c.ci_high:+.4g}" if c else ""
        p = f"{c.p_value:.2g}" if c and not math.isnan(c.p_value) else ""
        subject = tested.commit.subject
        if tested.role != "probe":
            subject = f"({tested.role}) {subject}"
        if tested.error:
            subject += f"  [{tested.error}]"
        lines.append(
            f"{tested.position:>4}  {tested.commit.short:<12}  {verdict:<8}  {tested.seeds:>5}  "
            f"{diff:>12}  {ci:>21}  {p:>8}  {subject}"
        )
    lines.append("")
    if any(t.forced for t in result.tested):
        lines.append("* forced at --max-seeds to the nearer endpoint: not error-controlled")
    margin = f"; margin {result.margin:.4g}" if result.margin is not None else ""
    k = result.decisions
    lines.append(
        f"error control (Bonferroni, spent decision by decision): {result.decisions_made} "
        f"decision(s), {k} planned; alpha spent {result.alpha_spent:.3g} <= {result.alpha}"
    )
    lines.append(
        f"  decision j tests at alpha_j / {result.looks} looks: alpha_j = 0.8 x {result.alpha} / "
        f"{k} for j <= {k} (each test at {result.alpha_test:.2g}), "
        f"0.2 x {result.alpha} x 6 / (pi^2 (j - {k})^2) beyond{margin}"
    )
    lines.append(
        f"{measured_now} measurement(s) run now; all of them in {study_dir} "
        f"(harness compare {study_dir} works on it)"
    )
    return "\n".join(lines)
