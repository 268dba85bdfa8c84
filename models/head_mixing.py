"""Head mixing: how the heads' outputs (B, H, T, hs) become the attention block's output.

The five strategies of the head-mixing ablation round (seed 000), as ``model.head_mixing``:

- ``concat``: concatenate the heads, one output projection (H · hs → C). Standard MHA.
- ``wsum``: a learnable scalar per head (starting at 1), the weighted sum of the heads, then a
  smaller output projection (hs → C).
- ``perhead``: each head projects to C with its own (hs → C) matrix, and the projections are
  summed. Σ_h y_h W_h equals concat(y) · [W_1; …; W_H], so this spans the same functions as
  ``concat`` and, under AdamW (elementwise), trains the same way from an equally distributed
  init: it is the round's built-in A/A control, whose difference from ``concat`` should sit
  inside the seed noise.
- ``inputw``: input-dependent weights, a softmax over heads of a linear map of the block's input
  (attention over heads), then the weighted sum and a smaller output projection (hs → C).
- ``sum``: the plain sum of the heads (no cross-head weights), then hs → C.

Architecture only: no optimizer, no I/O.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from torch.nn import functional as F

from models.config import ModelConfig


def mixed_width(config: ModelConfig) -> int:
    """The output projection's input width under ``config.head_mixing``."""
    if config.head_mixing in ("concat", "perhead"):
        return config.n_head * config.head_size
    return config.head_size


class HeadGains(nn.Module):
    """``wsum``'s learnable scalar per head; ``weight`` starts at 1 (the plain sum)."""

    def __init__(self, n_head: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n_head))


class HeadMixing(nn.Module):
    """Combines the heads; holds the mixing weights but not the output projection."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.strategy = config.head_mixing
        self.head_gain = HeadGains(config.n_head) if self.strategy == "wsum" else None
        self.head_gate = (
            nn.Linear(config.n_embd, config.n_head, bias=False)
            if self.strategy == "inputw"
            else None
        )

    def forward(self, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Args:
            y: (B, H, T, hs) the heads' outputs.
            x: (B, T, C) the attention block's input (``inputw`` weighs the heads by it).

        Returns:
            (B, T, H · hs) for concat and perhead, (B, T, hs) for the others.
        """
        B, H, T, hs = y.shape
        if self.strategy in ("concat", "perhead"):
            return y.transpose(1, 2).contiguous().view(B, T, H * hs)  # (B, T, H * hs)
        if self.strategy == "sum":
            return y.sum(dim=1)  # (B, T, hs)
        if self.head_gain is not None:  # wsum
            weights = self.head_gain.weight.view(1, H, 1, 1)  # (1, H, 1, 1)
        else:  # inputw
            assert self.head_gate is not None
            gates = F.softmax(self.head_gate(x), dim=-1)  # (B, T, H), a distribution over heads
            weights = gates.transpose(1, 2).unsqueeze(-1)  # (B, H, T, 1)
        return (y * weights).sum(dim=1)  # (B, T, hs)


class PerHeadProjection(nn.Module):
    """``perhead``'s output projection: head h maps (hs → C) with ``weight[h]``, then the sum."""

    def __init__(self, n_head: int, head_size: int, n_embd: int, bias: bool) -> None:
        super().__init__()
        self.n_head, self.head_size = n_head, head_size
        self.weight = nn.Parameter(torch.empty(n_head, head_size, n_embd))
        self.bias = nn.Parameter(torch.zeros(n_embd)) if bias else None

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        B, T, _ = y.shape
        heads = y.view(B, T, self.n_head, self.head_size)  # (B, T, H, hs)
        out = torch.einsum("bthd,hdc->btc", heads, self.weight)  # (B, T, C), summed over heads
        return out if self.bias is None else out + self.bias


def output_projection(config: ModelConfig) -> nn.Module:
    """The attention block's output projection (named ``c_proj`` by its owner, so it gets the
    residual-branch init)."""
    if config.head_mixing == "perhead":
        return PerHeadProjection(config.n_head, config.head_size, config.n_embd, config.bias)
    return nn.Linear(mixed_width(config), config.n_embd, bias=config.bias)
