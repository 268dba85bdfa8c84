"""Time and peak memory of the selective-attention kernels on a GPU (issue 9).

Compares, for T from 512 to 8192:

* attention, forward and forward + backward: the PyTorch reference (materialises T x T),
  the fused Triton kernel, and SDPA (non-selective causal flash attention: the speed to aim at);
* ``selection_cumsum`` forward: the float32 and float64 references and the Triton scan.

It prints one table per op with the ratios, then the issue's targets (fused within 2x of SDPA's
time at T = 2048, >= 3x faster than the reference, memory linear in T), and with ``--json``
writes every figure with the device and date. Without CUDA it says so and exits 0.

Usage::

    python benchmarks/kernels.py [--batch 2 --heads 8 --kv-heads 8 --head-dim 64]
        [--dtype bfloat16] [--lengths 512 1024 2048 4096 8192] [--json out.json]
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import math
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _measure(fn, *, repeats: int) -> tuple[float, float]:
    """(median ms, peak MiB above what was allocated before) of ``fn()``; NaNs on OOM."""
    import torch
    import triton.testing

    try:
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        fn()
        torch.cuda.synchronize()
        peak = (torch.cuda.max_memory_allocated() - base) / 2**20
        ms = triton.testing.do_bench(fn, rep=repeats, return_mode="median")
    except torch.OutOfMemoryError:
        torch.cuda.empty_cache()
        return math.nan, math.nan
    return ms, peak


def _attention_rows(args, T: int) -> list[dict]:
    import torch
    import torch.nn.functional as functional

    from kernels.selective_attention import selective_attention, selective_attention_reference

    dtype = getattr(torch, args.dtype)
    B, H, H_kv, D = args.batch, args.heads, args.kv_heads, args.head_dim
    gen = torch.Generator(device="cuda").manual_seed(0)

    def draw(*shape):
        x = torch.randn(*shape, generator=gen, device="cuda", dtype=dtype)
        return x.requires_grad_()

    q, k, v = draw(B, H, T, D), draw(B, H_kv, T, D), draw(B, H_kv, T, D)
    grad_out = torch.randn(B, H, T, D, generator=gen, device="cuda", dtype=dtype)
    group = H // H_kv

    def reference():
        return selective_attention_reference(q, k, v)

    def fused():
        return selective_attention(q, k, v, backend="triton")

    def sdpa():
        return functional.scaled_dot_product_attention(
            q, k, v, is_causal=True, enable_gqa=group > 1
        )

    rows = []
    for name, forward in (("reference", reference), ("triton", fused), ("sdpa", sdpa)):
        with torch.no_grad():
            fwd_ms, fwd_mib = _measure(forward, repeats=args.repeat_ms)

        def forward_backward(forward=forward):
            torch.autograd.grad(forward(), (q, k, v), grad_out)

        both_ms, both_mib = _measure(forward_backward, repeats=args.repeat_ms)
        rows.append(
            {
                "op": "attention",
                "impl": name,
                "T": T,
                "fwd_ms": fwd_ms,
                "fwd_mib": fwd_mib,
                "fwd_bwd_ms": both_ms,
                "fwd_bwd_mib": both_mib,
            }
        )
    return rows


def _cumsum_rows(args, T: int) -> list[dict]:
    import torch

    from kernels.selection_cumsum import selection_cumsum

    gen = torch.Generator(device="cuda").manual_seed(1)
    logits = torch.randn(args.batch, T, T, generator=gen, device="cuda", dtype=torch.float32)
    variants = {
        "reference-fp32": lambda: selection_cumsum(logits, backend="reference"),
        "reference-fp64": lambda: selection_cumsum(
            logits, backend="reference", accumulate_dtype=torch.float64
        ),
        "triton-fp32": lambda: selection_cumsum(logits, backend="triton"),
    }
    rows = []
    for name, fn in variants.items():
        ms, mib = _measure(fn, repeats=args.repeat_ms)
        rows.append({"op": "selection_cumsum", "impl": name, "T": T, "fwd_ms": ms, "fwd_mib": mib})
    return rows


def _ratio(a: float, b: float) -> float:
    return a / b if b and not math.isnan(b) else math.nan


def _print_attention(rows: list[dict]) -> None:
    by = {(r["impl"], r["T"]): r for r in rows}
    print("\nselective attention (ms, peak MiB; ratios of times)")
    header = (
        f"{'T':>6} {'pass':>8} {'reference':>18} {'triton':>18} {'sdpa':>18} "
        f"{'triton/sdpa':>12} {'ref/triton':>11}"
    )
    print(header)
    for T in sorted({r["T"] for r in rows}):
        ref, tri, sdpa = by[("reference", T)], by[("triton", T)], by[("sdpa", T)]
        for label, ms, mib in (
            ("fwd", "fwd_ms", "fwd_mib"),
            ("fwd+bwd", "fwd_bwd_ms", "fwd_bwd_mib"),
        ):
            cells = [f"{r[ms]:8.3f} {r[mib]:9.1f}" for r in (ref, tri, sdpa)]
            print(
                f"{T:>6} {label:>8} {cells[0]:>18} {cells[1]:>18} {cells[2]:>18} "
                f"{_ratio(tri[ms], sdpa[ms]):12.2f} {_ratio(ref[ms], tri[ms]):11.2f}"
            )


def _print_cumsum(rows: list[dict]) -> None:
    by = {(r["impl"], r["T"]): r for r in rows}
    print("\nselection_cumsum forward (ms, peak MiB)")
    print(f"{'T':>6} {'ref fp32':>18} {'ref fp64':>18} {'triton fp32':>18} {'fp64/triton':>12}")
    for T in sorted({r["T"] for r in rows}):
        cells = [by[(name, T)] for name in ("reference-fp32", "reference-fp64", "triton-fp32")]
        text = [f"{r['fwd_ms']:8.3f} {r['fwd_mib']:9.1f}" for r in cells]
        ratio = _ratio(cells[1]["fwd_ms"], cells[2]["fwd_ms"])
        print(f"{T:>6} {text[0]:>18} {text[1]:>18} {text[2]:>18} {ratio:12.2f}")


def _print_targets(rows: list[dict]) -> None:
    by = {(r["impl"], r["T"]): r for r in rows}
    print("\nissue 9 targets")
    if ("triton", 2048) in by:
        tri, sdpa, ref = by[("triton", 2048)], by[("sdpa", 2048)], by[("reference", 2048)]
        for key, label in (("fwd_ms", "fwd"), ("fwd_bwd_ms", "fwd+bwd")):
            vs_sdpa, vs_ref = _ratio(tri[key], sdpa[key]), _ratio(ref[key], tri[key])
            print(
                f"  T=2048 {label}: triton/sdpa = {vs_sdpa:.2f} (target <= 2), "
                f"reference/triton = {vs_ref:.2f} (target >= 3)"
            )
    lengths = sorted(T for impl, T in by if impl == "triton")
    for a, b in itertools.pairwise(lengths):
        growth = _ratio(by[("triton", b)]["fwd_bwd_mib"], by[("triton", a)]["fwd_bwd_mib"])
        print(
            f"  triton fwd+bwd peak memory x{growth:.2f} from T={a} to T={b} (linear: x{b / a:.0f})"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--kv-heads", type=int, default=8)
    parser.add_argument("--head-dim", type=int, default=64)
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    parser.add_argument("--lengths", type=int, nargs="+", default=[512, 1024, 2048, 4096, 8192])
    parser.add_argument("--repeat-ms", type=int, default=200, help="timing budget per figure")
    parser.add_argument("--skip-cumsum", action="store_true")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    args = parser.parse_args(argv)

    import torch

    if not torch.cuda.is_available():
        print("benchmarks/kernels.py: no CUDA device here; nothing measured.", file=sys.stderr)
        return 0

    device = torch.cuda.get_device_name()
    print(
        f"{device}, torch {torch.__version__}; B={args.batch} H={args.heads} "
        f"H_kv={args.kv_heads} D={args.head_dim} {args.dtype}"
    )
    attention, cumsum = [], []
    for T in args.lengths:
        attention += _attention_rows(args, T)
        if not args.skip_cumsum:
            cumsum += _cumsum_rows(args, T)
        print(f"  T={T} done", file=sys.stderr)
    _print_attention(attention)
    if cumsum:
        _print_cumsum(cumsum)
    _print_targets(attention)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "device": device,
                    "date": datetime.date.today().isoformat(),
                    "torch": torch.__version__,
                    "config": {k: v for k, v in vars(args).items() if k != "json"},
                    "rows": attention + cumsum,
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
