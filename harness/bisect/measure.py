"""Measure a study's command at a commit and seed, once: the results are an ordinary study.

The measurements of one command variant live in ``<runs root>/<study>-<variant>-commits/``,
a study directory like any other (``study.json``, ``runs/<variant>/s<seed>/...``) whose
variants are commits (their 12-digit short sha) and, for ``harness regress --working-tree``,
``working-tree``. So ``harness runs`` / ``harness compare`` / ``harness export`` work on it,
and bisect and regress share it: a commit measured by one is not measured again by the other.

A measurement is a command run planned with the store and executed by
:func:`harness.run.worker.execute` in this process, with ``cwd`` the commit's worktree; its
record is written atomically, so a bisect interrupted at any point resumes from the
measurements that finished. The cache key is (commit, seed) plus the config hash of the
study's command config without ``cwd`` (the worktree's location is incidental): if the study's
command changes, the old measurements are refused rather than mixed in (``--fresh`` moves
them aside).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.bisect.worktrees import Commit, WorktreePool
from harness.errors import UserError
from harness.store import FileSystemStore, RunConfigFile, RunKey
from harness.store.filesystem import claim_owner
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
        from harness.run.worker import execute

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

        if not self.store.try_claim(key, claim_owner("bisect")):
            raise UserError(f"{self.store.run_dir(key)} is being measured by another process")
        self._note_commit(name, commit)
        try:
            root = self.repo if working_tree else self.pool.path(commit)
            run_config = dict(config)
            # relative paths (and a relative `cwd`) resolve inside the checkout
            run_config["cwd"] = str(root / config.get("cwd", "."))
            self.store.write_config(
                RunConfigFile(
                    study=self.name,
                    variant=name,
                    seed=seed,
                    kind="command",
                    config=run_config,
                    config_hash=expected_hash,
                )
            )
            started = time.monotonic()
            # The worker records the git state of the current directory as provenance: make
            # that the checkout measured, not the directory harness was started from.
            with contextlib.chdir(root):
                record = execute(self.store.run_dir(key).resolve())
        except BaseException:
            if self.store.read_record(key) is None:
                self.store.release(key)
            raise
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
        commits = meta.get("commits", {})
        if name in commits and meta.get("variants") and name in meta["variants"]:
            return
        commits[name] = {"sha": commit.sha, "subject": commit.subject}
        variants = list(meta.get("variants", []))
        if name not in variants:
            variants.append(name)
        self.write_meta(baseline=meta.get("baseline") or name, variants=variants, commits=commits)

    def write_meta(
        self,
        *,
        baseline: str,
        variants: Sequence[str] | None = None,
        commits: dict[str, Any] | None = None,
    ) -> None:
        """Write ``study.json`` (``harness compare`` reads its metric, direction and baseline)."""
        meta = self.store.read_study_meta()
        known_seeds = {key.seed for key in self.store.run_keys()}
        self.store.write_study_meta(
            {
                "name": self.name,
                "description": (
                    f"variant '{self.variant.name}' of study '{self.spec.name}' measured per "
                    "commit by harness bisect/regress"
                ),
                "metric": self.metric,
                "direction": self.spec.direction,
                "seeds": sorted(known_seeds | set(meta.get("seeds", []))),
                "baseline": baseline,
                "variants": list(variants if variants is not None else meta.get("variants", [])),
                "commits": commits if commits is not None else meta.get("commits", {}),
                "base": json.loads(json.dumps(self.variant.config)),
                "source": str(self.spec.source) if self.spec.source else None,
                "updated_at": time.time(),
            }
        )
