"""selection_cumsum: the reference against the definition, the Triton scan against the reference
(forward and gradient, every option), its float32 error against float64, and the custom op."""

from __future__ import annotations

import importlib
import itertools

import pytest
import torch

from kernels import selection_cumsum
from kernels._backend import triton_interpreting
from kernels.selection_cumsum import selection_cumsum_reference

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
OPTIONS = list(itertools.product([True, False], [True, False]))  # protect_bos, masking myself
FP32_EPS = torch.finfo(torch.float32).eps


def _definition(logits: torch.Tensor, protect_bos: bool, allow_masking_myself: bool):
    """F[b, i, j] = sum_{i' < i} S[b, i', j], element by element."""
    B, T, _ = logits.shape
    F = torch.zeros(B, T, T, dtype=torch.float64)
    for b, i, j in itertools.product(range(B), range(T), range(T)):
        for i_prev in range(i):
            selectable = j < i_prev or (allow_masking_myself and j == i_prev)
            if selectable and not (protect_bos and j == 0):
                F[b, i, j] += max(float(logits[b, i_prev, j]), 0.0)
    return F


@pytest.mark.parametrize(("protect_bos", "allow_masking_myself"), OPTIONS)
def test_reference_matches_the_definition(protect_bos, allow_masking_myself):
    logits = torch.randn(2, 6, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    F = selection_cumsum_reference(
        logits,
        protect_bos=protect_bos,
        allow_masking_myself=allow_masking_myself,
        accumulate_dtype=torch.float64,
    )
    torch.testing.assert_close(F, _definition(logits, protect_bos, allow_masking_myself))


def _check_triton_against_reference(logits, *, accumulate_dtype, atol, **options):
    logits = logits.detach().requires_grad_()
    F = selection_cumsum(logits, accumulate_dtype=accumulate_dtype, backend="triton", **options)
    F_ref = selection_cumsum(
        logits, accumulate_dtype=accumulate_dtype, backend="reference", **options
    )
    assert F.dtype == accumulate_dtype and F.shape == logits.shape
    torch.testing.assert_close(F, F_ref, atol=atol, rtol=atol)
    grad_F = torch.randn_like(F)
    (grad,) = torch.autograd.grad(F, logits, grad_F)
    (grad_ref,) = torch.autograd.grad(F_ref, logits, grad_F)
    assert grad.dtype == logits.dtype
    torch.testing.assert_close(grad, grad_ref, atol=atol, rtol=atol)


@pytest.mark.parametrize(("protect_bos", "allow_masking_myself"), OPTIONS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_triton_matches_reference(device, dtype, protect_bos, allow_masking_myself):
    # T = 37 is not a multiple of the 16-row/16-column interpreter tiles: three row tiles,
    # ragged edges.
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 37, 37, generator=gen).to(device=device, dtype=dtype)
    _check_triton_against_reference(
        logits,
        accumulate_dtype=torch.float32,
        # bfloat16 gradients: both round the same float32 value, up to one ulp apart.
        atol=1e-5 if dtype == torch.float32 else 1e-2,
        protect_bos=protect_bos,
        allow_masking_myself=allow_masking_myself,
    )


def test_triton_float64_and_leading_dims(device):
    gen = torch.Generator().manual_seed(2)
    logits = torch.randn(2, 3, 21, 21, generator=gen, dtype=torch.float64).to(device)
    _check_triton_against_reference(
        logits, accumulate_dtype=torch.float64, atol=1e-12, protect_bos=False
    )


@pytest.mark.parametrize(("block_m", "block_n"), [(16, 64), (64, 16), (32, 32)])
def test_triton_tile_shapes(device, block_m, block_n):
    from kernels.selection_cumsum_triton import selection_cumsum_bwd, selection_cumsum_fwd

    gen = torch.Generator().manual_seed(3)
    logits = torch.randn(1, 70, 70, generator=gen).to(device)
    options = {"protect_bos": True, "allow_masking_myself": False}
    F = selection_cumsum_fwd(
        logits, accumulate_dtype=torch.float32, block_m=block_m, block_n=block_n, **options
    )
    torch.testing.assert_close(F, selection_cumsum_reference(logits, **options))
    grad_F = torch.randn_like(F)
    grad = selection_cumsum_bwd(grad_F, logits, block_m=block_m, block_n=block_n, **options)
    logits.requires_grad_()
    (grad_ref,) = torch.autograd.grad(selection_cumsum_reference(logits, **options), logits, grad_F)
    torch.testing.assert_close(grad, grad_ref)


# --- float32 error against float64 ------------------------------------------------------------
#
# The Triton scan sums inside a tile of BLOCK_M rows and carries the tile totals down the column
# with Kahan compensation, so its relative error should stay at a few float32 ulps however long
# the column. A plain running float32 sum drifts with T (the notebook's instability). Bound used
# below: 8 eps ~ 9.5e-7 relative, elementwise where F > 0.
RELATIVE_BOUND = 8 * FP32_EPS


def _selection_column_strip(T: int, width: int, distribution: str, seed: int) -> torch.Tensor:
    """S for key columns 0 .. width-1 of a length-T sequence, masked as protect_bos=True.

    The first columns carry the longest sums (column j adds T - j - 1 terms): the worst case.
    """
    gen = torch.Generator().manual_seed(seed)
    if distribution == "normal":
        logits = 3.0 * torch.randn(T, width, generator=gen)
    else:  # heavy tails: values over ~5 decades, where small terms get lost in a long sum
        magnitude = torch.exp(2.0 * torch.randn(T, width, generator=gen))
        logits = magnitude * torch.randn(T, width, generator=gen).sign()
    rows, cols = torch.arange(T)[:, None], torch.arange(width)[None, :]
    keep = (cols < rows) & (cols != 0)
    return torch.where(keep, torch.relu(logits), 0.0)


def _exact_shifted_cumsum(s: torch.Tensor) -> torch.Tensor:
    F = torch.cumsum(s.double(), dim=0)
    return torch.cat([torch.zeros_like(F[:1]), F[:-1]])


def _running_float32_sum(s: torch.Tensor) -> torch.Tensor:
    """The naive scan: one float32 accumulator per column, row after row."""
    F = torch.empty_like(s)
    total = torch.zeros(s.shape[1], dtype=torch.float32)
    for i in range(s.shape[0]):
        F[i] = total
        total = total + s[i]
    return F


def _blocked_kahan_emulation(s: torch.Tensor, block_m: int) -> torch.Tensor:
    """The Triton scan's arithmetic in float32 PyTorch: in-tile partial sums (sequential here,
    a pessimistic stand-in for the GPU's tree scan), tile totals carried with Kahan."""
    T, width = s.shape
    F = torch.empty_like(s)
    carry = torch.zeros(width, dtype=torch.float32)
    compensation = torch.zeros(width, dtype=torch.float32)
    for m0 in range(0, T, block_m):
        partial = torch.zeros(width, dtype=torch.float32)
        for i in range(m0, min(m0 + block_m, T)):
            F[i] = carry + (partial - compensation)
            partial = partial + s[i]
        y = partial - compensation
        t = carry + y
        compensation = (t - carry) - y
        carry = t
    return F


def _max_relative_error(F: torch.Tensor, exact: torch.Tensor) -> float:
    positive = exact > 0
    return ((F.double() - exact).abs()[positive] / exact[positive]).max().item()


@pytest.mark.parametrize("distribution", ["normal", "heavy-tailed"])
def test_blocked_scan_float32_error_at_8192_emulated(distribution):
    """Emulation, not the kernel: the blocked compensated algorithm at T = 8192 (the Triton
    kernel itself runs at T = 1024 below, and at 8192 in the gpu test)."""
    s = _selection_column_strip(8192, 64, distribution, seed=4)
    exact = _exact_shifted_cumsum(s)
    blocked = _max_relative_error(_blocked_kahan_emulation(s, block_m=32), exact)
    naive = _max_relative_error(_running_float32_sum(s), exact)
    assert blocked < RELATIVE_BOUND
    # The bound separates the two: the naive scan breaks it at this length.
    assert naive > RELATIVE_BOUND


def test_triton_float32_error_at_1024(device):
    """The kernel itself (interpreted on CPU) against float64 at T = 1024, GPU row tiles."""
    from kernels.selection_cumsum_triton import GPU_BLOCK_M, selection_cumsum_fwd

    T = 1024
    gen = torch.Generator().manual_seed(5)
    logits = (3.0 * torch.randn(1, T, T, generator=gen)).to(device)
    F = selection_cumsum_fwd(
        logits,
        protect_bos=True,
        allow_masking_myself=False,
        accumulate_dtype=torch.float32,
        block_m=GPU_BLOCK_M,
        block_n=256,  # wide column tiles: fewer interpreted programs, same arithmetic per column
    )
    exact = selection_cumsum_reference(logits.double(), accumulate_dtype=torch.float64)
    assert _max_relative_error(F, exact) < RELATIVE_BOUND


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_triton_float32_error_at_8192_on_gpu(dtype):
    T = 8192
    gen = torch.Generator(device="cuda").manual_seed(6)
    logits = (3.0 * torch.randn(2, T, T, generator=gen, device="cuda")).to(dtype)
    F = selection_cumsum(logits, backend="triton")
    exact = selection_cumsum(logits, accumulate_dtype=torch.float64, backend="reference")
    assert _max_relative_error(F, exact) < RELATIVE_BOUND
    # Gradient: the reversed scan, against float64.
    grad_F = torch.randn(2, T, T, generator=gen, device="cuda")
    logits = logits.detach().requires_grad_()
    (grad,) = torch.autograd.grad(selection_cumsum(logits, backend="triton"), logits, grad_F)
    logits64 = logits.detach().double().requires_grad_()
    F64 = selection_cumsum(logits64, accumulate_dtype=torch.float64, backend="reference")
    (grad64,) = torch.autograd.grad(F64, logits64, grad_F.double())
    # Gradients are sums of up to 8191 random-sign terms (|dS| up to ~100): float32 allows a few
    # ulps of the running sums; bfloat16 one rounding of the result.
    atol, rtol = (5e-4, 1e-5) if dtype == torch.float32 else (1e-2, 1e-2)
    torch.testing.assert_close(grad.double(), grad64.to(dtype).double(), atol=atol, rtol=rtol)


# --- the custom op ----------------------------------------------------------------------------


def test_custom_op_passes_opcheck(device):
    logits = torch.randn(2, 16, 16, device=device, requires_grad=True)
    torch.library.opcheck(
        torch.ops.harness_kernels.selection_cumsum.default,
        (logits, True, False, torch.float32),
    )


def test_fake_tensor_shapes():
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode():
        logits = torch.empty(3, 50, 50, dtype=torch.bfloat16)
        F = torch.ops.harness_kernels.selection_cumsum(logits, True, False, torch.float64)
        grad = torch.ops.harness_kernels.selection_cumsum_backward(F, logits, True, False)
    assert (F.shape, F.dtype) == ((3, 50, 50), torch.float64)
    assert (grad.shape, grad.dtype) == ((3, 50, 50), torch.bfloat16)


def test_torch_compile_traces_the_op_in_one_graph(device):
    def loss_of(logits):
        F = selection_cumsum(logits * 2.0, backend="triton")
        return (F.sin() * logits).sum()

    compiled = torch.compile(loss_of, fullgraph=True, backend="aot_eager")
    logits = torch.randn(1, 23, 23, device=device, requires_grad=True)
    loss = compiled(logits)
    (grad,) = torch.autograd.grad(loss, logits)
    loss_eager = loss_of(logits)
    (grad_eager,) = torch.autograd.grad(loss_eager, logits)
    torch.testing.assert_close(loss, loss_eager)
    torch.testing.assert_close(grad, grad_eager)


def test_auto_backend_uses_the_reference_on_cpu(monkeypatch):
    module = importlib.import_module("kernels.selection_cumsum")

    def refuse(*args, **kwargs):
        raise AssertionError("the Triton op ran for CPU tensors under backend='auto'")

    monkeypatch.setattr(module, "_selection_cumsum_op", refuse)
    logits = torch.randn(1, 9, 9)
    torch.testing.assert_close(selection_cumsum(logits), selection_cumsum_reference(logits))
    # backend="triton" on CPU tensors runs the op only under Triton's interpreter; on a machine
    # without it (a GPU machine running these tests compiled) it is refused.
    expected = (
        (AssertionError, "Triton op ran")
        if triton_interpreting()
        else (RuntimeError, "needs CUDA tensors")
    )
    with pytest.raises(expected[0], match=expected[1]):
        selection_cumsum(logits, backend="triton")


def test_backend_errors(monkeypatch):
    logits = torch.randn(1, 5, 5)
    with pytest.raises(ValueError, match="backend"):
        selection_cumsum(logits, backend="cuda")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="accumulate_dtype"):
        selection_cumsum(logits, accumulate_dtype=torch.float16)
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    with pytest.raises(RuntimeError, match="TRITON_INTERPRET"):
        selection_cumsum(logits, backend="triton")
