"""Finding studies on disk: the runs root, a study directory from a name or none."""

from __future__ import annotations

import os
from pathlib import Path

from harness.errors import UserError
from harness.store.filesystem import FileSystemStore, is_study_dir
from harness.store.layout import RUNS_FOLDER, STUDY_FILE
from harness.store.meta import StudyMeta


def runs_root(explicit: str | Path | None = None) -> Path:
    """The studies root: ``--runs-dir``, else ``$HARNESS_RUNS_DIR``, else ``./runs``."""
    if explicit is not None:
        return Path(explicit)
    return Path(os.environ.get("HARNESS_RUNS_DIR", "runs"))


def find_study_dir(path: str | Path | None, *, runs_dir: str | Path | None = None) -> Path:
    """Resolve a study directory argument.

    Args:
        path: a study directory, a study name under the runs root, or None for the most
            recently modified study under the runs root.
        runs_dir: the runs root override.

    Raises:
        UserError: nothing that looks like a study directory was found.
    """
    root = runs_root(runs_dir)
    if path is None:
        candidates = [d for d in root.iterdir() if is_study_dir(d)] if root.is_dir() else []
        if not candidates:
            raise UserError(
                f"no study found under {root}/ (run 'harness study FILE' first, "
                "or pass a study directory)"
            )
        return max(candidates, key=_last_modified)
    path = Path(path)
    if is_study_dir(path):
        return path
    if is_study_dir(root / path):
        return root / path
    raise UserError(f"{path} is not a study directory (no study.json in it)")


def load_study_meta(study_dir: str | Path) -> StudyMeta:
    """A study's description (its name, metric, direction, baseline, variants, seeds ...).

    Raises:
        UserError: ``study_dir`` holds no study, or its description is unreadable.
    """
    meta = FileSystemStore(study_dir).read_study_meta()
    if meta is None:
        raise UserError(f"{study_dir} is not a study directory (no study.json in it)")
    return meta


def _last_modified(study_dir: Path) -> float:
    newest = (study_dir / STUDY_FILE).stat().st_mtime
    runs = study_dir / RUNS_FOLDER
    if runs.is_dir():
        for variant in runs.iterdir():
            newest = max(newest, variant.stat().st_mtime)
    return newest
