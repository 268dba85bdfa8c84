"""What to type to upload runs that wandb logged offline.

Offline runs (the default without an API key) stay in each run directory,
``<study>/runs/<variant>/s<seed>/wandb/offline-run-*``, until ``wandb sync`` uploads them; the
end-of-study summary prints the command when there are any not synced yet.
"""

from __future__ import annotations

import shlex
from pathlib import Path


def unsynced_offline_runs(study_dir: Path) -> list[Path]:
    """The offline wandb run directories under ``study_dir`` that ``wandb sync`` has not
    uploaded (it leaves a ``<run>.wandb.synced`` marker beside the log when it has)."""
    runs = sorted((study_dir / "runs").glob("*/s*/wandb/offline-run-*"))
    return [run for run in runs if run.is_dir() and not any(run.glob("*.wandb.synced"))]


def sync_command(study_dir: Path) -> str | None:
    """``wandb sync <study>/runs/*/s*/wandb/offline-run-*`` when there is something to upload,
    else None."""
    if not unsynced_offline_runs(study_dir):
        return None
    return f"wandb sync {shlex.quote(str(study_dir / 'runs'))}/*/s*/wandb/offline-run-*"
