"""The learning-rate schedule: a multiplier of each parameter group's own base LR."""

from __future__ import annotations

import math


def lr_multiplier(
    step: int, *, total_steps: int, warmup_steps: int, decay: str, min_lr_ratio: float
) -> float:
    """The fraction of the peak LR at optimizer step ``step`` (0-based).

    Linear warmup over ``warmup_steps`` (the first step already gets 1 / warmup_steps), then
    "cosine" or "linear" decay reaching ``min_lr_ratio`` at the last step, or "constant".
    """
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if decay == "constant":
        return 1.0
    span = max(1, total_steps - 1 - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    if decay == "cosine":
        shape = 0.5 * (1.0 + math.cos(math.pi * progress))
    elif decay == "linear":
        shape = 1.0 - progress
    else:
        raise ValueError(f"unknown decay {decay!r}")
    return min_lr_ratio + (1.0 - min_lr_ratio) * shape
