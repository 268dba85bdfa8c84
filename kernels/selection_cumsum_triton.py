"""Triton kernels for ``selection_cumsum``: a blocked, compensated scan down the query axis.

Imported only when the Triton path runs (``kernels.selection_cumsum`` loads it lazily).

One program owns BLOCK_N key columns of one batch element and walks down the query axis in
tiles of BLOCK_M rows. Inside a tile the prefix is a parallel scan (``tl.cumsum``, error growing
with log2(BLOCK_M)); across tiles the running column totals are carried with Kahan
compensation, so the error of F does not grow with T. See docs/kernels.md for the bound.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

# Tile sizes. A memory-bound streaming kernel: wide column tiles for coalesced loads.
GPU_BLOCK_M, GPU_BLOCK_N = 32, 128
INTERPRETER_BLOCK_M, INTERPRETER_BLOCK_N = 16, 16


@triton.jit
def _selection_keep(rows, cols, T, PROTECT_BOS: tl.constexpr, ALLOW_MASKING_MYSELF: tl.constexpr):
    """Where S may be non-zero: causal (j <= i'), off the diagonal unless allowed, not BOS."""
    keep = (rows[:, None] >= 0) & (rows[:, None] < T) & (cols[None, :] < T)
    if ALLOW_MASKING_MYSELF:
        keep &= cols[None, :] <= rows[:, None]
    else:
        keep &= cols[None, :] < rows[:, None]
    if PROTECT_BOS:
        keep &= cols[None, :] != 0
    return keep


@triton.jit
def _selection_cumsum_fwd_kernel(
    x_ptr,
    f_ptr,
    T,
    stride_xb,
    stride_xi,
    stride_xj,
    stride_fb,
    stride_fi,
    stride_fj,
    PROTECT_BOS: tl.constexpr,
    ALLOW_MASKING_MYSELF: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
):
    pid_n = tl.program_id(0)
    b = tl.program_id(1).to(tl.int64)
    acc_dtype = f_ptr.dtype.element_ty
    cols = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    x_ptr += b * stride_xb
    f_ptr += b * stride_fb
    carry = tl.zeros([BLOCK_N], dtype=acc_dtype)  # sum of S[0 .. m0-2, cols]
    compensation = tl.zeros([BLOCK_N], dtype=acc_dtype)  # Kahan: carry overshoots by this
    # S[i', j] = 0 for i' < j, so F is 0 above this tile's first column: the output is
    # zero-initialised and the walk starts at the row tile holding that column.
    m_start = (pid_n * BLOCK_N // BLOCK_M) * BLOCK_M
    for m0 in range(m_start, T, BLOCK_M):
        rows = m0 + tl.arange(0, BLOCK_M)
        # Row i of F adds S up to row i-1: load S one row up, so the scan is inclusive.
        src = rows - 1
        keep = _selection_keep(src, cols, T, PROTECT_BOS, ALLOW_MASKING_MYSELF)
        x = tl.load(
            x_ptr + src[:, None] * stride_xi + cols[None, :] * stride_xj, mask=keep, other=0.0
        )
        s = tl.maximum(x.to(acc_dtype), 0.0)
        local = tl.cumsum(s, axis=0)
        f = carry[None, :] + (local - compensation[None, :])
        out_ok = (rows[:, None] < T) & (cols[None, :] < T)
        tl.store(f_ptr + rows[:, None] * stride_fi + cols[None, :] * stride_fj, f, mask=out_ok)
        y = tl.sum(s, axis=0) - compensation
        t = carry + y
        compensation = (t - carry) - y
        carry = t


@triton.jit
def _selection_cumsum_bwd_kernel(
    grad_f_ptr,
    x_ptr,
    grad_x_ptr,
    T,
    stride_gb,
    stride_gi,
    stride_gj,
    stride_xb,
    stride_xi,
    stride_xj,
    stride_dxb,
    stride_dxi,
    stride_dxj,
    PROTECT_BOS: tl.constexpr,
    ALLOW_MASKING_MYSELF: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
):
    # dX[i', j] = keep[i', j] * [X[i', j] > 0] * sum_{i > i'} dF[i, j]: a reversed scan,
    # walking up the query axis with the same Kahan carry as the forward.
    pid_n = tl.program_id(0)
    b = tl.program_id(1).to(tl.int64)
    acc_dtype = grad_f_ptr.dtype.element_ty
    cols = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    grad_f_ptr += b * stride_gb
    x_ptr += b * stride_xb
    grad_x_ptr += b * stride_dxb
    carry = tl.zeros([BLOCK_N], dtype=acc_dtype)  # sum of dF over rows below this tile + 1
    compensation = tl.zeros([BLOCK_N], dtype=acc_dtype)
    n_tiles = tl.cdiv(T, BLOCK_M)
    # Rows above the first column get no gradient (S is zero there); dX is zero-initialised.
    first_tile = pid_n * BLOCK_N // BLOCK_M
    for it in range(0, n_tiles - first_tile):
        m0 = (n_tiles - 1 - it) * BLOCK_M
        rows = m0 + tl.arange(0, BLOCK_M)
        below = rows + 1  # dS[i'] collects dF[i] for i > i': load dF one row down
        g = tl.load(
            grad_f_ptr + below[:, None] * stride_gi + cols[None, :] * stride_gj,
            mask=(below[:, None] < T) & (cols[None, :] < T),
            other=0.0,
        ).to(acc_dtype)
        local = tl.cumsum(g, axis=0, reverse=True)
        keep = _selection_keep(rows, cols, T, PROTECT_BOS, ALLOW_MASKING_MYSELF)
        x = tl.load(
            x_ptr + rows[:, None] * stride_xi + cols[None, :] * stride_xj, mask=keep, other=0.0
        ).to(acc_dtype)  # compare in float: the interpreter holds bfloat16 as raw bits
        dx = carry[None, :] + (local - compensation[None, :])
        dx = tl.where(keep & (x > 0), dx, 0.0)
        tl.store(
            grad_x_ptr + rows[:, None] * stride_dxi + cols[None, :] * stride_dxj,
            dx.to(grad_x_ptr.dtype.element_ty),
            mask=(rows[:, None] < T) & (cols[None, :] < T),
        )
        y = tl.sum(g, axis=0) - compensation
        t = carry + y
        compensation = (t - carry) - y
        carry = t


def _blocks(x: torch.Tensor, block_m: int | None, block_n: int | None) -> tuple[int, int]:
    default_m, default_n = (
        (GPU_BLOCK_M, GPU_BLOCK_N) if x.is_cuda else (INTERPRETER_BLOCK_M, INTERPRETER_BLOCK_N)
    )
    return block_m or default_m, block_n or default_n


def selection_cumsum_fwd(
    selection_logits: torch.Tensor,
    *,
    protect_bos: bool,
    allow_masking_myself: bool,
    accumulate_dtype: torch.dtype,
    block_m: int | None = None,
    block_n: int | None = None,
) -> torch.Tensor:
    """F from (B, T, T) logits, in ``accumulate_dtype`` (float32 or float64)."""
    B, T, _ = selection_logits.shape
    block_m, block_n = _blocks(selection_logits, block_m, block_n)
    f = torch.zeros(B, T, T, dtype=accumulate_dtype, device=selection_logits.device)
    grid = (triton.cdiv(T, block_n), B)
    _selection_cumsum_fwd_kernel[grid](
        selection_logits,
        f,
        T,
        *selection_logits.stride(),
        *f.stride(),
        PROTECT_BOS=protect_bos,
        ALLOW_MASKING_MYSELF=allow_masking_myself,
        BLOCK_M=block_m,
        BLOCK_N=block_n,
    )
    return f


def selection_cumsum_bwd(
    grad_f: torch.Tensor,
    selection_logits: torch.Tensor,
    *,
    protect_bos: bool,
    allow_masking_myself: bool,
    block_m: int | None = None,
    block_n: int | None = None,
) -> torch.Tensor:
    """Gradient of F's loss with respect to the (B, T, T) logits, in the logits' dtype."""
    B, T, _ = selection_logits.shape
    block_m, block_n = _blocks(selection_logits, block_m, block_n)
    grad_x = torch.zeros_like(selection_logits)
    grid = (triton.cdiv(T, block_n), B)
    _selection_cumsum_bwd_kernel[grid](
        grad_f,
        selection_logits,
        grad_x,
        T,
        *grad_f.stride(),
        *selection_logits.stride(),
        *grad_x.stride(),
        PROTECT_BOS=protect_bos,
        ALLOW_MASKING_MYSELF=allow_masking_myself,
        BLOCK_M=block_m,
        BLOCK_N=block_n,
    )
    return grad_x
