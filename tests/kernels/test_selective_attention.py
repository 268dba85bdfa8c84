"""selective_attention: the reference against the definition, the fused Triton kernel against the
reference (output and every gradient, MHA and GQA, every option, three dtypes), the custom op."""

from __future__ import annotations

import importlib
import itertools
import math

import pytest
import torch
import torch.nn.functional as functional

from kernels._backend import triton_interpreting
from kernels.selective_attention import (
    _selective_attention_triton,
    selective_attention,
    selective_attention_reference,
)

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
# Largest error relative to the largest reference value, output and gradients alike. 16-bit
# runs round P (and dS) to the input dtype before the tensor-core products, as FlashAttention.
TOLERANCE = {torch.float32: 2e-5, torch.float16: 5e-3, torch.bfloat16: 3e-2}


def _inputs(B, H, H_kv, T, D, dtype, device, seed=0, selection_dim=None):
    gen = torch.Generator().manual_seed(seed)

    def draw(*shape):
        return torch.randn(*shape, generator=gen).to(device=device, dtype=dtype).requires_grad_()

    q, k, v = draw(B, H, T, D), draw(B, H_kv, T, D), draw(B, H_kv, T, D)
    if selection_dim is None:
        return q, k, v, None, None
    return q, k, v, draw(B, T, selection_dim), draw(B, T, selection_dim)


def _assert_close_relative(actual, expected, tolerance, what):
    error = (actual.float() - expected.float()).abs().max().item()
    size = expected.float().abs().max().item()
    assert error <= tolerance * size, f"{what}: max error {error:.3g} vs max value {size:.3g}"


def _definition(q, k, v, selection_head, protect_bos, allow_masking_myself):
    """Selective attention element by element, in float64, MHA or GQA."""
    B, H, T, D = q.shape
    group = H // k.shape[1]
    scale = 1.0 / math.sqrt(D)
    out = torch.zeros(B, H, T, D, dtype=torch.float64)
    q, k, v = q.double(), k.double(), v.double()
    for b in range(B):
        sel_k = k[b, selection_head // group]
        S = torch.relu(scale * q[b, selection_head] @ sel_k.T)
        F = torch.zeros(T, T, dtype=torch.float64)
        for i, j in itertools.product(range(T), range(T)):
            for i_prev in range(j if allow_masking_myself else j + 1, i):  # j <= i' < i (or <)
                if not (protect_bos and j == 0):
                    F[i, j] += S[i_prev, j]
        for h in range(H):
            logits = scale * q[b, h] @ k[b, h // group].T - F
            logits = logits.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), -math.inf)
            out[b, h] = torch.softmax(logits, dim=-1) @ v[b, h // group]
    return out


@pytest.mark.parametrize(("protect_bos", "allow_masking_myself"), [(True, False), (False, True)])
def test_reference_matches_the_definition(protect_bos, allow_masking_myself):
    q, k, v, _, _ = _inputs(2, 4, 2, 7, 8, torch.float64, "cpu")
    options = {"protect_bos": protect_bos, "allow_masking_myself": allow_masking_myself}
    out = selective_attention_reference(q, k, v, selection_head=3, **options)
    torch.testing.assert_close(out, _definition(q, k, v, 3, **options))


def test_selection_changes_the_output():
    """Guards the comparisons below: at these shapes F moves the output well beyond tolerance,
    so a kernel that dropped F, or misplaced it, could not pass them."""
    q, k, v, _, _ = _inputs(2, 4, 2, 37, 16, torch.float32, "cpu")
    out = selective_attention_reference(q, k, v)
    plain = functional.scaled_dot_product_attention(
        q, k.repeat_interleave(2, 1), v.repeat_interleave(2, 1), is_causal=True
    )
    assert (out - plain).abs().max() > 0.3


# (B, H, H_kv, T, D, dtype, protect_bos, allow_masking_myself, selection, (BLOCK_M, BLOCK_N))
# T = 37 / 40 / 33 cross 16-row tiles with ragged edges; the explicit tile shapes put
# BLOCK_M != BLOCK_N on both sides; selection is a head index or an explicit Ds.
CASES = [
    (1, 2, 2, 37, 16, torch.float32, True, False, 1, None),
    (2, 4, 2, 40, 16, torch.float32, False, True, 3, (32, 16)),
    (1, 4, 1, 33, 32, torch.float32, True, True, 0, (16, 32)),
    (1, 2, 2, 35, 24, torch.float32, False, False, "Ds=8", None),
    (1, 4, 2, 37, 16, torch.bfloat16, True, False, 2, None),
    (1, 2, 1, 33, 32, torch.float16, False, True, 1, None),
    (1, 2, 2, 34, 16, torch.bfloat16, False, False, "Ds=16", (16, 32)),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: "-".join(map(str, case)))
def test_triton_matches_reference(device, case):
    B, H, H_kv, T, D, dtype, protect_bos, allow_masking_myself, selection, blocks = case
    selection_dim = int(selection[3:]) if isinstance(selection, str) else None
    q, k, v, sel_q, sel_k = _inputs(B, H, H_kv, T, D, dtype, device, 1, selection_dim)
    if selection_dim is None:
        group = H // H_kv
        triton_sel_q, triton_sel_k = q[:, selection], k[:, selection // group]
        reference_selection = {"selection_head": selection}
        leaves = (q, k, v)
    else:
        triton_sel_q, triton_sel_k = sel_q, sel_k
        reference_selection = {"selection_q": sel_q, "selection_k": sel_k}
        leaves = (q, k, v, sel_q, sel_k)
    options = {"protect_bos": protect_bos, "allow_masking_myself": allow_masking_myself}
    block_m, block_n = blocks or (None, None)
    out = _selective_attention_triton(
        q, k, v, triton_sel_q, triton_sel_k, scale=1.0 / math.sqrt(D),
        block_m=block_m, block_n=block_n, **options,
    )  # fmt: skip
    expected = selective_attention_reference(q, k, v, **reference_selection, **options)
    assert out.dtype == dtype and out.shape == q.shape
    tolerance = TOLERANCE[dtype]
    _assert_close_relative(out, expected, tolerance, "output")
    grad_out = torch.randn(out.shape, generator=torch.Generator().manual_seed(2)).to(out)
    grads = torch.autograd.grad(out, leaves, grad_out)
    expected_grads = torch.autograd.grad(expected, leaves, grad_out)
    names = ["q", "k", "v", "sel_q", "sel_k"][: len(leaves)]
    for name, grad, expected_grad in zip(names, grads, expected_grads, strict=True):
        assert grad.dtype == dtype
        _assert_close_relative(grad, expected_grad, tolerance, f"d{name}")


def test_no_selection_is_flash_attention(device):
    """Selection logits that are never positive leave F = 0: plain causal attention (SDPA)."""
    q, k, v, _, _ = _inputs(1, 2, 2, 40, 16, torch.float32, device, seed=3)
    sel_q = torch.ones(1, 40, 16, device=device)
    sel_k = -torch.ones(1, 40, 16, device=device)
    out = selective_attention(q, k, v, selection_q=sel_q, selection_k=sel_k, backend="triton")
    plain = functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(out, plain, atol=1e-5, rtol=1e-5)


# --- the custom op ----------------------------------------------------------------------------


def _op_args(device):
    q, k, v, sel_q, sel_k = _inputs(1, 2, 1, 16, 16, torch.float32, device, 4, selection_dim=16)
    return (q, k, v, sel_q, sel_k, 0.25, True, False, 16, 16)


def test_custom_op_passes_opcheck(device):
    torch.library.opcheck(torch.ops.harness_kernels.selective_attention.default, _op_args(device))


def test_backward_op_passes_opcheck_on_the_models_layout(device):
    """The model hands the kernel transposed views of one projection (q, k, v) and slices of
    them (the selection head's): the backward's fake must give the real gradients' strides."""
    B, T, H, D = 1, 16, 2, 16
    qkv = torch.randn(B, T, 3 * H * D, generator=torch.Generator().manual_seed(8)).to(device)
    q, k, v = (x.view(B, T, H, D).transpose(1, 2) for x in qkv.split(H * D, dim=2))
    assert not q.is_contiguous()  # (B, nh, T, hs) views, as in models.gpt
    options = (0.25, True, False, 16, 16)
    with torch.no_grad():
        o, lse, prefix = torch.ops.harness_kernels.selective_attention(
            q, k, v, q[:, 1], k[:, 1], *options
        )
    torch.library.opcheck(
        torch.ops.harness_kernels.selective_attention_backward.default,
        (torch.randn_like(o), q, k, v, q[:, 1], k[:, 1], o, lse, prefix, *options),
    )


def test_fake_tensor_shapes():
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode():
        q = torch.empty(2, 8, 100, 64, dtype=torch.bfloat16)
        k = torch.empty(2, 2, 100, 64, dtype=torch.bfloat16)
        sel = torch.empty(2, 100, 32, dtype=torch.bfloat16)
        o, lse, prefix = torch.ops.harness_kernels.selective_attention(
            q, k, k, sel, sel, 0.125, True, False, 64, 32
        )
        grads = torch.ops.harness_kernels.selective_attention_backward(
            o, q, k, k, sel, sel, o, lse, prefix, 0.125, True, False, 64, 32
        )
    assert (o.shape, o.dtype) == ((2, 8, 100, 64), torch.bfloat16)
    assert (lse.shape, lse.dtype) == ((2, 8, 100), torch.float32)
    assert (prefix.shape, prefix.dtype) == ((2, 2, 100), torch.float32)  # ceil(100 / 64) tiles
    assert [g.shape for g in grads] == [q.shape, k.shape, k.shape, sel.shape, sel.shape]


def test_torch_compile_traces_the_op_in_one_graph(device):
    def loss_of(q, k, v):
        out = selective_attention(q * 1.5, k, v, selection_head=1, backend="triton")
        return (out.tanh() * v.sum(1, keepdim=True)).sum()

    compiled = torch.compile(loss_of, fullgraph=True, backend="aot_eager")
    q, k, v, _, _ = _inputs(1, 2, 1, 20, 16, torch.float32, device, seed=5)
    loss = compiled(q, k, v)
    grads = torch.autograd.grad(loss, (q, k, v))
    loss_eager = loss_of(q, k, v)
    grads_eager = torch.autograd.grad(loss_eager, (q, k, v))
    torch.testing.assert_close(loss, loss_eager)
    for grad, grad_eager in zip(grads, grads_eager, strict=True):
        torch.testing.assert_close(grad, grad_eager)


def test_auto_backend_uses_the_reference_on_cpu(monkeypatch):
    module = importlib.import_module("kernels.selective_attention")

    def refuse(*args, **kwargs):
        raise AssertionError("the Triton path ran for CPU tensors under backend='auto'")

    monkeypatch.setattr(module, "_selective_attention_triton", refuse)
    q, k, v, _, _ = _inputs(1, 2, 2, 9, 8, torch.float32, "cpu")
    torch.testing.assert_close(selective_attention(q, k, v), selective_attention_reference(q, k, v))
    # backend="triton" on CPU tensors runs the Triton path only under the interpreter; on a
    # machine without it (a GPU machine running these tests compiled) it is refused.
    expected = (
        (AssertionError, "Triton path ran")
        if triton_interpreting()
        else (RuntimeError, "needs CUDA tensors")
    )
    with pytest.raises(expected[0], match=expected[1]):
        selective_attention(q, k, v, backend="triton")


def test_bad_layouts_are_refused():
    q, k, v, _, _ = _inputs(1, 3, 2, 9, 8, torch.float32, "cpu")
    with pytest.raises(ValueError, match="multiple"):
        selective_attention(q, k, v)
    q, k, v, _, _ = _inputs(1, 2, 2, 9, 8, torch.float32, "cpu")
    with pytest.raises(ValueError, match="selection_head"):
        selective_attention(q, k, v, selection_head=2)
    with pytest.raises(ValueError, match="both"):
        selective_attention(q, k, v, selection_q=q[:, 0])


# --- real shapes on a GPU ---------------------------------------------------------------------


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize(
    ("H", "H_kv", "T", "D", "dtype"),
    [
        (8, 8, 1024, 64, torch.bfloat16),
        (8, 2, 2048, 64, torch.bfloat16),
        (4, 4, 1024, 128, torch.float16),
        (4, 1, 777, 64, torch.float32),
    ],
)
@pytest.mark.parametrize(("protect_bos", "allow_masking_myself"), [(True, False), (False, True)])
def test_triton_matches_reference_on_gpu(H, H_kv, T, D, dtype, protect_bos, allow_masking_myself):
    q, k, v, _, _ = _inputs(2, H, H_kv, T, D, dtype, "cuda", seed=6)
    options = {"protect_bos": protect_bos, "allow_masking_myself": allow_masking_myself}
    out = selective_attention(q, k, v, selection_head=H - 1, backend="triton", **options)
    expected = selective_attention_reference(q, k, v, selection_head=H - 1, **options)
    _assert_close_relative(out, expected, TOLERANCE[dtype], "output")
    grad_out = torch.randn_like(out)
    grads = torch.autograd.grad(out, (q, k, v), grad_out)
    expected_grads = torch.autograd.grad(expected, (q, k, v), grad_out)
    for name, grad, expected_grad in zip("qkv", grads, expected_grads, strict=True):
        _assert_close_relative(grad, expected_grad, TOLERANCE[dtype], f"d{name}")


@pytest.mark.gpu
@needs_cuda
def test_triton_memory_is_near_linear_in_T_on_gpu():
    """Peak memory of forward + backward, doubling T: the fused kernel's extra memory is the
    (B, T / BLOCK_M, T) column prefix, small next to the linear activations at these sizes."""

    def peak_mib(T):
        q, k, v, _, _ = _inputs(1, 8, 8, T, 64, torch.bfloat16, "cuda", seed=7)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        out = selective_attention(q, k, v, backend="triton")
        out.backward(torch.ones_like(out))
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - base) / 2**20

    small, large = peak_mib(4096), peak_mib(8192)
    assert large / small < 2.3, (small, large)
