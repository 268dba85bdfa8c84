"""Attention variants beside the reference ``CausalSelfAttention`` of ``models.gpt``.

Grouped-query attention (GQA: fewer key/value heads than query heads), multi-head latent
attention (MLA: keys and values come up from one small latent per token), QK-norm, a sliding
window, and the head-mixing strategies of ``models.head_mixing``. ``models.gpt.Block`` builds
``VariantAttention`` whenever one of these switches is on, and the plain ``CausalSelfAttention``
otherwise, so the default model (and every checkpoint of it) is untouched.

Reads top to bottom: norm → window mask → attend → the module. What each variant caches at
inference is counted in ``models.kv_cache``.
Architecture only: no optimizer, no I/O.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from torch.nn import functional as F

from models import mup
from models.config import ModelConfig
from models.head_mixing import HeadMixing, output_projection

# -- norm ------------------------------------------------------------------------------------


class RMSNorm(nn.Module):
    """RMSNorm with a learnable gain (starts at 1). QK-norm applies it over each head's
    dimensions, one gain shared by all heads (as Qwen3 and Gemma do)."""

    def __init__(self, ndim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ndim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x, self.weight.shape, self.weight, 1e-6)


# -- the sliding window and the attention itself ----------------------------------------------


def sliding_window_mask(T: int, window: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """(T, T) bool, True where query i may read key j: j <= i and i - j < window.

    A window >= T is exactly the causal mask.
    """
    i = torch.arange(T, device=device).unsqueeze(1)  # (T, 1)
    j = torch.arange(T, device=device).unsqueeze(0)  # (1, T)
    return (j <= i) & (i - j < window)


def attend(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    window: int,
    dropout: float,
    scale: float | None = None,
) -> torch.Tensor:
    """Causal scaled-dot-product attention, optionally within a sliding window.

    Args:
        q: (B, H, T, hs) queries.
        k: (B, H_kv, T, hs) keys; H_kv divides H (fewer is GQA: query head h reads key/value
            head h // (H / H_kv)).
        v: (B, H_kv, T, hs) values.
        window: keys per query (the query's own included); 0 is full causal attention.
        dropout: dropout on the attention probabilities.
        scale: factor on q·k; None is 1 / sqrt(hs).

    Returns:
        (B, H, T, hs).
    """
    T = q.size(2)
    grouped = k.size(1) != q.size(1)  # SDPA shares each K/V head among H / H_kv query heads
    if window == 0:
        return F.scaled_dot_product_attention(
            q, k, v, is_causal=True, dropout_p=dropout, scale=scale, enable_gqa=grouped
        )
    keep = sliding_window_mask(T, window, q.device)  # (T, T)
    return F.scaled_dot_product_attention(
        q, k, v, attn_mask=keep, dropout_p=dropout, scale=scale, enable_gqa=grouped
    )


# -- the module ------------------------------------------------------------------------------


class VariantAttention(nn.Module):
    """MHA, GQA or MLA, with optional QK-norm, sliding window and head mixing.

    Parameter names follow ``CausalSelfAttention`` (``c_attn``, ``c_proj``) wherever the shapes
    agree, so under the paired init an MHA variant with, say, QK-norm starts from exactly the
    weights of plain MHA, and GQA with ``num_kv_heads = n_head`` *is* MHA.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        C, H, hs = config.n_embd, config.n_head, config.head_size
        self.n_head, self.n_kv_head, self.head_size = H, config.kv_heads, hs
        if config.attention == "mla":
            # Queries as in MHA; keys and values are read up from one latent of latent_dim per
            # token (DeepSeek-V2, without its decoupled RoPE part: positions here are learned
            # embeddings). Only the latent needs caching at inference.
            self.c_q = nn.Linear(C, H * hs, bias=config.bias)
            self.c_kv = nn.Linear(C, config.latent_dim, bias=config.bias)  # the down-projection
            self.c_k_up = nn.Linear(config.latent_dim, H * hs, bias=config.bias)
            self.c_v_up = nn.Linear(config.latent_dim, H * hs, bias=config.bias)
        else:  # "mha" (n_kv_head = n_head) and "gqa": one fused Q/K/V projection
            self.c_attn = nn.Linear(C, (H + 2 * self.n_kv_head) * hs, bias=config.bias)
        self.q_norm = RMSNorm(hs) if config.qk_norm else None
        self.k_norm = RMSNorm(hs) if config.qk_norm else None
        self.mix = HeadMixing(config)
        self.c_proj = output_projection(config)
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(
        self, x: torch.Tensor, *, memory_budget: int | None = None
    ) -> tuple[torch.Tensor, None]:
        """Returns the attention output (B, T, C) and None (there is no selection mask F).

        ``memory_budget`` keeps the last ``memory_budget`` keys per query, as ``budget_mask``
        does for plain attention: a sliding window (the narrower one, with ``window_size``).
        """
        config = self.config
        B, T, _ = x.size()
        H, H_kv, hs = self.n_head, self.n_kv_head, self.head_size
        if config.attention == "mla":
            latent = self.c_kv(x)  # (B, T, latent_dim): what an inference cache keeps
            q = self.c_q(x).view(B, T, H, hs).transpose(1, 2)  # (B, H, T, hs)
            k = self.c_k_up(latent).view(B, T, H, hs).transpose(1, 2)  # (B, H, T, hs)
            v = self.c_v_up(latent).view(B, T, H, hs).transpose(1, 2)  # (B, H, T, hs)
        else:
            q, k, v = self.c_attn(x).split([H * hs, H_kv * hs, H_kv * hs], dim=2)
            q = q.view(B, T, H, hs).transpose(1, 2)  # (B, H, T, hs)
            k = k.view(B, T, H_kv, hs).transpose(1, 2)  # (B, H_kv, T, hs)
            v = v.view(B, T, H_kv, hs).transpose(1, 2)  # (B, H_kv, T, hs)
        if self.q_norm is not None and self.k_norm is not None:
            # QK-norm: unit-RMS queries and keys (times a learned gain) bound the logits, which
            # keeps attention from saturating early in training
            q, k = self.q_norm(q), self.k_norm(k)

        window = config.window_size
        if memory_budget is not None:
            window = min(window or T, memory_budget)
        dropout = config.dropout if self.training else 0.0
        scale = mup.attention_scale(config)  # 1/√hs, or muP's attn_mult/hs
        y = attend(q, k, v, window=window, dropout=dropout, scale=scale)  # (B, H, T, hs)

        y = self.mix(y, x)  # (B, T, H * hs) for concat / perhead, (B, T, hs) otherwise
        return self.resid_dropout(self.c_proj(y)), None
