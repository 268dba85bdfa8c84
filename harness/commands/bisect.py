"""``harness bisect --good REV --bad REV STUDY.toml``: find the commit that made a metric worse.

Each commit is checked out into its own git worktree (never the user's checkout) and the
study's command variant runs there across seeds; each probe is compared with the good endpoint,
paired by seed, and gets more seeds until it is clearly good or clearly bad. See
:mod:`harness.bisect.search` for the algorithm and its error control. Exit codes: 0 when the
first bad commit is found, 1 when not (endpoints not confirmed, or ambiguous because of
untestable commits), 2 for bad input.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.commands._common import (
    add_format_argument,
    add_study_arguments,
    load_study_from_args,
    positive,
)

if TYPE_CHECKING:
    from harness.bisect.search import BisectResult
    from harness.study.spec import StudySpec, VariantSpec


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_study_arguments(parser)
    parser.add_argument(
        "--good", required=True, metavar="REV", help="a commit without the regression"
    )
    parser.add_argument(
        "--bad", default="HEAD", metavar="REV", help="a commit with it (default: HEAD)"
    )
    parser.add_argument(
        "--max-seeds",
        type=positive,
        default=32,
        help="most seeds one decision may use; the seed count doubles up to it (default 32)",
    )
    parser.add_argument(
        "--alpha",
        type=probability,
        default=0.05,
        help="family-wise error level of the whole bisect (default 0.05)",
    )
    parser.add_argument(
        "--margin",
        type=float,
        default=None,
        help="a commit worse than good by less than this is good (default: half the "
        "endpoints' regression)",
    )
    add_format_argument(parser, ("table", "json"))
    add_git_arguments(parser)


def add_git_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared with ``harness regress``: what is measured, in which repository, and
    how earlier measurements are reused."""
    parser.add_argument("--metric", default=None, help="the metric (default: the study's)")
    parser.add_argument(
        "--variant",
        default=None,
        help="the study's command variant to measure (default: the study's baseline)",
    )
    parser.add_argument(
        "--repo", default=".", help="the git repository (default: the current directory's)"
    )
    parser.add_argument(
        "--worktree-dir",
        type=Path,
        default=None,
        help="where commits are checked out (default <repo>/.git/harness-worktrees; "
        "removed afterwards)",
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="move earlier measurements aside instead of reusing them",
    )
    parser.add_argument(
        "--retry-failed",
        action="store_true",
        help="rerun measurements that failed before (default: a failure is cached too)",
    )


def probability(text: str) -> float:
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def run(args: argparse.Namespace) -> int:
    from harness.bisect.measure import command_variant
    from harness.bisect.search import noisy_bisect
    from harness.bisect.worktrees import WorktreePool, commits_between, repo_root, resolve_commit

    repo = repo_root(args.repo)
    spec = load_study_from_args(args)
    variant = command_variant(spec, args.variant)
    metric = args.metric or spec.metric
    good = resolve_commit(repo, args.good)
    bad = resolve_commit(repo, args.bad)
    commits = commits_between(repo, good, bad)

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    with WorktreePool(repo, args.worktree_dir) as pool:
        measurer = open_measurements(spec, variant, metric, args, repo, pool, say)
        measurer.write_meta(baseline=good.short)
        result = noisy_bisect(
            commits,
            measurer,
            metric=metric,
            direction=spec.direction,
            seeds=spec.seeds,
            max_seeds=args.max_seeds,
            alpha=args.alpha,
            margin=args.margin,
            report=say,
            release=pool.release,
        )
    extra = {"study_dir": str(measurer.study_dir), "measured_now": measurer.executed}
    if args.format == "json":
        print(json.dumps({**result.to_dict(), **extra}, indent=2))
    else:
        print(render(result, study_dir=measurer.study_dir, measured_now=measurer.executed))
    return 0 if result.outcome == "found" else 1


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


def open_measurements(
    spec: StudySpec,
    variant: VariantSpec,
    metric: str,
    args: argparse.Namespace,
    repo: Path,
    pool: Any,
    say: Callable[[str], None],
) -> Any:
    """The per-(commit, seed) measurement cache that bisect and regress share."""
    from harness.bisect.measure import CommitMeasurements
    from harness.store import runs_root

    return CommitMeasurements(
        spec,
        variant=variant,
        metric=metric,
        runs_root=runs_root(args.runs_dir),
        repo=repo,
        pool=pool,
        retry_failed=args.retry_failed,
        fresh=args.fresh,
        report=say,
    )
