"""The built-in trainer's throughput against a minimal plain PyTorch loop on the same model.

Both train the same model (the baseline variant of a study, default
``studies/bos_protection.toml``) on the same batches for the same number of steps and end with
the same validation pass; each is timed end to end, from building the model to the last
validation batch. The plain loop is what one would write by hand: forward, backward,
``AdamW.step``, nothing else. The trainer adds the LR schedule, gradient clipping, the NaN check
and per-step logging; its throughput should stay within 5 % (ratio >= 0.95).

Usage::

    python -m benchmarks.trainer_throughput [--steps 200] [--repeats 7] [--threads 1]
        [--device cpu] [--study studies/bos_protection.toml]

(run as a module from the repository root: as a script, ``benchmarks/kernels.py`` would shadow
the ``kernels`` package.)
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from harness.schema import from_mapping
from harness.study.spec import load_study
from harness.training import train
from harness.training.config import RunConfig
from harness.training.data import load_data
from models.gpt import GPT, init_parameters


def study_config(study: Path, steps: int) -> RunConfig:
    spec = load_study(study)
    mapping: dict[str, Any] = dict(spec.variant(spec.baseline).config)
    mapping["train"] = {**mapping.get("train", {}), "steps": steps, "eval_interval": 0}
    return from_mapping(RunConfig, mapping)


def synchronize(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def time_trainer(config: RunConfig, device: str) -> float:
    rows: list[dict[str, Any]] = []
    synchronize(device)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as run_dir:
        train(config, seed=0, run_dir=Path(run_dir), log=rows.append, device=device)
    synchronize(device)
    return time.perf_counter() - started


def time_plain_loop(config: RunConfig, device: str) -> float:
    synchronize(device)
    started = time.perf_counter()
    data = load_data(config.data, config.model.block_size)
    model_config = dataclasses.replace(config.model, vocab_size=data.vocab_size)
    model = GPT(model_config)
    init_parameters(model, 0)
    model.to(device)
    tc = config.train
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=tc.lr, betas=(tc.beta1, tc.beta2), weight_decay=tc.weight_decay
    )
    autocast = (
        torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        if device == "cuda"
        else contextlib.nullcontext()
    )
    batches = data.train(0, tc.batch_size)
    for _ in range(tc.steps):
        batch = torch.from_numpy(next(batches)).to(device)
        with autocast:
            loss = model(batch[:, :-1], batch[:, 1:]).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    model.eval()
    with torch.no_grad(), autocast:
        for start in range(0, len(data.val), tc.eval_batch_size):
            val = torch.from_numpy(data.val[start : start + tc.eval_batch_size]).to(device)
            model(val[:, :-1], val[:, 1:]).loss.item()
    synchronize(device)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--study", type=Path, default=Path("studies/bos_protection.toml"))
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = study_config(args.study, args.steps)
    tokens = args.steps * config.train.batch_size * config.model.block_size

    time_plain_loop(dataclasses.replace(config), args.device)  # warm-up (allocator, kernels)
    trainer, plain = [], []
    for repeat in range(args.repeats):  # interleaved, first one then the other, alternating
        timers = [(plain, time_plain_loop), (trainer, time_trainer)]
        for times, timer in timers if repeat % 2 == 0 else reversed(timers):
            times.append(timer(config, args.device))
    print(
        f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"device {args.device}, {args.threads} thread(s)"
    )
    print(
        f"model: {config.model.attention}, {args.steps} steps x {config.train.batch_size} x "
        f"{config.model.block_size} tokens, {args.repeats} repeats each"
    )
    for name, times in (("plain loop", plain), ("trainer", trainer)):
        best, median = min(times), statistics.median(times)
        print(
            f"{name:<10}: best {best:6.2f} s ({tokens / best:7.0f} tokens/s), "
            f"median {median:6.2f} s  {[round(t, 2) for t in sorted(times)]}"
        )
    # Noise on a shared machine only ever adds time, so the best of several runs is the
    # estimate of what each loop costs (as timeit reports); the median is shown beside it.
    pair_ratios = [p / t for p, t in zip(plain, trainer, strict=True)]
    print(
        f"ratio (trainer / plain throughput): {min(plain) / min(trainer):.3f} on the best runs; "
        f"{statistics.median(plain) / statistics.median(trainer):.3f} on the medians; "
        f"per pair {min(pair_ratios):.3f}..{max(pair_ratios):.3f}"
    )


if __name__ == "__main__":
    main()
