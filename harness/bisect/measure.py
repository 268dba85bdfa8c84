"""Measure a study's command at a commit and seed, once: the results are an ordinary study.

The measurements of one command variant live in ``<runs root>/<study>-<variant>-commits/``,
a study directory like any other (``study.json``, ``runs/<variant>/s<seed>/...``) whose
variants are commits (their 12-digit short sha) and, for ``harness regress --working-tree``,
``working-tree``. So ``harness runs`` / ``harness compare`` / ``harness export`` work on it,
and bisect and regress share it: a commit measured by one is not measured again by the other.

A measurement is a command run claimed, executed and collected by the study scheduler
(:class:`harness.run.scheduler.Scheduler`) through an in-process executor, with the commit's
worktree as the current directory; its record is written atomically, so a bisect interrupted
at any point resumes from the measurements that finished. The cache key is (commit, seed)
plus the config hash of the study's command config without ``cwd`` (the worktree's location
is incidental): if the study's command changes, the old measurements are refused rather than
mixed in (``--fresh`` moves them aside).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.bisect.worktrees import Commit, WorktreePool
from harness.errors import UserError
from harness.executors import RunPlan
from harness.executors.inprocess import InProcessExecutor
from harness.run.scheduler import Scheduler
from harness.store import CommitMeta, FileSystemStore, RunKey, StudyMeta
from harness.study.spec import StudySpec, VariantSpec, config_hash

if TYPE_CHECKING:
    import polars as pl

WORKING_TREE = "working-tree"


@dataclass(frozen=True, kw_only=True)
class Measurement:
    """One (commit, seed) result.

    Attributes:
        variant: the variant name it is stored under (short sha or ``working-tree``).
        seed: the seed.
        value: the metric's final value; None when the run failed or did not report it.
        error: why there is no value.
        cached: whether it was read from an earlier invocation rather than run now.
    """

    variant: str
    seed: int
    value: float | None
    error: str | None = None
    cached: bool = False

    @property
    def ok(self) -> bool:
        return self.value is not None


def command_variant(spec: StudySpec, name: str | None) -> VariantSpec:
    """The study variant whose command is measured: ``name``, else the study's baseline.

    Raises:
        UserError: the variant does not exist or is not a command variant.
    """
    variant = spec.variant(name or spec.baseline)
    if variant.kind != "command":
        raise UserError(
            f"variant '{variant.name}' of study '{spec.name}' runs the built-in trainer; bisect "
            "and regress run a command in each commit's checkout, so the variant needs a "
            '`command` (e.g. command = "python benchmarks/regression_probe.py --seed {seed} '
            '--run-dir {run_dir}", see studies/regression.toml)'
        )
    return variant


class CommitMeasurements:
    """The (commit, seed) measurements of one command variant of a study.

    Args:
        spec: the study.
        variant: the command variant measured.
        metric: the metric read from each run's final metrics.
        runs_root: the results root; the measurements go to ``<root>/<study>-<variant>-commits``.
        repo: the git repository (for ``working-tree`` measurements: the directory measured).
        pool: where commits get checked out.
        retry_failed: run again measurements that failed before (default: failures are cached
            too, like successes, so a crashing commit is not rerun on every resume).
        fresh: move existing measurements aside first.
        report: called with one line per measurement run now (progress).
    """

    def __init__(
        self,
        spec: StudySpec,
        *,
        variant: VariantSpec,
        metric: str,
        runs_root: Path,
        repo: Path,
        pool: WorktreePool,
        retry_failed: bool = False,
        fresh: bool = False,
        report: Callable[[str], None] | None = None,
    ) -> None:
        self.spec = spec
        self.variant = variant
        self.metric = metric
        self.repo = repo
        self.pool = pool
        self.retry_failed = retry_failed
        self.report = report or (lambda line: None)
        self.name = f"{spec.name}-{variant.name}-commits"
        self.store = FileSystemStore(runs_root.resolve() / self.name)
        if fresh:
            self.store.archive()
        self.executed = 0

    @property
    def study_dir(self) -> Path:
        return self.store.study_dir

    def measure(self, commit: Commit, seeds: Iterable[int]) -> list[Measurement]:
        """Measure ``commit`` at each seed (cached ones are read back), in order.

        Stops at the first seed whose run fails: a commit that cannot run is skipped by the
        callers, so measuring its other seeds would be wasted time.
        """
        results = []
        for seed in seeds:
            result = self._measure_one(commit.short, commit, seed, working_tree=False)
            results.append(result)
            if not result.ok:
                break
        return results

    def measure_working_tree(self, head: Commit, seeds: Iterable[int]) -> list[Measurement]:
        """Measure the repository's working tree as it is now (uncommitted changes included).

        Never cached: the working tree can change between invocations, so earlier
        ``working-tree`` measurements are deleted first.
        """
        shutil.rmtree(self.store.study_dir / "runs" / WORKING_TREE, ignore_errors=True)
        return [self._measure_one(WORKING_TREE, head, seed, working_tree=True) for seed in seeds]

    def table(self, variants: Sequence[str], seeds: Sequence[int]) -> pl.DataFrame:
        """The successful measurements of ``variants`` × ``seeds``: variant, seed, metric."""
        import polars as pl

        rows = []
        for variant in variants:
            for seed in seeds:
                record = self.store.read_record(RunKey(variant=variant, seed=seed))
                value = record.final_metrics.get(self.metric) if record else None
                if record is not None and record.status == "done" and value is not None:
                    rows.append({"variant": variant, "seed": seed, self.metric: float(value)})
        schema = {"variant": pl.Utf8, "seed": pl.Int64, self.metric: pl.Float64}
        return pl.DataFrame(rows, schema=schema)

    # -- one run ------------------------------------------------------------------------------
    def _config(self, commit: Commit, *, working_tree: bool) -> dict[str, Any]:
        config = json.loads(json.dumps(self.variant.config))
        config["git"] = {"commit": commit.sha, "working_tree": working_tree}
        return config

    def _measure_one(
        self, name: str, commit: Commit, seed: int, *, working_tree: bool
    ) -> Measurement:
        key = RunKey(variant=name, seed=seed)
        config = self._config(commit, working_tree=working_tree)
        expected_hash = config_hash(config)
        record = self.store.read_record(key)
        if record is not None:
            stored = self.store.read_config(key)
            if stored is not None and stored.config_hash != expected_hash:
                raise UserError(
                    f"{self.store.run_dir(key)} was measured with a different command config "
                    f"than study '{self.spec.name}' has now; run again with --fresh to move the "
                    f"old measurements aside ({self.store.study_dir})"
                )
            if record.status == "done" or not self.retry_failed:
                return self._result(key, record, cached=True)

        root = self.repo if working_tree else self.pool.path(commit)
        run_config = dict(config)
        # relative paths (and a relative `cwd`) resolve inside the checkout
        run_config["cwd"] = str(root / config.get("cwd", "."))
        plan = RunPlan(
            key=key,
            kind="command",
            config=run_config,
            config_hash=expected_hash,
            run_dir=self.store.run_dir(key),
        )
        # The worker records the git state of the current directory as provenance: make that
        # the checkout measured, not the directory harness was started from.
        scheduler = Scheduler(
            self.store,
            lambda: InProcessExecutor(cwd=root),
            study_name=self.name,
            role="bisect",
            retry=("failed", "diverged") if self.retry_failed else (),
        )
        scheduler.enqueue([plan])
        started = time.monotonic()
        try:
            if scheduler.submit().busy:
                record = self.store.read_record(key)
                if record is None:
                    raise UserError(
                        f"{self.store.run_dir(key)} is being measured by another process"
                    )
                return self._result(key, record, cached=True)  # measured meanwhile
            self._note_commit(name, commit)
            ((_, record),) = scheduler.collect(timeout=0)  # executes the run here
        except BaseException:
            scheduler.abandon()
            raise
        finally:
            scheduler.close()
        if record is None:  # the worker always writes one; the run directory was tampered with
            raise UserError(f"the measurement in {self.store.run_dir(key)} left no record")
        self.executed += 1
        result = self._result(key, record, cached=False)
        outcome = f"{self.metric}={result.value:.6g}" if result.ok else f"FAILED: {result.error}"
        self.report(f"  measured {name} seed {seed}: {outcome} ({time.monotonic() - started:.1f}s)")
        return result

    def _result(self, key: RunKey, record: Any, *, cached: bool) -> Measurement:
        value = record.final_metrics.get(self.metric)
        if record.status != "done":
            error = record.error or record.status
            return Measurement(variant=key.variant, seed=key.seed, value=None, error=error)
        if value is None:
            error = f"the run did not report '{self.metric}' (see {self.store.run_dir(key)})"
            return Measurement(variant=key.variant, seed=key.seed, value=None, error=error)
        return Measurement(variant=key.variant, seed=key.seed, value=float(value), cached=cached)

    def _note_commit(self, name: str, commit: Commit) -> None:
        """Keep ``study.json`` listing every measured commit, so other commands can read it."""
        meta = self.store.read_study_meta()
        commits = dict(meta.commits) if meta else {}
        variants = list(meta.variants) if meta else []
        if name in commits and name in variants:
            return
        commits[name] = CommitMeta(sha=commit.sha, subject=commit.subject)
        if name not in variants:
            variants.append(name)
        baseline = (meta.baseline if meta else None) or name
        self.write_meta(baseline=baseline, variants=variants, commits=commits)

    def write_meta(
        self,
        *,
        baseline: str,
        variants: Sequence[str] | None = None,
        commits: Mapping[str, CommitMeta] | None = None,
    ) -> None:
        """Write ``study.json`` (``harness compare`` reads its metric, direction and baseline)."""
        meta = self.store.read_study_meta()
        known_seeds = {key.seed for key in self.store.run_keys()}
        if variants is None:
            variants = meta.variants if meta else ()
        if commits is None:
            commits = meta.commits if meta else {}
        self.store.write_study_meta(
            StudyMeta(
                name=self.name,
                description=(
                    f"variant '{self.variant.name}' of study '{self.spec.name}' measured per "
                    "commit by harness bisect/regress"
                ),
                metric=self.metric,
                direction=self.spec.direction,
                seeds=tuple(sorted(known_seeds | set(meta.seeds if meta else ()))),
                baseline=baseline,
                variants=tuple(variants),
                commits=commits,
                base=json.loads(json.dumps(self.variant.config)),
                source=str(self.spec.source) if self.spec.source else None,
                updated_at=time.time(),
            )
        )
