"""Weights & Biases logging: one wandb run per harness run, offline unless configured.

The harness store, not wandb, is the source of truth: a wandb failure is reported in the run's
output and never fails the run.
"""

from __future__ import annotations

import netrc
import os
import sys
from pathlib import Path
from typing import Any


def resolve_mode(requested: str = "auto", *, enabled: bool = True) -> str:
    """The wandb mode to use: ``WANDB_MODE`` wins; "auto" is online only with an API key."""
    if not enabled:
        return "disabled"
    env_mode = os.environ.get("WANDB_MODE")
    if env_mode:
        return "disabled" if env_mode in ("disabled", "dryrun-disabled") else env_mode
    if requested != "auto":
        return requested
    return "online" if _api_key_configured() else "offline"


def _api_key_configured() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


class WandbSink:
    """Streams a run's metric rows to wandb; a no-op when the mode is "disabled".

    Args:
        settings: ``{"mode", "project", "entity"}``; mode as resolved by :func:`resolve_mode`.
        study: the study name (the wandb group, and the default project).
        variant: the variant name.
        seed: the run's seed; the wandb run is named ``<variant>-s<seed>``.
        config: the resolved config, stored as the wandb config.
        run_dir: wandb's files go under it.
    """

    def __init__(
        self,
        settings: dict[str, Any],
        *,
        study: str,
        variant: str,
        seed: int,
        config: dict[str, Any],
        run_dir: Path,
    ) -> None:
        self.run: Any = None
        mode = settings.get("mode", "disabled")
        if mode == "disabled":
            return
        try:
            import wandb

            self.run = wandb.init(
                project=settings.get("project") or study,
                entity=settings.get("entity"),
                group=study,
                name=f"{variant}-s{seed}",
                config={"variant": variant, "seed": seed, **config},
                dir=str(run_dir),
                mode=mode,
                reinit=True,
                settings=wandb.Settings(silent=True, console="off"),
            )
        except Exception as error:  # wandb must never cost a result
            print(f"harness: wandb disabled for this run: {error}", file=sys.stderr)
            self.run = None

    def log(self, row: dict[str, Any]) -> None:
        if self.run is None:
            return
        values = {k: v for k, v in row.items() if k != "step"}
        step = row.get("step")
        try:
            self.run.log(values, step=int(step) if isinstance(step, int | float) else None)
        except Exception as error:
            print(f"harness: wandb logging stopped: {error}", file=sys.stderr)
            self.run = None

    def finish(self, *, failed: bool = False) -> None:
        if self.run is None:
            return
        try:
            self.run.finish(exit_code=1 if failed else 0)
        except Exception as error:
            print(f"harness: wandb finish failed: {error}", file=sys.stderr)
        self.run = None
