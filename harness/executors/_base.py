"""The executor interface: submit runs, learn when they end, cancel what is left."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.store import RunKey


@dataclass(frozen=True, kw_only=True)
class RunPlan:
    """A run ready to start: its identity, resolved config and directory.

    Attributes:
        key: (variant, seed).
        kind: "builtin" or "command".
        config: the resolved config.
        config_hash: its hash.
        run_dir: where the worker writes (holds ``config.json`` already).
        total_steps: the planned number of steps when known, for progress display.
        wandb: the wandb settings handed to the worker.
    """

    key: RunKey
    kind: str
    config: dict[str, Any]
    config_hash: str
    run_dir: Path
    total_steps: int | None = None
    wandb: dict[str, Any] = field(default_factory=dict)


class Executor(ABC):
    """Starts workers for runs. Implementations: local processes, Slurm, Ray."""

    @property
    @abstractmethod
    def capacity(self) -> int:
        """How many runs may be in flight at once."""

    @abstractmethod
    def submit(self, plan: RunPlan) -> None:
        """Start a worker for ``plan`` (non-blocking)."""

    @abstractmethod
    def wait(self, timeout: float) -> list[RunPlan]:
        """Block up to ``timeout`` seconds; return the runs whose workers ended since last call."""

    def cancel(self, plan: RunPlan) -> None:  # noqa: B027 - optional, like close()
        """Stop one run's worker (a pruned trial); the run stays unfinished.

        Executors that cannot stop a single run leave it to finish.
        """

    @abstractmethod
    def cancel_all(self) -> None:
        """Stop every worker still running; their runs stay unfinished (no record)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (clusters, pools) once the study is over."""
