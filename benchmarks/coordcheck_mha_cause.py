"""Why a correct muP's plain-attention logits shrink with width (docs/coordcheck.md, "Plain
attention"): two of the measurements behind it, on the calibration seeds (1000..).

- ``mup``: the built-in check's GPT written again with microsoft/mup (``set_base_shapes``,
  ``mup.init.normal_`` for the hidden matrices, ``MuSharedReadout`` tied to the token embedding,
  ``MuAdam``, attention scaled by 1/d_head, query projections zeroed), trained on the built-in
  check's batches; ``--tokens K`` folds the token ids onto K ids and drops the position
  embeddings (fewer distinct inputs), ``--eps`` sets Adam's epsilon (1e-20: none; not 0, which
  divides 0 by 0 where a gradient is 0).
- ``heads``: the built-in GPT, each head's ``attn_logits`` on its own (the check averages them).

Each prints, per layer, the width exponent of log mean |attention logit| at every step after the
first update (a least-squares slope on log width of the mean over seeds), and with ``--local``
the exponent between each pair of consecutive widths.

Usage:
    PYTHONPATH=$PWD nice -n 10 .venv/bin/python -m benchmarks.coordcheck_mha_cause mup
        [--batch 8] [--block 32] [--tokens 0] [--eps 1e-8] [--seeds 6] [--steps 7]
        [--widths 64,128,256,512] [--local]
    PYTHONPATH=$PWD nice -n 10 .venv/bin/python -m benchmarks.coordcheck_mha_cause heads
        [--attention mha|selective] [--batch 8] [--block 32] [--seeds 4] [--steps 7]
"""

from __future__ import annotations

import argparse
import math
from collections import defaultdict

import mup
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from harness.coordcheck.settings import CoordCheckSettings, width_config
from harness.training.loop import prepare

CALIBRATION_SEED = 1000


class Block(nn.Module):
    """Pre-norm attention (two heads, 1/d_head) and MLP, as the built-in GPT's block."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(width, bias=False)
        self.c_attn = nn.Linear(width, 3 * width, bias=False)
        self.c_proj = nn.Linear(width, width, bias=False)
        self.ln_2 = nn.LayerNorm(width, bias=False)
        self.c_fc = nn.Linear(width, 4 * width, bias=False)
        self.mlp_proj = nn.Linear(4 * width, width, bias=False)

    def forward(self, x: torch.Tensor, logits: list[torch.Tensor]) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = (
            part.view(B, T, 2, C // 2).transpose(1, 2)
            for part in self.c_attn(self.ln_1(x)).split(C, dim=2)
        )
        att = q @ k.transpose(-2, -1) / (C // 2)  # muP: 1/d_head
        logits.append(att.detach())
        causal = torch.ones(T, T, dtype=torch.bool).tril()
        att = F.softmax(att.masked_fill(~causal, float("-inf")), dim=-1)
        x = x + self.c_proj((att @ v).transpose(1, 2).reshape(B, T, C))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x))))


class MupGPT(nn.Module):
    def __init__(self, width: int, vocab: int, block: int, positions: bool) -> None:
        super().__init__()
        self.wte = nn.Embedding(vocab, width)
        self.wpe = nn.Embedding(block, width) if positions else None
        self.h = nn.ModuleList([Block(width) for _ in range(2)])
        self.ln_f = nn.LayerNorm(width, bias=False)
        self.readout = mup.MuSharedReadout(self.wte.weight, bias=False)

    def forward(self, idx: torch.Tensor, logits: list[torch.Tensor]) -> torch.Tensor:
        x = self.wte(idx)
        if self.wpe is not None:
            x = x + self.wpe(torch.arange(idx.shape[1]))
        for block in self.h:
            x = block(x, logits)
        return self.readout(self.ln_f(x))


def mup_gpt(width: int, vocab: int, block: int, positions: bool, seed: int) -> MupGPT:
    """The model at ``width``, base shapes at 64 (delta 128), nanoGPT's init under muP."""
    torch.manual_seed(seed)
    model = MupGPT(width, vocab, block, positions)
    base, delta = (MupGPT(w, vocab, block, positions) for w in (64, 128))
    mup.set_base_shapes(model, base, delta=delta)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.startswith(("wte", "wpe")):
                nn.init.normal_(param, 0.0, 0.02)
            elif param.dim() == 2:
                std = 0.01 if name.endswith(("c_proj.weight", "mlp_proj.weight")) else 0.02
                mup.init.normal_(param, 0.0, std)  # std / sqrt(width_mult)
        for block_ in model.h:
            assert isinstance(block_, Block)
            block_.c_attn.weight[: block_.c_attn.weight.shape[0] // 3] = 0.0  # zero query
    return model


def causal_mean_abs(att: torch.Tensor) -> float:
    T = att.shape[-1]
    return att.abs()[..., torch.ones(T, T, dtype=torch.bool).tril()].mean().item()


def run_mup(args: argparse.Namespace) -> dict[tuple[str, int, int], list[float]]:
    settings = CoordCheckSettings(attention="mha", batch_size=args.batch, block_size=args.block)
    logs: dict[tuple[str, int, int], list[float]] = defaultdict(list)
    for seed in range(CALIBRATION_SEED, CALIBRATION_SEED + args.seeds):
        setup = prepare(width_config(settings, args.widths[0]), seed=seed, device="cpu")
        vocab = setup.raw_model.config.vocab_size
        batch = torch.from_numpy(next(setup.data.train(seed, args.batch)))
        if args.tokens:
            batch = batch % args.tokens
        inputs, targets = batch[:, :-1], batch[:, 1:]
        for width in args.widths:
            model = mup_gpt(width, vocab, args.block, not args.tokens, seed)
            optimizer = mup.MuAdam(model.parameters(), lr=3e-3, eps=args.eps)
            for step in range(args.steps):
                logits: list[torch.Tensor] = []
                out = model(inputs, logits)
                F.cross_entropy(out.reshape(-1, vocab), targets.reshape(-1)).backward()
                optimizer.step()
                optimizer.zero_grad()
                for layer, att in enumerate(logits):
                    value = causal_mean_abs(att)
                    logs[(f"layer {layer}", width, step)].append(math.log(value or math.nan))
    return logs


def run_heads(args: argparse.Namespace) -> dict[tuple[str, int, int], list[float]]:
    settings = CoordCheckSettings(
        attention=args.attention, batch_size=args.batch, block_size=args.block, widths=args.widths
    )
    logs: dict[tuple[str, int, int], list[float]] = defaultdict(list)
    for seed in range(CALIBRATION_SEED, CALIBRATION_SEED + args.seeds):
        for width in args.widths:
            setup = prepare(width_config(settings, width), seed=seed, device="cpu")
            model, optimizer = setup.raw_model, setup.optimizer
            batch = torch.from_numpy(next(setup.data.train(seed, args.batch)))
            seen: dict[tuple[int, int], float] = {}
            for layer, block in enumerate(model.transformer.h):
                block.attn.fused = False  # the math path, where logits_tap sees the logits

                def tap(
                    _m: nn.Module,
                    _i: object,
                    att: torch.Tensor,
                    layer: int = layer,
                    seen: dict[tuple[int, int], float] = seen,
                ) -> None:
                    for head in range(att.shape[1]):
                        seen[(layer, head)] = causal_mean_abs(att[:, head].detach())

                block.attn.logits_tap.register_forward_hook(tap)
            for step in range(args.steps):
                out = model(batch[:, :-1], batch[:, 1:])
                assert out.loss is not None
                out.loss.backward()
                optimizer.step()
                optimizer.zero_grad()
                for (layer, head), value in seen.items():
                    key = (f"layer {layer} head {head}", width, step)
                    logs[key].append(math.log(value or math.nan))
    return logs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("mup", "heads"))
    parser.add_argument("--attention", choices=("mha", "selective"), default="mha")
    parser.add_argument("--batch", type=int, default=8, help="sequences (default 8)")
    parser.add_argument("--block", type=int, default=32, help="tokens per sequence (default 32)")
    parser.add_argument("--tokens", type=int, default=0, help="mup: fold tokens onto K ids")
    parser.add_argument("--eps", type=float, default=1e-8, help="mup: Adam's eps (1e-8)")
    parser.add_argument("--seeds", type=int, default=6, help="calibration seeds (default 6)")
    parser.add_argument("--steps", type=int, default=7, help="steps (default 7)")
    parser.add_argument(
        "--widths",
        type=lambda text: tuple(int(part) for part in text.split(",")),
        default=(64, 128, 256, 512),
        help="comma-separated widths (default 64,128,256,512)",
    )
    parser.add_argument("--local", action="store_true", help="also consecutive-width exponents")
    args = parser.parse_args()
    torch.set_num_threads(1)
    logs = run_mup(args) if args.what == "mup" else run_heads(args)
    x = np.log(args.widths)
    for name in sorted({key[0] for key in logs}):
        means = [
            np.array([np.mean(logs[(name, width, step)]) for width in args.widths])
            for step in range(1, args.steps)
        ]
        slopes = [np.polyfit(x, y, 1)[0] for y in means]
        print(f"{name}: steps 1..{args.steps - 1}", " ".join(f"{s:+.2f}" for s in slopes))
        if args.local:
            for step, y in enumerate(means, start=1):
                local = np.diff(y) / np.diff(x)
                print(f"    step {step}, consecutive widths:", " ".join(f"{s:+.2f}" for s in local))


if __name__ == "__main__":
    main()
