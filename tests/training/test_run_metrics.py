"""End-of-run cost and stability metrics: hand-computable cases, and the trainer's summary."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from harness.schema import from_mapping
from harness.training import train
from harness.training.config import RunConfig
from harness.training.run_metrics import model_cost, stability
from models.config import ModelConfig


def test_stability_by_hand() -> None:
    losses = [5.0, 4.0, 3.0, 2.9, 2.7, 2.8, 2.5]  # second half: 2.9, 2.7, 2.8, 2.5
    stats = stability(losses, grad_norms=[1.0, 2.0, 3.0])
    assert stats["grad_norm_mean"] == pytest.approx(2.0)
    assert stats["grad_norm_max"] == 3.0
    assert stats["grad_norm_sd"] == pytest.approx(1.0)
    diffs = [-0.2, 0.1, -0.3]
    mean = sum(diffs) / 3
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / 2)
    assert stats["train_loss_roughness"] == pytest.approx(sd)


def test_a_straight_loss_curve_is_perfectly_smooth_and_short_runs_are_defined() -> None:
    assert stability([4.0, 3.0, 2.0, 1.0, 0.0, -1.0], [1.0] * 6)["train_loss_roughness"] == 0.0
    one_step = stability([3.0], [0.5])
    assert one_step["train_loss_roughness"] == 0.0 and one_step["grad_norm_sd"] == 0.0


def test_model_cost_counts_the_window() -> None:
    full = model_cost(ModelConfig(n_layer=2, n_head=4, n_embd=32, block_size=64))
    assert full == {"kv_cache_bytes_per_token": 2 * 2 * 32 * 2.0,
                    "kv_cache_bytes_at_block_size": 64 * 2 * 2 * 32 * 2.0}  # fmt: skip
    windowed = model_cost(ModelConfig(n_layer=2, n_head=4, n_embd=32, block_size=64, window_size=8))
    assert windowed["kv_cache_bytes_at_block_size"] == 8 * full["kv_cache_bytes_per_token"]


def test_the_summary_carries_cost_and_stability(tmp_path: Path) -> None:
    cfg = from_mapping(
        RunConfig,
        {
            "model": {"attention": "gqa", "num_kv_heads": 1, "n_layer": 1, "n_head": 2,
                      "n_embd": 16, "block_size": 16},
            "data": {"val_sequences": 8},
            "train": {"steps": 6, "batch_size": 4, "warmup_steps": 2},
        },
    )  # fmt: skip
    rows: list[dict[str, Any]] = []
    train(cfg, seed=0, run_dir=tmp_path, log=rows.append)
    summary = rows[-1]
    norms = [r["grad_norm"] for r in rows if "grad_norm" in r]
    assert summary["grad_norm_max"] == max(norms)
    assert summary["kv_cache_bytes_per_token"] == 1 * 2 * 1 * 8 * 2  # one K/V head of size 8
    for key in ("tokens_per_s", "peak_memory_mb", "n_params", "train_loss_roughness"):
        assert math.isfinite(summary[key]) and summary[key] >= 0
