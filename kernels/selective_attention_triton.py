"""Triton kernels for fused selective attention: flash-attention style, forward and backward.

Imported only when the Triton path runs (``kernels.selective_attention`` loads it lazily).

Notation (one batch element): S = ReLU(scale * Qs Ks^T) on the selection-keep mask,
F[i, j] = sum_{i' < i} S[i', j], logits_h = scale * Q_h K_h^T - F (causal), O_h = softmax @ V_h.

F is never materialised. Query tiles are BLOCK_M rows; for a tile starting at row m0,
F[i, j] = C[m0 / BLOCK_M, j] + sum_{m0 <= i' < i} S[i', j], where the column prefix C (one row
per query tile, (B, ceil(T / BLOCK_M), T) fp32) comes from ``_selection_prefix_kernel`` and the
in-tile part is a scan over the recomputed S tile. The kernels:

1. ``_selection_prefix_kernel``: C, one program per key tile walking down the query tiles with
   a Kahan-compensated carry (the same scan as ``selection_cumsum_triton``).
2. ``_fwd_kernel``: online softmax over key tiles; stores O and the log-sum-exp per row.
3. ``_bwd_dkdv_kernel``: one program per (key tile, head) walking the query tiles bottom-up:
   dK, dV as in FlashAttention-2, and the selection gradient. Since F enters every head
   linearly, dS[i', j] = -sum_h sum_{i > i'} dlogits_h[i, j] splits into per-head terms, each
   a reversed scan of that head's dlogits carried down the column like the forward's C. The
   selection-query gradient is scattered with atomics (fp32); all else is owned by one program.
4. ``_bwd_dq_kernel``: one program per (query tile, head): dQ, recomputing P as the forward.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

# Launch settings on CUDA (untuned: no GPU was at hand when these were written). Tile sizes
# come from the caller (``kernels.selective_attention``); every kernel of one call uses the same
# BLOCK_M, since C has one row per query tile.
GPU_WARPS_FWD, GPU_WARPS_BWD, GPU_STAGES = 4, 8, 2


@triton.jit
def _dot(a, b, UPCAST: tl.constexpr, PRECISION: tl.constexpr):
    # Triton 3.9's interpreter mis-multiplies bfloat16 tiles, so it upcasts (exact: a bf16 value
    # is an fp32 value); compiled kernels feed 16-bit tiles to the tensor cores directly.
    if UPCAST:
        return tl.dot(a.to(tl.float32), b.to(tl.float32), input_precision=PRECISION)
    return tl.dot(a, b, input_precision=PRECISION)


@triton.jit
def _selection_keep(rows, cols, T, PROTECT_BOS: tl.constexpr, ALLOW_MASKING_MYSELF: tl.constexpr):
    """Where S may be non-zero: causal (j <= i'), off the diagonal unless allowed, not BOS."""
    keep = (rows[:, None] < T) & (cols[None, :] < T)
    if ALLOW_MASKING_MYSELF:
        keep &= cols[None, :] <= rows[:, None]
    else:
        keep &= cols[None, :] < rows[:, None]
    if PROTECT_BOS:
        keep &= cols[None, :] != 0
    return keep


@triton.jit
def _f_tile(
    qs,
    ksT,
    c_row_ptr,
    rows,
    cols,
    T,
    scale,
    PROTECT_BOS: tl.constexpr,
    ALLOW_MASKING_MYSELF: tl.constexpr,
    UPCAST: tl.constexpr,
    PRECISION: tl.constexpr,
):
    """F on a (rows x cols) tile, plus the selection logits and mask its gradient needs."""
    selection_logits = _dot(qs, ksT, UPCAST, PRECISION) * scale
    keep = _selection_keep(rows, cols, T, PROTECT_BOS, ALLOW_MASKING_MYSELF)
    s = tl.where(keep, tl.maximum(selection_logits, 0.0), 0.0)
    column_prefix = tl.load(c_row_ptr + cols, mask=cols < T, other=0.0)
    # Exclusive prefix inside the tile: row i adds S of rows m0 .. i-1.
    f = column_prefix[None, :] + (tl.cumsum(s, axis=0) - s)
    return f, selection_logits, keep


@triton.jit
def _selection_prefix_kernel(
    sq_ptr,
    sk_ptr,
    c_ptr,
    T,
    DS,
    scale,
    s_sqb,
    s_sqt,
    s_sqd,
    s_skb,
    s_skt,
    s_skd,
    s_cb,
    s_cm,
    PROTECT_BOS: tl.constexpr,
    ALLOW_MASKING_MYSELF: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_DS: tl.constexpr,
    UPCAST: tl.constexpr,
    PRECISION: tl.constexpr,
):
    pid_n = tl.program_id(0)
    b = tl.program_id(1).to(tl.int64)
    sq_ptr += b * s_sqb
    sk_ptr += b * s_skb
    c_ptr += b * s_cb
    cols = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    ds = tl.arange(0, BLOCK_DS)
    ksT = tl.load(
        sk_ptr + cols[None, :] * s_skt + ds[:, None] * s_skd,
        mask=(cols[None, :] < T) & (ds[:, None] < DS),
        other=0.0,
    )
    carry = tl.zeros([BLOCK_N], dtype=tl.float32)
    compensation = tl.zeros([BLOCK_N], dtype=tl.float32)
    # Query tiles wholly above this key tile have C = 0 (C is zero-initialised).
    first_tile = pid_n * BLOCK_N // BLOCK_M
    for mb in range(first_tile, tl.cdiv(T, BLOCK_M)):
        tl.store(c_ptr + mb * s_cm + cols, carry - compensation, mask=cols < T)
        rows = mb * BLOCK_M + tl.arange(0, BLOCK_M)
        qs = tl.load(
            sq_ptr + rows[:, None] * s_sqt + ds[None, :] * s_sqd,
            mask=(rows[:, None] < T) & (ds[None, :] < DS),
            other=0.0,
        )
        selection_logits = _dot(qs, ksT, UPCAST, PRECISION) * scale
        keep = _selection_keep(rows, cols, T, PROTECT_BOS, ALLOW_MASKING_MYSELF)
        s = tl.where(keep, tl.maximum(selection_logits, 0.0), 0.0)
        y = tl.sum(s, axis=0) - compensation
        t = carry + y
        compensation = (t - carry) - y
        carry = t


@triton.jit
def _fwd_kernel(
    q_ptr,
    k_ptr,
    v_ptr,
    sq_ptr,
    sk_ptr,
    c_ptr,
    o_ptr,
    lse_ptr,
    T,
    H,
    GROUP,
    D,
    DS,
    scale,
    s_qb,
    s_qh,
    s_qt,
    s_qd,
    s_kb,
    s_kh,
    s_kt,
    s_kd,
    s_vb,
    s_vh,
    s_vt,
    s_vd,
    s_sqb,
    s_sqt,
    s_sqd,
    s_skb,
    s_skt,
    s_skd,
    s_cb,
    s_cm,
    PROTECT_BOS: tl.constexpr,
    ALLOW_MASKING_MYSELF: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_D: tl.constexpr,
    BLOCK_DS: tl.constexpr,
    UPCAST: tl.constexpr,
    PRECISION: tl.constexpr,
):
    pid_m = tl.program_id(0)
    pid_bh = tl.program_id(1)
    b = (pid_bh // H).to(tl.int64)
    h = pid_bh % H
    q_ptr += b * s_qb + h * s_qh
    k_ptr += b * s_kb + (h // GROUP) * s_kh
    v_ptr += b * s_vb + (h // GROUP) * s_vh
    sq_ptr += b * s_sqb
    sk_ptr += b * s_skb
    c_row_ptr = c_ptr + b * s_cb + pid_m * s_cm
    m0 = pid_m * BLOCK_M
    rows = m0 + tl.arange(0, BLOCK_M)
    d = tl.arange(0, BLOCK_D)
    ds = tl.arange(0, BLOCK_DS)
    q = tl.load(
        q_ptr + rows[:, None] * s_qt + d[None, :] * s_qd,
        mask=(rows[:, None] < T) & (d[None, :] < D),
        other=0.0,
    )
    qs = tl.load(
        sq_ptr + rows[:, None] * s_sqt + ds[None, :] * s_sqd,
        mask=(rows[:, None] < T) & (ds[None, :] < DS),
        other=0.0,
    )
    m_i = tl.full([BLOCK_M], float("-inf"), dtype=tl.float32)
    l_i = tl.zeros([BLOCK_M], dtype=tl.float32)
    acc = tl.zeros([BLOCK_M, BLOCK_D], dtype=tl.float32)
    for n0 in range(0, tl.minimum(m0 + BLOCK_M, T), BLOCK_N):  # causal: keys <= last row
        cols = n0 + tl.arange(0, BLOCK_N)
        kT = tl.load(
            k_ptr + cols[None, :] * s_kt + d[:, None] * s_kd,
            mask=(cols[None, :] < T) & (d[:, None] < D),
            other=0.0,
        )
        v = tl.load(
            v_ptr + cols[:, None] * s_vt + d[None, :] * s_vd,
            mask=(cols[:, None] < T) & (d[None, :] < D),
            other=0.0,
        )
        ksT = tl.load(
            sk_ptr + cols[None, :] * s_skt + ds[:, None] * s_skd,
            mask=(cols[None, :] < T) & (ds[:, None] < DS),
            other=0.0,
        )
        f, _, _ = _f_tile(
            qs, ksT, c_row_ptr, rows, cols, T, scale,
            PROTECT_BOS, ALLOW_MASKING_MYSELF, UPCAST, PRECISION,
        )  # fmt: skip
        logits = _dot(q, kT, UPCAST, PRECISION) * scale - f
        visible = (cols[None, :] <= rows[:, None]) & (cols[None, :] < T)
        logits = tl.where(visible, logits, float("-inf"))
        # Online softmax (base 2). Column 0 is visible to every row, so m_new is finite.
        m_new = tl.maximum(m_i, tl.max(logits, axis=1))
        alpha = tl.exp2((m_i - m_new) * 1.4426950408889634)
        p = tl.exp2((logits - m_new[:, None]) * 1.4426950408889634)
        l_i = l_i * alpha + tl.sum(p, axis=1)
        acc = acc * alpha[:, None] + _dot(p.to(v.dtype), v, UPCAST, PRECISION)
        m_i = m_new
    o = acc / l_i[:, None]
    out_rows = (b * H + h) * T + rows  # O is (B, H, T, D) contiguous, lse (B, H, T)
    tl.store(
        o_ptr + out_rows[:, None] * D + d[None, :],
        o.to(o_ptr.dtype.element_ty),
        mask=(rows[:, None] < T) & (d[None, :] < D),
    )
    tl.store(lse_ptr + out_rows, m_i + tl.log(l_i), mask=rows < T)


@triton.jit
def _bwd_dkdv_kernel(
    q_ptr,
    k_ptr,
    v_ptr,
    sq_ptr,
    sk_ptr,
    c_ptr,
    do_ptr,
    lse_ptr,
    delta_ptr,
    dk_ptr,
    dv_ptr,
    dsq_ptr,
    dsk_ptr,
    T,
    H,
    GROUP,
    D,
    DS,
    scale,
    s_qb,
    s_qh,
    s_qt,
    s_qd,
    s_kb,
    s_kh,
    s_kt,
    s_kd,
    s_vb,
    s_vh,
    s_vt,
    s_vd,
    s_sqb,
    s_sqt,
    s_sqd,
    s_skb,
    s_skt,
    s_skd,
    s_cb,
    s_cm,
    PROTECT_BOS: tl.constexpr,
    ALLOW_MASKING_MYSELF: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_D: tl.constexpr,
    BLOCK_DS: tl.constexpr,
    UPCAST: tl.constexpr,
    PRECISION: tl.constexpr,
):
    pid_n = tl.program_id(0)
    pid_bh = tl.program_id(1)
    b = (pid_bh // H).to(tl.int64)
    h = pid_bh % H
    q_ptr += b * s_qb + h * s_qh
    k_ptr += b * s_kb + (h // GROUP) * s_kh
    v_ptr += b * s_vb + (h // GROUP) * s_vh
    sq_ptr += b * s_sqb
    sk_ptr += b * s_skb
    c_ptr += b * s_cb
    head_rows = (b * H + h) * T  # dO, lse, delta, dK, dV are (B, H, T[, D]) contiguous
    n0 = pid_n * BLOCK_N
    cols = n0 + tl.arange(0, BLOCK_N)
    d = tl.arange(0, BLOCK_D)
    ds = tl.arange(0, BLOCK_DS)
    col_ok = cols < T
    k = tl.load(
        k_ptr + cols[:, None] * s_kt + d[None, :] * s_kd,
        mask=col_ok[:, None] & (d[None, :] < D),
        other=0.0,
    )
    v = tl.load(
        v_ptr + cols[:, None] * s_vt + d[None, :] * s_vd,
        mask=col_ok[:, None] & (d[None, :] < D),
        other=0.0,
    )
    ks = tl.load(
        sk_ptr + cols[:, None] * s_skt + ds[None, :] * s_skd,
        mask=col_ok[:, None] & (ds[None, :] < DS),
        other=0.0,
    )
    kT = tl.trans(k)
    vT = tl.trans(v)
    ksT = tl.trans(ks)
    dk = tl.zeros([BLOCK_N, BLOCK_D], dtype=tl.float32)
    dv = tl.zeros([BLOCK_N, BLOCK_D], dtype=tl.float32)
    dks = tl.zeros([BLOCK_N, BLOCK_DS], dtype=tl.float32)
    # Kahan carry of sum_{i in tiles below} dF_h[i, j], dF_h = -dlogits_h.
    carry = tl.zeros([BLOCK_N], dtype=tl.float32)
    compensation = tl.zeros([BLOCK_N], dtype=tl.float32)
    n_tiles = tl.cdiv(T, BLOCK_M)
    first_tile = n0 // BLOCK_M  # tiles above see none of these keys and select none of them
    for it in range(0, n_tiles - first_tile):
        mb = n_tiles - 1 - it
        rows = mb * BLOCK_M + tl.arange(0, BLOCK_M)
        row_ok = rows < T
        q = tl.load(
            q_ptr + rows[:, None] * s_qt + d[None, :] * s_qd,
            mask=row_ok[:, None] & (d[None, :] < D),
            other=0.0,
        )
        qs = tl.load(
            sq_ptr + rows[:, None] * s_sqt + ds[None, :] * s_sqd,
            mask=row_ok[:, None] & (ds[None, :] < DS),
            other=0.0,
        )
        do = tl.load(
            do_ptr + (head_rows + rows)[:, None] * D + d[None, :],
            mask=row_ok[:, None] & (d[None, :] < D),
            other=0.0,
        )
        lse = tl.load(lse_ptr + head_rows + rows, mask=row_ok, other=0.0)
        delta = tl.load(delta_ptr + head_rows + rows, mask=row_ok, other=0.0)
        f, selection_logits, keep = _f_tile(
            qs, ksT, c_ptr + mb * s_cm, rows, cols, T, scale,
            PROTECT_BOS, ALLOW_MASKING_MYSELF, UPCAST, PRECISION,
        )  # fmt: skip
        logits = _dot(q, kT, UPCAST, PRECISION) * scale - f
        visible = (cols[None, :] <= rows[:, None]) & col_ok[None, :] & row_ok[:, None]
        p = tl.where(visible, tl.exp2((logits - lse[:, None]) * 1.4426950408889634), 0.0)
        dv += _dot(tl.trans(p.to(do.dtype)), do, UPCAST, PRECISION)
        dp = _dot(do, vT, UPCAST, PRECISION)
        dlogits = p * (dp - delta[:, None])
        dk += _dot(tl.trans(dlogits.to(q.dtype)), q, UPCAST, PRECISION)
        # dS[i', j] = sum_{i > i'} dF[i, j]: the rows below this tile (carry) plus the rows
        # below i' inside it (reversed inclusive scan minus the row itself).
        grad_f = -dlogits
        local = tl.cumsum(grad_f, axis=0, reverse=True) - grad_f
        grad_s = (carry - compensation)[None, :] + local
        y = tl.sum(grad_f, axis=0) - compensation
        t = carry + y
        compensation = (t - carry) - y
        carry = t
        # Through S = ReLU(scale * qs . ks) on the keep mask.
        grad_sl = tl.where(keep & (selection_logits > 0), grad_s, 0.0) * scale
        dks += _dot(tl.trans(grad_sl.to(qs.dtype)), qs, UPCAST, PRECISION)
        dqs = _dot(grad_sl.to(ks.dtype), ks, UPCAST, PRECISION)
        tl.atomic_add(
            dsq_ptr + (b * T + rows)[:, None] * DS + ds[None, :],
            dqs,
            mask=row_ok[:, None] & (ds[None, :] < DS),
        )
    out = (head_rows + cols)[:, None] * D + d[None, :]
    out_ok = col_ok[:, None] & (d[None, :] < D)
    tl.store(dk_ptr + out, dk * scale, mask=out_ok)
    tl.store(dv_ptr + out, dv, mask=out_ok)
    tl.atomic_add(
        dsk_ptr + (b * T + cols)[:, None] * DS + ds[None, :],
        dks,
        mask=col_ok[:, None] & (ds[None, :] < DS),
    )


@triton.jit
def _bwd_dq_kernel(
    q_ptr,
    k_ptr,
    v_ptr,
    sq_ptr,
    sk_ptr,
    c_ptr,
    do_ptr,
    lse_ptr,
    delta_ptr,
    dq_ptr,
    T,
    H,
    GROUP,
    D,
    DS,
    scale,
    s_qb,
    s_qh,
    s_qt,
    s_qd,
    s_kb,
    s_kh,
    s_kt,
    s_kd,
    s_vb,
    s_vh,
    s_vt,
    s_vd,
    s_sqb,
    s_sqt,
    s_sqd,
    s_skb,
    s_skt,
    s_skd,
    s_cb,
    s_cm,
    PROTECT_BOS: tl.constexpr,
    ALLOW_MASKING_MYSELF: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_D: tl.constexpr,
    BLOCK_DS: tl.constexpr,
    UPCAST: tl.constexpr,
    PRECISION: tl.constexpr,
):
    pid_m = tl.program_id(0)
    pid_bh = tl.program_id(1)
    b = (pid_bh // H).to(tl.int64)
    h = pid_bh % H
    q_ptr += b * s_qb + h * s_qh
    k_ptr += b * s_kb + (h // GROUP) * s_kh
    v_ptr += b * s_vb + (h // GROUP) * s_vh
    sq_ptr += b * s_sqb
    sk_ptr += b * s_skb
    c_row_ptr = c_ptr + b * s_cb + pid_m * s_cm
    head_rows = (b * H + h) * T
    m0 = pid_m * BLOCK_M
    rows = m0 + tl.arange(0, BLOCK_M)
    row_ok = rows < T
    d = tl.arange(0, BLOCK_D)
    ds = tl.arange(0, BLOCK_DS)
    q = tl.load(
        q_ptr + rows[:, None] * s_qt + d[None, :] * s_qd,
        mask=row_ok[:, None] & (d[None, :] < D),
        other=0.0,
    )
    qs = tl.load(
        sq_ptr + rows[:, None] * s_sqt + ds[None, :] * s_sqd,
        mask=row_ok[:, None] & (ds[None, :] < DS),
        other=0.0,
    )
    do = tl.load(
        do_ptr + (head_rows + rows)[:, None] * D + d[None, :],
        mask=row_ok[:, None] & (d[None, :] < D),
        other=0.0,
    )
    lse = tl.load(lse_ptr + head_rows + rows, mask=row_ok, other=0.0)
    delta = tl.load(delta_ptr + head_rows + rows, mask=row_ok, other=0.0)
    dq = tl.zeros([BLOCK_M, BLOCK_D], dtype=tl.float32)
    for n0 in range(0, tl.minimum(m0 + BLOCK_M, T), BLOCK_N):
        cols = n0 + tl.arange(0, BLOCK_N)
        col_ok = cols < T
        k = tl.load(
            k_ptr + cols[:, None] * s_kt + d[None, :] * s_kd,
            mask=col_ok[:, None] & (d[None, :] < D),
            other=0.0,
        )
        vT = tl.load(
            v_ptr + cols[None, :] * s_vt + d[:, None] * s_vd,
            mask=col_ok[None, :] & (d[:, None] < D),
            other=0.0,
        )
        ksT = tl.load(
            sk_ptr + cols[None, :] * s_skt + ds[:, None] * s_skd,
            mask=col_ok[None, :] & (ds[:, None] < DS),
            other=0.0,
        )
        f, _, _ = _f_tile(
            qs, ksT, c_row_ptr, rows, cols, T, scale,
            PROTECT_BOS, ALLOW_MASKING_MYSELF, UPCAST, PRECISION,
        )  # fmt: skip
        logits = _dot(q, tl.trans(k), UPCAST, PRECISION) * scale - f
        visible = (cols[None, :] <= rows[:, None]) & col_ok[None, :] & row_ok[:, None]
        p = tl.where(visible, tl.exp2((logits - lse[:, None]) * 1.4426950408889634), 0.0)
        dp = _dot(do, vT, UPCAST, PRECISION)
        dlogits = p * (dp - delta[:, None])
        dq += _dot(dlogits.to(k.dtype), k, UPCAST, PRECISION)
    tl.store(
        dq_ptr + (head_rows + rows)[:, None] * D + d[None, :],
        (dq * scale).to(dq_ptr.dtype.element_ty),
        mask=row_ok[:, None] & (d[None, :] < D),
    )


# --- launchers -------------------------------------------------------------------------------


def _launch_options(x: torch.Tensor, num_warps: int) -> dict:
    upcast = x.device.type != "cuda" and x.dtype == torch.bfloat16
    # fp32 inputs keep fp32 products (no TF32): a float32 run is an accuracy run.
    precision = "ieee" if x.dtype == torch.float32 else "tf32"
    options = {"UPCAST": upcast, "PRECISION": precision}
    if x.device.type == "cuda":
        options |= {"num_warps": num_warps, "num_stages": GPU_STAGES}
    return options


def _common_args(q, k, v, sel_q, sel_k, prefix):
    return (
        *q.stride(),
        *k.stride(),
        *v.stride(),
        *sel_q.stride(),
        *sel_k.stride(),
        prefix.stride(0),
        prefix.stride(1),
    )


def _block_dims(q: torch.Tensor, sel_q: torch.Tensor) -> tuple[int, int]:
    # tl.dot needs every dimension >= 16.
    return (
        max(16, triton.next_power_of_2(q.shape[-1])),
        max(16, triton.next_power_of_2(sel_q.shape[-1])),
    )


def selection_prefix(
    sel_q: torch.Tensor,
    sel_k: torch.Tensor,
    *,
    scale: float,
    protect_bos: bool,
    allow_masking_myself: bool,
    block_m: int,
    block_n: int,
) -> torch.Tensor:
    """C[b, t, j] = F[b, t * block_m, j], (B, ceil(T / block_m), T) fp32."""
    B, T, DS = sel_q.shape
    prefix = torch.zeros(B, triton.cdiv(T, block_m), T, dtype=torch.float32, device=sel_q.device)
    _, block_ds = _block_dims(sel_q, sel_q)
    _selection_prefix_kernel[(triton.cdiv(T, block_n), B)](
        sel_q,
        sel_k,
        prefix,
        T,
        DS,
        scale,
        *sel_q.stride(),
        *sel_k.stride(),
        prefix.stride(0),
        prefix.stride(1),
        PROTECT_BOS=protect_bos,
        ALLOW_MASKING_MYSELF=allow_masking_myself,
        BLOCK_M=block_m,
        BLOCK_N=block_n,
        BLOCK_DS=block_ds,
        **_launch_options(sel_q, GPU_WARPS_FWD),
    )
    return prefix


def selective_attention_fwd(
    q, k, v, sel_q, sel_k, *, scale, protect_bos, allow_masking_myself, block_m, block_n
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(O, lse, C): O (B, H, T, D) in q's dtype, lse (B, H, T) fp32, C as ``selection_prefix``."""
    B, H, T, D = q.shape
    prefix = selection_prefix(
        sel_q,
        sel_k,
        scale=scale,
        protect_bos=protect_bos,
        allow_masking_myself=allow_masking_myself,
        block_m=block_m,
        block_n=block_n,
    )
    o = torch.empty(B, H, T, D, dtype=q.dtype, device=q.device)
    lse = torch.empty(B, H, T, dtype=torch.float32, device=q.device)
    block_d, block_ds = _block_dims(q, sel_q)
    _fwd_kernel[(triton.cdiv(T, block_m), B * H)](
        q,
        k,
        v,
        sel_q,
        sel_k,
        prefix,
        o,
        lse,
        T,
        H,
        H // k.shape[1],
        D,
        sel_q.shape[-1],
        scale,
        *_common_args(q, k, v, sel_q, sel_k, prefix),
        PROTECT_BOS=protect_bos,
        ALLOW_MASKING_MYSELF=allow_masking_myself,
        BLOCK_M=block_m,
        BLOCK_N=block_n,
        BLOCK_D=block_d,
        BLOCK_DS=block_ds,
        **_launch_options(q, GPU_WARPS_FWD),
    )
    return o, lse, prefix


def selective_attention_bwd(
    grad_o,
    q,
    k,
    v,
    sel_q,
    sel_k,
    o,
    lse,
    prefix,
    *,
    scale,
    protect_bos,
    allow_masking_myself,
    block_m,
    block_n,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(dQ, dK, dV, dQs, dKs), each in its input's dtype and shape."""
    B, H, T, D = q.shape
    H_kv = k.shape[1]
    grad_o = grad_o.contiguous()
    delta = (grad_o.float() * o.float()).sum(-1)  # (B, H, T): rowsum(dO * O) = rowsum(P * dP)
    # dK, dV per query head (fp32), summed over each GQA group below: no atomics between heads.
    dk = torch.empty(B, H, T, D, dtype=torch.float32, device=q.device)
    dv = torch.empty_like(dk)
    dsq = torch.zeros(sel_q.shape, dtype=torch.float32, device=q.device)
    dsk = torch.zeros(sel_k.shape, dtype=torch.float32, device=q.device)
    dq = torch.empty(B, H, T, D, dtype=q.dtype, device=q.device)
    block_d, block_ds = _block_dims(q, sel_q)
    constants = {
        "PROTECT_BOS": protect_bos,
        "ALLOW_MASKING_MYSELF": allow_masking_myself,
        "BLOCK_M": block_m,
        "BLOCK_N": block_n,
        "BLOCK_D": block_d,
        "BLOCK_DS": block_ds,
        **_launch_options(q, GPU_WARPS_BWD),
    }
    shapes = (T, H, H // H_kv, D, sel_q.shape[-1], scale)
    strides = _common_args(q, k, v, sel_q, sel_k, prefix)
    _bwd_dkdv_kernel[(triton.cdiv(T, block_n), B * H)](
        q, k, v, sel_q, sel_k, prefix, grad_o, lse, delta, dk, dv, dsq, dsk,
        *shapes, *strides, **constants,
    )  # fmt: skip
    _bwd_dq_kernel[(triton.cdiv(T, block_m), B * H)](
        q, k, v, sel_q, sel_k, prefix, grad_o, lse, delta, dq,
        *shapes, *strides, **constants,
    )  # fmt: skip
    group = H // H_kv
    dk = dk.view(B, H_kv, group, T, D).sum(2).to(k.dtype)
    dv = dv.view(B, H_kv, group, T, D).sum(2).to(v.dtype)
    return dq, dk, dv, dsq.to(sel_q.dtype), dsk.to(sel_k.dtype)
