"""Nanoheads: spend a proportion of the attention parameters on very low-dimensional heads.

With ``model.nanohead_proportion = p`` and ``model.nanohead_dim = d``, round(p · n_head) of
the regular heads (size hs = n_embd / n_head) are replaced by floor(replaced · hs / d) heads of
size d, so the attention keeps (up to the floor) the parameters of plain MHA:
4 · C · (regular · hs + nanoheads · d) with C = n_embd. Regular heads are whole, so the
proportion actually spent is ``NanoheadLayout.proportion`` (a multiple of 1 / n_head): pick
n_head so the swept values land on distinct layouts (n_head = 8 for steps of 0.2).

At p = 0 the module is plain MHA with the same parameter names and shapes. Architecture only.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from models.attention_variants import attend
from models.config import ModelConfig


@dataclass(frozen=True, kw_only=True)
class NanoheadLayout:
    """How a layer's attention width is split.

    Attributes:
        regular_heads: heads of size ``head_size``.
        nanoheads: heads of size ``nanohead_dim``.
        head_size: n_embd / n_head.
        nanohead_dim: the nanoheads' size.
    """

    regular_heads: int
    nanoheads: int
    head_size: int
    nanohead_dim: int

    @property
    def regular_width(self) -> int:
        return self.regular_heads * self.head_size

    @property
    def nanohead_width(self) -> int:
        return self.nanoheads * self.nanohead_dim

    @property
    def attention_width(self) -> int:
        """Width of each of Q, K, V (and the output projection's input)."""
        return self.regular_width + self.nanohead_width

    @property
    def proportion(self) -> float:
        """The share of the attention parameters that the nanoheads hold."""
        return self.nanohead_width / self.attention_width


def nanohead_layout(config: ModelConfig) -> NanoheadLayout:
    replaced = round(config.nanohead_proportion * config.n_head)
    return NanoheadLayout(
        regular_heads=config.n_head - replaced,
        nanoheads=replaced * config.head_size // config.nanohead_dim,
        head_size=config.head_size,
        nanohead_dim=config.nanohead_dim,
    )


class NanoheadAttention(nn.Module):
    """Causal attention over regular heads and nanoheads side by side, concatenated."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.layout = nanohead_layout(config)
        width = self.layout.attention_width
        # Q, K, V each: the regular heads' width first, then the nanoheads'
        self.c_attn = nn.Linear(config.n_embd, 3 * width, bias=config.bias)
        self.c_proj = nn.Linear(width, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(
        self, x: torch.Tensor, *, memory_budget: int | None = None
    ) -> tuple[torch.Tensor, None]:
        """Returns the attention output (B, T, C) and None (no selection mask F).

        ``memory_budget`` narrows attention to the last keys, as in ``VariantAttention``.
        """
        config, layout = self.config, self.layout
        B, T, _ = x.size()
        R, N = layout.regular_heads, layout.nanoheads
        hs, d = layout.head_size, layout.nanohead_dim
        q, k, v = self.c_attn(x).split(layout.attention_width, dim=2)  # each (B, T, width)

        window = config.window_size
        if memory_budget is not None:
            window = min(window or T, memory_budget)
        dropout = config.dropout if self.training else 0.0
        outputs = []
        # heads of equal size attend together: first the regular ones, then the nanoheads
        for start, n_heads, size in ((0, R, hs), (layout.regular_width, N, d)):
            if n_heads == 0:
                continue
            part = slice(start, start + n_heads * size)
            qh = q[..., part].reshape(B, T, n_heads, size).transpose(1, 2)  # (B, nh, T, size)
            kh = k[..., part].reshape(B, T, n_heads, size).transpose(1, 2)  # (B, nh, T, size)
            vh = v[..., part].reshape(B, T, n_heads, size).transpose(1, 2)  # (B, nh, T, size)
            y = attend(qh, kh, vh, window=window, dropout=dropout)  # (B, nh, T, size)
            outputs.append(y.transpose(1, 2).reshape(B, T, n_heads * size))  # (B, T, nh * size)
        y = torch.cat(outputs, dim=-1)  # (B, T, width)
        return self.resid_dropout(self.c_proj(y)), None
