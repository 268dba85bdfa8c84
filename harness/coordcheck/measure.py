"""Record mean |x| of every tapped activation, per layer and per step, across widths and seeds.

Each (width, seed) builds its model, optimizer and LR schedule through the trainer's own
``prepare`` — the same code a study trains with, so a schedule that overwrites muP's per-group
LRs, or a missing init rescaling, shows here — then trains ``steps`` steps on one fixed batch.
Forward hooks read the activations of the forward pass before each update.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from harness.coordcheck.readings import Row, mean_abs
from harness.coordcheck.settings import CoordCheckSettings, width_config
from harness.training.loop import prepare
from models.gpt import GPT


def measure_seed(settings: CoordCheckSettings, seed: int) -> list[Row]:
    """Train ``seed`` at every width and return its records.

    Returns:
        One row per (width, step, activation, layer): ``{"width", "seed", "step",
        "activation", "layer" (None for embedding and logits), "value"}`` plus one row per
        (width, step) with activation "loss" (the training loss, not part of the verdict).
    """
    rows: list[Row] = []
    for width in settings.widths:
        rows += measure_one(settings, width=width, seed=seed)
    return rows


def measure_one(settings: CoordCheckSettings, *, width: int, seed: int) -> list[Row]:
    """The records of one (width, seed): ``settings.steps`` steps on one fixed batch."""
    device = settings.device
    setup = prepare(width_config(settings, width), seed=seed, device=device)
    model, optimizer, scheduler = setup.raw_model, setup.optimizer, setup.scheduler
    batch = torch.from_numpy(next(setup.data.train(seed, settings.batch_size))).to(device)
    inputs, targets = batch[:, :-1], batch[:, 1:]
    rows: list[Row] = []
    model.train()
    with tapped(model) as readings:
        for step in range(settings.steps):
            readings.clear()
            out = model(inputs, targets)
            assert out.loss is not None
            out.loss.backward()  # cross-entropy only: the memory penalty is not muP's business
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            scheduler.step()
            for (activation, layer), value in readings.items():
                rows.append(_row(width, seed, step, activation, layer, value))
            rows.append(_row(width, seed, step, "loss", None, out.loss.item()))
    return rows


def _row(width: int, seed: int, step: int, activation: str, layer: int | None, value: float) -> Row:
    return {
        "width": width,
        "seed": seed,
        "step": step,
        "activation": activation,
        "layer": layer,
        "value": float(value),
    }


@contextmanager
def tapped(model: GPT) -> Iterator[dict[tuple[str, int | None], float]]:
    """Forward hooks that fill a dict {(activation, layer): mean |x|} on every forward pass.

    The attention logits are read from ``attn.logits_tap`` on the math path (the fused path is
    switched off while tapped) over causal positions only: the masked ones never reach the
    softmax.
    """
    readings: dict[tuple[str, int | None], float] = {}
    handles = []
    fused = {}

    def hook(name: str, layer: int | None, pick: Callable[[Any], torch.Tensor]) -> Callable:
        def record(_module: nn.Module, _inputs: Any, output: Any) -> None:
            readings[(name, layer)] = mean_abs(pick(output))

        return record

    def first(output: Any) -> torch.Tensor:
        return output[0] if isinstance(output, tuple) else output

    transformer: Any = model.transformer  # an nn.ModuleDict: typed loosely
    handles.append(transformer.drop.register_forward_hook(hook("embedding", None, first)))
    for layer, block in enumerate(transformer.h):
        attn = block.attn
        fused[attn] = attn.fused
        attn.fused = False

        def qkv(_module: nn.Module, _inputs: Any, output: torch.Tensor, layer: int = layer) -> None:
            for name, part in zip(("q", "k", "v"), output.chunk(3, dim=-1), strict=True):
                readings[(name, layer)] = mean_abs(part)

        def logits(_module: nn.Module, _inputs: Any, att: torch.Tensor, layer: int = layer) -> None:
            T = att.shape[-1]
            causal = torch.ones(T, T, dtype=torch.bool, device=att.device).tril()
            readings[("attn_logits", layer)] = att.detach().abs()[..., causal].float().mean().item()

        handles.append(attn.c_attn.register_forward_hook(qkv))
        handles.append(attn.logits_tap.register_forward_hook(logits))
        handles.append(attn.register_forward_hook(hook("attn_out", layer, first)))
        handles.append(block.mlp.register_forward_hook(hook("mlp_out", layer, first)))
        handles.append(block.register_forward_hook(hook("block_out", layer, first)))
    handles.append(model.register_forward_hook(hook("logits", None, lambda out: out.logits)))
    try:
        yield readings
    finally:
        for handle in handles:
            handle.remove()
        for attn, was in fused.items():
            attn.fused = was
