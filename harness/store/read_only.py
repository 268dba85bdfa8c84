"""Studies imported by ``harness import-runs`` are read-only: nothing runs into them.

Their runs were made elsewhere (wandb, TensorBoard, MLflow, CSV logs); a run of harness's own
among them would mix two sources in one comparison, and ``--fresh`` would move the import aside.
So the store refuses to claim a run in an imported study, to describe it as another study, or
to archive it, saying where it was imported from and how to import it again; reading it
(compare, report, export) is unchanged, and only another import rewrites its description.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.errors import UserError

# The entry of study.json's ``other`` that marks an imported study and says where from
IMPORTED_STUDY = "imported"


def imported_from(other: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """Where an imported study's runs came from (its ``source``, ``location`` ...).

    Args:
        other: the study description's ``other`` entries (``StudyMeta.other``), or the
            description as stored (``study.json``, where they stand at the top level).

    Returns:
        The import's entry; None for a study that was not imported.
    """
    entry = other.get(IMPORTED_STUDY)
    return entry if isinstance(entry, Mapping) else None


def refuse_writing(study_dir: Path, origin: Mapping[str, Any], action: str) -> UserError:
    """The error that refuses ``action`` on an imported study.

    Args:
        study_dir: the study's folder.
        origin: its import entry (:func:`imported_from`).
        action: what was refused ("run a study into it" ...).

    Returns:
        One line naming the study, where it came from, and how to import it again.
    """
    source, location = origin.get("source", "?"), origin.get("location", "?")
    return UserError(
        f"{study_dir} holds runs imported from {source} {location} and is read-only: "
        f"harness will not {action}. To add new runs, log them there and import again "
        f"(harness import-runs {source} {location} -o {study_dir}); to run a study of your "
        "own, give it another name. compare, report and export read the import as it is."
    )
