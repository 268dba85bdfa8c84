"""The selective-attention cumulative mask F (Leviathan, Kalman & Matias 2024).

F[b, i, j] = sum_{i' < i} S[b, i', j], with S = ReLU(selection logits) on causal positions
(j <= i'), S[:, :, 0] = 0 when the BOS token is protected, and S's diagonal zeroed unless a
token may mask itself. The sum is shifted by one along the query axis, so the masking decided
at query i' applies strictly to later queries. F is subtracted from every head's logits.
"""

from __future__ import annotations

import torch


def selection_cumsum_reference(
    selection_logits: torch.Tensor,
    *,
    protect_bos: bool = True,
    allow_masking_myself: bool = False,
    accumulate_dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Plain-PyTorch F; see the module docstring.

    Args:
        selection_logits: (B, T, T) scaled logits of the selection head, query i by key j.
        protect_bos: zero column 0, so the BOS key is never masked.
        allow_masking_myself: keep S's diagonal (a token may mask itself for later queries).
        accumulate_dtype: dtype of the cumulative sum (float32 or float64).

    Returns:
        F, (B, T, T) in ``accumulate_dtype``.
    """
    T = selection_logits.shape[-1]
    S = torch.relu(selection_logits.to(accumulate_dtype))
    keep = torch.ones(T, T, dtype=torch.bool, device=S.device).tril()
    if not allow_masking_myself:
        keep &= ~torch.eye(T, dtype=torch.bool, device=S.device)
    if protect_bos:
        keep[:, 0] = False
    S = S.masked_fill(~keep, 0.0)
    # Shift by one query: row i sees the selections of rows 0 .. i-1.
    S = torch.nn.functional.pad(S[..., :-1, :], (0, 0, 1, 0))
    return torch.cumsum(S, dim=-2)


def selection_cumsum(
    selection_logits: torch.Tensor,
    *,
    protect_bos: bool = True,
    allow_masking_myself: bool = False,
    accumulate_dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """F for selective attention; the reference path (Triton comes with the kernels issue)."""
    return selection_cumsum_reference(
        selection_logits,
        protect_bos=protect_bos,
        allow_masking_myself=allow_masking_myself,
        accumulate_dtype=accumulate_dtype,
    )
