"""The selective-attention cumulative mask F (Leviathan, Kalman & Matias 2024).

F[b, i, j] = sum_{i' < i} S[b, i', j], with S = ReLU(selection logits) on causal positions
(j <= i'), S[:, :, 0] = 0 when the BOS token is protected, and S's diagonal zeroed unless a
token may mask itself. The sum is shifted by one along the query axis, so the masking decided
at query i' applies strictly to later queries. F is subtracted from every head's logits.

Two implementations behind one public function: ``selection_cumsum_reference`` (plain PyTorch,
beside the math) and a Triton blocked, compensated scan (``kernels/selection_cumsum_triton.py``)
registered as the custom op ``harness_kernels::selection_cumsum`` so torch.compile can trace it.
"""

from __future__ import annotations

import torch

from kernels._backend import Backend, use_triton


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


# --- the Triton path as a custom op: opaque to torch.compile, traced through its fake ---------


@torch.library.custom_op("harness_kernels::selection_cumsum", mutates_args=())
def _selection_cumsum_op(
    selection_logits: torch.Tensor,
    protect_bos: bool,
    allow_masking_myself: bool,
    accumulate_dtype: torch.dtype,
) -> torch.Tensor:
    from kernels.selection_cumsum_triton import selection_cumsum_fwd

    return selection_cumsum_fwd(
        selection_logits,
        protect_bos=protect_bos,
        allow_masking_myself=allow_masking_myself,
        accumulate_dtype=accumulate_dtype,
    )


@_selection_cumsum_op.register_fake
def _(selection_logits, protect_bos, allow_masking_myself, accumulate_dtype):
    return selection_logits.new_empty(selection_logits.shape, dtype=accumulate_dtype)


@torch.library.custom_op("harness_kernels::selection_cumsum_backward", mutates_args=())
def _selection_cumsum_backward_op(
    grad_f: torch.Tensor,
    selection_logits: torch.Tensor,
    protect_bos: bool,
    allow_masking_myself: bool,
) -> torch.Tensor:
    from kernels.selection_cumsum_triton import selection_cumsum_bwd

    return selection_cumsum_bwd(
        grad_f,
        selection_logits,
        protect_bos=protect_bos,
        allow_masking_myself=allow_masking_myself,
    )


@_selection_cumsum_backward_op.register_fake
def _(grad_f, selection_logits, protect_bos, allow_masking_myself):
    return torch.empty_like(selection_logits)


def _setup_context(ctx, inputs, output):
    selection_logits, protect_bos, allow_masking_myself, _ = inputs
    ctx.save_for_backward(selection_logits)
    ctx.protect_bos = protect_bos
    ctx.allow_masking_myself = allow_masking_myself


def _backward(ctx, grad_f):
    (selection_logits,) = ctx.saved_tensors
    grad_x = _selection_cumsum_backward_op(
        grad_f, selection_logits, ctx.protect_bos, ctx.allow_masking_myself
    )
    return grad_x, None, None, None


_selection_cumsum_op.register_autograd(_backward, setup_context=_setup_context)


def selection_cumsum(
    selection_logits: torch.Tensor,
    *,
    protect_bos: bool = True,
    allow_masking_myself: bool = False,
    accumulate_dtype: torch.dtype = torch.float32,
    backend: Backend = "auto",
) -> torch.Tensor:
    """F for selective attention; see the module docstring.

    Args:
        selection_logits: (..., T, T) scaled logits of the selection head, query i by key j.
        protect_bos: zero column 0, so the BOS key is never masked.
        allow_masking_myself: keep S's diagonal (a token may mask itself for later queries).
        accumulate_dtype: dtype of F and of its accumulation (float32 or float64). The Triton
            scan is compensated, so float32 stays within a few ulps of the float64 answer.
        backend: "auto" (Triton on CUDA tensors, the reference otherwise), "reference", or
            "triton" (on CPU only under ``TRITON_INTERPRET=1``, for tests).

    Returns:
        F, (..., T, T) in ``accumulate_dtype``; differentiable in ``selection_logits``.
    """
    if accumulate_dtype not in (torch.float32, torch.float64):
        raise ValueError(f"accumulate_dtype must be float32 or float64, got {accumulate_dtype}")
    if not use_triton(backend, selection_logits):
        return selection_cumsum_reference(
            selection_logits,
            protect_bos=protect_bos,
            allow_masking_myself=allow_masking_myself,
            accumulate_dtype=accumulate_dtype,
        )
    *lead, T, n_keys = selection_logits.shape
    if n_keys != T:
        raise ValueError(f"selection_logits must be square in its last two dims, got {T}x{n_keys}")
    f = _selection_cumsum_op(
        selection_logits.reshape(-1, T, T), protect_bos, allow_masking_myself, accumulate_dtype
    )
    return f.reshape(*lead, T, T)
