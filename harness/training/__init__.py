"""The built-in trainer. Importing this package does not import torch; ``train`` loads the loop
(and torch) when called.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.training.config import RunConfig

__all__ = ["train"]


def train(
    config: RunConfig,
    *,
    seed: int,
    run_dir: Path,
    log: Callable[[dict[str, Any]], None],
    device: str = "cpu",
) -> None:
    """Train a built-in run; see :func:`harness.training.loop.train`."""
    from harness.training.loop import train as run_loop

    run_loop(config, seed=seed, run_dir=run_dir, log=log, device=device)
