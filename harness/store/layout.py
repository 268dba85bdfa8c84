"""The on-disk layout: the one place that names the files of a study and of a run.

Layout::

    <study dir>/study.json                       the study's description (StudyMeta)
    <study dir>/sequential.json                  an --until-decided study's design and looks
    <study dir>/.lock                            the lock a take-over of a stale claim holds
    <study dir>/runs/<variant>/s<seed>/          one run: :class:`RunDir`
    <phased root>/phases.json                    a phased study: its finished phases' decisions
    <study dir>/bisect.json, regress.json        the last harness bisect / regress over the
                                                 commits study (harness.store.command_results)
    <runs root>/coordcheck/<check>/coordcheck.json   a coordinate check's result and plot data

Everything outside :mod:`harness.store` that needs a file of a run asks a :class:`RunDir` for
it (``RunDir(plan.run_dir).metrics``) instead of spelling its name, so the layout has one
owner; ``tests/store/test_layout_ownership.py`` keeps it that way.
"""

from __future__ import annotations

import posixpath
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

STUDY_FILE = "study.json"
PHASES_FILE = "phases.json"
SEQUENTIAL_FILE = "sequential.json"
LOCK_FILE = ".lock"
RUNS_FOLDER = "runs"
COORDCHECK_FOLDER = "coordcheck"  # under the runs root: one folder per coordinate check
# The result of a command that is not a study, by command (harness.store.command_results).
COMMAND_RESULT_FILES = {
    "coordcheck": "coordcheck.json",
    "bisect": "bisect.json",
    "regress": "regress.json",
}
DIFF_FILE = "git.diff"  # a dirty tree's diff, named in the record's provenance (relative)


@dataclass(frozen=True)
class RunDir:
    """The directory of one run and every path in it.

    Attributes:
        path: the run directory, ``<study dir>/runs/<variant>/s<seed>``.
    """

    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    @property
    def config(self) -> Path:
        """``config.json``: the planned run (resolved config and hash), written on claiming."""
        return self.path / "config.json"

    @property
    def claim(self) -> Path:
        """``claim.json``: who runs it (host, pid, token, command group); mtime = heartbeat."""
        return self.path / "claim.json"

    @property
    def metrics(self) -> Path:
        """``metrics.jsonl``: one JSON object per line, appended while the run runs."""
        return self.path / "metrics.jsonl"

    @property
    def record(self) -> Path:
        """``record.json``: the finished run (``RunRecord``), written atomically at the end."""
        return self.path / "record.json"

    @property
    def output(self) -> Path:
        """``output.log``: the run's own stdout and stderr (the trainer's or the command's)."""
        return self.path / "output.log"

    @property
    def worker_log(self) -> Path:
        """``worker.log``: the worker process's stdout and stderr."""
        return self.path / "worker.log"

    @property
    def executor(self) -> Path:
        """``executor.json``: the Slurm job or Ray task that runs it, and how it ended."""
        return self.path / "executor.json"

    @property
    def slurm_log(self) -> Path:
        """``slurm.log``: what Slurm and submitit printed for the run's job."""
        return self.path / "slurm.log"

    @property
    def git_diff(self) -> Path:
        """``git.diff``: the diff of a dirty tree the run ran from."""
        return self.path / DIFF_FILE

    @property
    def wandb(self) -> Path:
        """``wandb/``: what a wandb run leaves when ``WANDB_DIR`` is the run directory."""
        return self.path / "wandb"

    @property
    def attempt_files(self) -> tuple[Path, ...]:
        """What one attempt at the run writes and a new attempt starts without (the metrics,
        the output, the saved diff)."""
        return (self.metrics, self.output, self.git_diff)


def harness_file_names() -> frozenset[str]:
    """The names harness itself writes in a run's folder (every path of :class:`RunDir`): a
    script's own results must be named otherwise, since a source declared under one of these
    would be read as the script's, and cleared with a failed attempt's leftovers."""
    paths = RunDir(Path("."))
    return frozenset(
        getattr(paths, name).name
        for name, member in vars(RunDir).items()
        if isinstance(member, property) and name != "attempt_files"
    )


def names_harness_file(path: str, run_dir_placeholder: str = "{run_dir}") -> str | None:
    """The harness file ``path`` names, when it is ``{run_dir}/<one of harness's files>...``
    (or a temporary file of an atomic write there); None for any other path."""
    if not path.startswith(run_dir_placeholder):
        return None
    inside = posixpath.normpath(path[len(run_dir_placeholder) :].lstrip("/") or ".")
    first = inside.split("/", 1)[0]
    if first in harness_file_names() or (first.startswith(".") and first.endswith(".tmp")):
        return first
    return None


def phase_decisions_file(phased_root: Path) -> Path:
    """Where a phased study keeps the decisions of its finished phases.

    Returns:
        ``<phased root>/phases.json``.
    """
    return phased_root / PHASES_FILE


def temporary_beside(path: Path) -> Path:
    """A fresh hidden temporary name in ``path``'s directory, for writing it atomically.

    Returns:
        ``<dir>/.<name>.<random hex>.tmp``.
    """
    return path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")


_TEMPORARY = re.compile(r"\.(?P<name>.+)\.[0-9a-f]{32}\.tmp")


def harness_temporaries(run_dir: Path) -> list[Path]:
    """The temporary files of harness's atomic writes in a run's folder (``.claim.json.<hex>.tmp``
    ...; :func:`temporary_beside` names them), in flight or left by a writer that was killed
    mid-write; a file of any other name is not harness's and not among them."""
    try:
        entries = list(run_dir.iterdir())
    except OSError:
        return []
    names = harness_file_names()
    return [
        path
        for path in entries
        if (found := _TEMPORARY.fullmatch(path.name)) and found["name"] in names
    ]
