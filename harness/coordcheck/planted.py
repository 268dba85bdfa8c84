"""Deliberately broken muP variants of the built-in GPT, to show that the check catches them.

Each is a context manager that replaces one function that ``models.mup`` or the trainer looks
up at call time, and restores it on exit. Tests and ``benchmarks/coordcheck_verdicts.py`` use
them; ``harness coordcheck`` never does. They are the bugs behind broken muP implementations
seen in practice:

- ``one_lr``: a schedule that sets one LR for every parameter group (nanoGPT's
  ``for g in optimizer.param_groups: g["lr"] = lr``), undoing the hidden matrices' LR / width.
- ``sqrt_attention_scale``: attention logits scaled by 1/√d_head (SP's) instead of muP's 1/d_head.
- ``no_output_multiplier``: the logits lack muP's 1 / width_mult.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

import harness.training.loop as loop
from models import mup
from models.config import ModelConfig


class _OneLRSchedule(torch.optim.lr_scheduler.LambdaLR):
    """Every group's LR set from the first group's base LR (the bug), times the schedule."""

    def get_lr(self) -> list[float | torch.Tensor]:
        factor = self.lr_lambdas[0](self.last_epoch)
        peak = self.base_lrs[0]  # the first group carries the base LR (models.mup.param_groups)
        return [peak * factor for _ in self.optimizer.param_groups]


def _one_lr_scheduler(optimizer: torch.optim.Optimizer, config: Any) -> _OneLRSchedule:
    return _OneLRSchedule(optimizer, lambda step: 1.0)


def _sqrt_attention_scale(config: ModelConfig) -> float:
    return 1.0 / math.sqrt(config.head_size)


def _no_output_multiplier(config: ModelConfig) -> float:
    return config.mup_output_mult if config.parametrization == "mup" else 1.0


_PLANTS: dict[str, tuple[Any, str, Callable[..., Any]]] = {
    "one_lr": (loop, "make_scheduler", _one_lr_scheduler),
    "sqrt_attention_scale": (mup, "attention_scale", _sqrt_attention_scale),
    "no_output_multiplier": (mup, "output_multiplier", _no_output_multiplier),
}
PLANTED_BUGS = tuple(_PLANTS)


@contextmanager
def planted(bug: str) -> Iterator[None]:
    """Plant ``bug`` (one of ``PLANTED_BUGS``) for the duration of the ``with`` block.

    Args:
        bug: the bug's name.
    """
    owner, name, broken = _PLANTS[bug]
    original = getattr(owner, name)
    setattr(owner, name, broken)
    try:
        yield
    finally:
        setattr(owner, name, original)
