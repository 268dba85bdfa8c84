"""Selective attention (Leviathan, Kalman & Matias 2024), causal, MHA or GQA.

One selection head's logits S = ReLU(scale * q_s k_s^T) decide, per query i', how much to
mask each earlier key j for every later query; the accumulated mask
F[i, j] = sum_{i' < i} S[i', j] (``selection_cumsum``) is subtracted from every head's logits:

    O_h = softmax_causal(scale * Q_h K_h^T - F) @ V_h

Two implementations behind one public function: ``selective_attention_reference`` (plain
PyTorch: materialises the (B, T, T) selection logits and F and the (B, H, T, T) attention)
and a fused flash-attention-style Triton kernel (``kernels/selective_attention_triton.py``)
that never materialises a T x T tensor, registered as the custom op
``harness_kernels::selective_attention`` so torch.compile can trace it. See docs/kernels.md.
"""

from __future__ import annotations

import math

import torch

from kernels._backend import Backend, use_triton
from kernels.selection_cumsum import selection_cumsum_reference


# (BLOCK_M, BLOCK_N) tiles of the fused kernels. Untuned guesses on GPU (no GPU was at hand;
# see docs/kernels.md): narrower key tiles for wide heads keep the backward's three (BLOCK_N x D)
# fp32 accumulators in registers. Small under the interpreter so small shapes cross tiles.
def _gpu_blocks(head_dim: int) -> tuple[int, int]:
    return (64, 64) if head_dim <= 64 else (64, 32)


INTERPRETER_BLOCKS = (16, 16)


def _selection_inputs(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    selection_head: int,
    selection_q: torch.Tensor | None,
    selection_k: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Check the layouts and return the (B, T, Ds) selection queries and keys."""
    if q.dim() != 4 or k.dim() != 4 or v.dim() != 4:
        raise ValueError("q, k, v must be (B, H, T, D), (B, H_kv, T, D), (B, H_kv, T, D)")
    B, H, T, D = q.shape
    if k.shape != v.shape or k.shape[0] != B or k.shape[2] != T or k.shape[3] != D:
        raise ValueError(f"k and v must be (B, H_kv, T, D) = (B, *, {T}, {D}); got {k.shape}")
    if H % k.shape[1] != 0:
        raise ValueError(f"query heads ({H}) must be a multiple of key/value heads ({k.shape[1]})")
    if not q.dtype == k.dtype == v.dtype:
        raise ValueError(f"q, k, v must share a dtype; got {q.dtype}, {k.dtype}, {v.dtype}")
    if (selection_q is None) != (selection_k is None):
        raise ValueError("give both selection_q and selection_k, or neither")
    if selection_q is None:
        if not 0 <= selection_head < H:
            raise ValueError(f"selection_head must be in [0, {H}), got {selection_head}")
        # The selection head's own query and its (shared, under GQA) key.
        return q[:, selection_head], k[:, selection_head // (H // k.shape[1])]
    assert selection_k is not None
    if selection_q.shape != selection_k.shape or selection_q.shape[:2] != (B, T):
        raise ValueError(
            f"selection_q and selection_k must both be (B, T, Ds) = ({B}, {T}, *); "
            f"got {selection_q.shape} and {selection_k.shape}"
        )
    if selection_q.dtype != selection_k.dtype:
        raise ValueError("selection_q and selection_k must share a dtype")
    return selection_q, selection_k


def selective_attention_reference(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    selection_head: int = 0,
    selection_q: torch.Tensor | None = None,
    selection_k: torch.Tensor | None = None,
    protect_bos: bool = True,
    allow_masking_myself: bool = False,
    scale: float | None = None,
) -> torch.Tensor:
    """Plain-PyTorch selective attention; arguments as ``selective_attention``.

    Computed in float32 (float64 for float64 inputs) whatever the input dtype: it is the truth
    the kernel is tested against. Materialises (B, T, T) selection tensors and the (B, H, T, T)
    attention.
    """
    sel_q, sel_k = _selection_inputs(q, k, v, selection_head, selection_q, selection_k)
    _, H, T, D = q.shape
    group = H // k.shape[1]
    scale = 1.0 / math.sqrt(D) if scale is None else scale
    compute = torch.promote_types(q.dtype, torch.float32)
    selection_logits = scale * (
        sel_q.to(compute) @ sel_k.to(compute).transpose(-1, -2)
    )  # (B, T, T)
    F = selection_cumsum_reference(
        selection_logits,
        protect_bos=protect_bos,
        allow_masking_myself=allow_masking_myself,
        accumulate_dtype=compute,
    )  # (B, T, T)
    k_heads = k.to(compute).repeat_interleave(group, dim=1)  # (B, H, T, D)
    v_heads = v.to(compute).repeat_interleave(group, dim=1)  # (B, H, T, D)
    logits = scale * (q.to(compute) @ k_heads.transpose(-1, -2)) - F[:, None]  # (B, H, T, T)
    causal = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()
    logits = logits.masked_fill(~causal, float("-inf"))
    return (torch.softmax(logits, dim=-1) @ v_heads).to(q.dtype)  # (B, H, T, D)


# --- the Triton path as custom ops: opaque to torch.compile, traced through their fakes -------


@torch.library.custom_op("harness_kernels::selective_attention", mutates_args=())
def _selective_attention_op(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    sel_q: torch.Tensor,
    sel_k: torch.Tensor,
    scale: float,
    protect_bos: bool,
    allow_masking_myself: bool,
    block_m: int,
    block_n: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    from kernels.selective_attention_triton import selective_attention_fwd

    return selective_attention_fwd(
        q,
        k,
        v,
        sel_q,
        sel_k,
        scale=scale,
        protect_bos=protect_bos,
        allow_masking_myself=allow_masking_myself,
        block_m=block_m,
        block_n=block_n,
    )


@_selective_attention_op.register_fake
def _(q, k, v, sel_q, sel_k, scale, protect_bos, allow_masking_myself, block_m, block_n):
    B, H, T, D = q.shape
    n_tiles = (T + block_m - 1) // block_m
    return (
        q.new_empty(B, H, T, D),
        q.new_empty(B, H, T, dtype=torch.float32),
        q.new_empty(B, n_tiles, T, dtype=torch.float32),
    )


@torch.library.custom_op("harness_kernels::selective_attention_backward", mutates_args=())
def _selective_attention_backward_op(
    grad_o: torch.Tensor,
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    sel_q: torch.Tensor,
    sel_k: torch.Tensor,
    o: torch.Tensor,
    lse: torch.Tensor,
    prefix: torch.Tensor,
    scale: float,
    protect_bos: bool,
    allow_masking_myself: bool,
    block_m: int,
    block_n: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    from kernels.selective_attention_triton import selective_attention_bwd

    return selective_attention_bwd(
        grad_o,
        q,
        k,
        v,
        sel_q,
        sel_k,
        o,
        lse,
        prefix,
        scale=scale,
        protect_bos=protect_bos,
        allow_masking_myself=allow_masking_myself,
        block_m=block_m,
        block_n=block_n,
    )


@_selective_attention_backward_op.register_fake
def _(grad_o, q, k, v, sel_q, sel_k, o, lse, prefix, scale, protect_bos, allow_masking_myself,
      block_m, block_n):  # fmt: skip
    # Contiguous, as selective_attention_bwd returns them, whatever the inputs' strides: the
    # model's q, k, v are transposed views and sel_q, sel_k slices of them, and a fake with the
    # inputs' strides (empty_like) would not match the real outputs (torch.compile trusts it).
    return tuple(x.new_empty(x.shape) for x in (q, k, v, sel_q, sel_k))


def _setup_context(ctx, inputs, output):
    q, k, v, sel_q, sel_k, scale, protect_bos, allow_masking_myself, block_m, block_n = inputs
    o, lse, prefix = output
    ctx.save_for_backward(q, k, v, sel_q, sel_k, o, lse, prefix)
    ctx.options = (scale, protect_bos, allow_masking_myself, block_m, block_n)
    ctx.mark_non_differentiable(lse, prefix)


def _backward(ctx, grad_o, _grad_lse, _grad_prefix):
    grads = _selective_attention_backward_op(grad_o, *ctx.saved_tensors, *ctx.options)
    return (*grads, None, None, None, None, None)


_selective_attention_op.register_autograd(_backward, setup_context=_setup_context)


def selective_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    selection_head: int = 0,
    selection_q: torch.Tensor | None = None,
    selection_k: torch.Tensor | None = None,
    protect_bos: bool = True,
    allow_masking_myself: bool = False,
    scale: float | None = None,
    backend: Backend = "auto",
) -> torch.Tensor:
    """Causal selective attention; see the module docstring.

    Args:
        q: (B, H, T, D) queries.
        k: (B, H_kv, T, D) keys; H must be a multiple of H_kv (H_kv = H is MHA, fewer is GQA,
            query head h reading key/value head h // (H / H_kv)).
        v: (B, H_kv, T, D) values.
        selection_head: query head whose logits select (its key head under GQA). Ignored when
            ``selection_q`` / ``selection_k`` are given.
        selection_q: optional (B, T, Ds) queries of a separate selection projection.
        selection_k: optional (B, T, Ds) keys of a separate selection projection.
        protect_bos: the BOS key (position 0) is never masked.
        allow_masking_myself: a token's selection of itself counts for later queries.
        scale: logit scale for attention and selection; default 1 / sqrt(D).
        backend: "auto" (Triton on CUDA tensors, the reference otherwise), "reference", or
            "triton" (on CPU only under ``TRITON_INTERPRET=1``, for tests).

    Returns:
        (B, H, T, D) in q's dtype; differentiable in q, k, v and the selection inputs.
    """
    sel_q, sel_k = _selection_inputs(q, k, v, selection_head, selection_q, selection_k)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    if not use_triton(backend, q, k, v, sel_q, sel_k):
        return selective_attention_reference(
            q,
            k,
            v,
            selection_q=sel_q,
            selection_k=sel_k,
            protect_bos=protect_bos,
            allow_masking_myself=allow_masking_myself,
            scale=scale,
        )
    return _selective_attention_triton(
        q, k, v, sel_q, sel_k, scale=scale, protect_bos=protect_bos,
        allow_masking_myself=allow_masking_myself,
    )  # fmt: skip


def _selective_attention_triton(
    q, k, v, sel_q, sel_k, *, scale, protect_bos, allow_masking_myself, block_m=None, block_n=None
) -> torch.Tensor:
    """The Triton path with explicit tile sizes (tests use it to cross tile boundaries)."""
    head_dim = max(q.shape[-1], sel_q.shape[-1])
    default_m, default_n = _gpu_blocks(head_dim) if q.is_cuda else INTERPRETER_BLOCKS
    o, _, _ = _selective_attention_op(
        q,
        k,
        v,
        sel_q,
        sel_k,
        scale,
        protect_bos,
        allow_masking_myself,
        block_m or default_m,
        block_n or default_n,
    )
    return o
