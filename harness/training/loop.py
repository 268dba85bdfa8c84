"""The built-in training loop — the only training code in the project.

AdamW with warmup then cosine/linear decay, gradient clipping and accumulation, bf16 autocast
on CUDA, optional ``torch.compile``, periodic validation on a fixed held-out set, and an
end-of-run summary logged last (the final value of a metric is the last one reported).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import resource
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from harness.errors import RunDiverged, UserError
from harness.training.checkpoint import load_checkpoint, save_checkpoint
from harness.training.config import RunConfig
from harness.training.data import Batches, load_data, stream_seed
from harness.training.run_metrics import model_cost, stability
from harness.training.schedule import lr_multiplier
from models import mup
from models.gpt import GPT, init_parameters


def train(
    config: RunConfig,
    *,
    seed: int,
    run_dir: Path,
    log: Callable[[dict[str, Any]], None],
    device: str = "cpu",
    timings: dict[str, float] | None = None,
) -> None:
    """Train ``config``'s model with ``seed`` and report metrics through ``log``.

    Args:
        config: model, data and training settings.
        seed: fixes the init (per parameter name) and the training-batch order, identically in
            every variant; the validation set depends on ``config.data.seed`` only.
        run_dir: the run's folder (checkpoints go there).
        log: called with one dict per step (``train_loss``, ``lr``, ``grad_norm``), per eval
            (``val_loss``, ``val_ppl``) and, last, the end-of-run summary.
        device: "cpu" or "cuda".
        timings: when given, filled with where the time went, in seconds: ``setup_s`` (data,
            model, optimizer), ``train_s`` (the optimizer steps) and ``eval_s`` (validation).

    Raises:
        RunDiverged: the training loss became NaN or infinite.
    """
    setup_started = time.perf_counter()
    setup = prepare(config, seed=seed, device=device)
    spent = {"setup_s": time.perf_counter() - setup_started, "train_s": 0.0, "eval_s": 0.0}
    tc = config.train
    model, optimizer, scheduler = setup.model, setup.optimizer, setup.scheduler
    step_fn = setup.forward_backward
    epsilon = config.model.memory_penalty_epsilon
    batches = to_device(setup.data.train(seed, tc.batch_size), device)

    recent_losses: list[float] = []
    train_losses: list[float] = []
    grad_norms: list[float] = []
    train_time, tokens = 0.0, 0
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    for step in range(1, tc.steps + 1):
        started = time.perf_counter()
        if not model.training:  # evaluate() left it in eval mode; .train() walks every module
            model.train()
        loss_sum = torch.zeros((), device=device)
        memory_sum = torch.zeros((), device=device)
        for _ in range(tc.grad_accum_steps):
            loss, memory_loss = step_fn(next(batches))
            loss_sum += loss.detach()
            if memory_loss is not None:
                memory_sum += memory_loss.detach()
        grad_norm = torch.nn.utils.clip_grad_norm_(
            model.parameters(), tc.grad_clip if tc.grad_clip > 0 else math.inf
        )
        train_loss = loss_sum.item() / tc.grad_accum_steps  # also the step's device sync
        if not math.isfinite(train_loss):
            raise RunDiverged(step=step, value=train_loss)
        lr = optimizer.param_groups[0]["lr"]
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        scheduler.step()
        train_time += time.perf_counter() - started
        tokens += tc.batch_size * tc.grad_accum_steps * config.model.block_size

        recent_losses = [*recent_losses[-(tc.smooth_window - 1) :], train_loss]
        row = {"step": step, "train_loss": train_loss, "lr": lr, "grad_norm": grad_norm.item()}
        train_losses.append(train_loss)
        grad_norms.append(row["grad_norm"])
        if epsilon > 0:
            row["memory_loss"] = memory_sum.item() / tc.grad_accum_steps
        log(row)
        if tc.eval_interval and step % tc.eval_interval == 0 and step < tc.steps:
            eval_started = time.perf_counter()
            log({"step": step, **evaluate(setup)})
            spent["eval_s"] += time.perf_counter() - eval_started

    eval_started = time.perf_counter()
    summary: dict[str, Any] = {"step": tc.steps, **evaluate(setup)}
    for budget in tc.memory_budgets:
        summary[f"val_loss_budget_{budget}"] = evaluate(setup, memory_budget=budget)["val_loss"]
    spent["eval_s"] += time.perf_counter() - eval_started
    spent["train_s"] = train_time
    if timings is not None:
        timings.update(spent)
    summary["train_loss_smoothed"] = float(np.mean(recent_losses))
    summary["tokens_per_s"] = tokens / train_time
    summary["peak_memory_mb"] = peak_memory_mb(device)
    summary["n_params"] = setup.raw_model.num_params()
    summary.update(model_cost(setup.raw_model.config))
    summary.update(stability(train_losses, grad_norms))
    if tc.save_checkpoint:
        save_checkpoint(setup.raw_model, Path(run_dir) / "checkpoint.pt")
    log(summary)


@dataclasses.dataclass
class Setup:
    """What a run trains with; built by :func:`prepare` (also used by the benchmark)."""

    raw_model: GPT
    model: Any  # raw_model, or its torch.compile wrapper when train.compile
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    data: Batches
    device: str
    autocast: Callable[[], contextlib.AbstractContextManager[Any]]
    forward_backward: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor | None]]
    config: RunConfig


def prepare(config: RunConfig, *, seed: int, device: str) -> Setup:
    """Data, model (seeded init, optional checkpoint), AdamW and schedule for a run."""
    if device not in ("cpu", "cuda"):
        raise UserError(f"device must be 'cpu' or 'cuda', got {device!r}")
    data = load_data(config.data, config.model.block_size)
    model_config = config.model
    if model_config.vocab_size == 0:
        if data.vocab_size is None:
            raise UserError("model.vocab_size: token files need an explicit vocabulary size")
        model_config = dataclasses.replace(model_config, vocab_size=data.vocab_size)
    elif data.vocab_size is not None and model_config.vocab_size < data.vocab_size:
        raise UserError(
            f"model.vocab_size = {model_config.vocab_size} < the data's {data.vocab_size} tokens"
        )
    # dropout draws from the global generator: seed it per run, the same in every variant
    torch.manual_seed(stream_seed(seed, "dropout") % 2**63)
    raw_model = GPT(model_config)
    init_parameters(raw_model, seed)
    if config.train.init_from:
        load_checkpoint(raw_model, Path(config.train.init_from))
    raw_model.to(device)
    model: Any = torch.compile(raw_model) if config.train.compile else raw_model

    optimizer = make_optimizer(raw_model, config)
    tc = config.train
    scheduler = make_scheduler(optimizer, config)

    def autocast() -> contextlib.AbstractContextManager[Any]:
        if device == "cuda":
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    epsilon = model_config.memory_penalty_epsilon

    def forward_backward(batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        with autocast():
            out = model(batch[:, :-1], batch[:, 1:])
            loss = out.loss
            total = loss if out.memory_loss is None else loss + epsilon * out.memory_loss
        (total / tc.grad_accum_steps).backward()
        return loss, out.memory_loss

    return Setup(
        raw_model=raw_model,
        model=model,
        optimizer=optimizer,
        scheduler=scheduler,
        data=data,
        device=device,
        autocast=autocast,
        forward_backward=forward_backward,
        config=config,
    )


def make_optimizer(model: GPT, config: RunConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices and embeddings, none on norms and biases.

    The groups come from ``models.mup.param_groups`` (under muP the hidden matrices' group has
    the base LR / width_mult), each with its own ``lr``; the schedule scales each group's base
    LR, so the groups keep their ratio.
    """
    tc = config.train
    groups = mup.param_groups(model, lr=tc.lr, weight_decay=tc.weight_decay)
    return torch.optim.AdamW(groups, lr=tc.lr, betas=(tc.beta1, tc.beta2))


def make_scheduler(
    optimizer: torch.optim.Optimizer, config: RunConfig
) -> torch.optim.lr_scheduler.LRScheduler:
    """Warmup then decay as a multiplier of each group's own base LR.

    ``LambdaLR`` sets ``group["lr"] = group["initial_lr"] * multiplier``, so groups with
    different LRs (muP's hidden matrices) keep their ratio. Setting one LR for every group — as
    a hand-written ``for group in optimizer.param_groups: group["lr"] = lr`` does — would undo
    muP's LR scaling; ``harness coordcheck`` catches that.
    """
    tc = config.train
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: lr_multiplier(
            step,
            total_steps=tc.steps,
            warmup_steps=tc.warmup_steps,
            decay=tc.decay,
            min_lr_ratio=tc.min_lr_ratio,
        ),
    )


@torch.no_grad()
def evaluate(setup: Setup, *, memory_budget: int | None = None) -> dict[str, float]:
    """Mean next-token loss over the fixed validation set (every token weighted equally)."""
    model, device = setup.model, setup.device
    model.eval()
    val = setup.data.val
    batch_size = setup.config.train.eval_batch_size
    total = 0.0
    for start in range(0, len(val), batch_size):
        batch = torch.from_numpy(val[start : start + batch_size]).to(device)
        with setup.autocast():
            if memory_budget is None:
                out = model(batch[:, :-1], batch[:, 1:])
            else:  # the plain model: the budget path is not what was compiled
                out = setup.raw_model(batch[:, :-1], batch[:, 1:], memory_budget=memory_budget)
        total += out.loss.item() * len(batch)
    val_loss = total / len(val)
    if not math.isfinite(val_loss):
        raise RunDiverged(step=setup.scheduler.last_epoch, value=val_loss, metric="val_loss")
    return {"val_loss": val_loss, "val_ppl": math.exp(min(val_loss, 700.0))}


def to_device(batches: Iterator[np.ndarray], device: str) -> Iterator[torch.Tensor]:
    for batch in batches:
        yield torch.from_numpy(batch).to(device, non_blocking=True)


def peak_memory_mb(device: str) -> float:
    """Peak accelerator memory on CUDA; the process's peak resident memory on CPU."""
    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
