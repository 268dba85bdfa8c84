"""The training loop: the logging contract, determinism, divergence, schedule, checkpoints."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from harness.errors import RunDiverged, SpecError, UserError
from harness.schema import from_mapping
from harness.training import train
from harness.training.config import RunConfig
from harness.training.schedule import lr_multiplier

TINY = {
    "model": {"attention": "selective", "n_layer": 1, "n_head": 2, "n_embd": 16, "block_size": 16},
    "data": {"val_sequences": 8},
    "train": {"steps": 6, "batch_size": 4, "warmup_steps": 2, "eval_interval": 3},
}


def config(**overrides: dict[str, Any]) -> RunConfig:
    mapping = {table: {**TINY[table], **overrides.get(table, {})} for table in TINY}
    return from_mapping(RunConfig, mapping)


def run(cfg: RunConfig, tmp_path: Path, seed: int = 0) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    train(cfg, seed=seed, run_dir=tmp_path, log=rows.append)
    return rows


def without_timing(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in r.items() if k not in ("tokens_per_s", "peak_memory_mb")} for r in rows
    ]


def test_the_logging_contract(tmp_path: Path) -> None:
    rows = run(config(train={"memory_budgets": [4], "lr": 0.02}), tmp_path)
    assert all("step" in row for row in rows)
    per_step = [r for r in rows if "train_loss" in r]
    assert [r["step"] for r in per_step] == [1, 2, 3, 4, 5, 6]
    assert all({"lr", "grad_norm"} <= set(r) for r in per_step)
    evals = [r for r in rows[:-1] if "val_loss" in r]
    assert [r["step"] for r in evals] == [3]
    summary = rows[-1]
    assert summary["step"] == 6
    expected = {"val_loss", "val_ppl", "train_loss_smoothed", "tokens_per_s", "peak_memory_mb"}
    assert expected | {"n_params", "val_loss_budget_4"} <= set(summary)
    assert summary["val_ppl"] == pytest.approx(math.exp(summary["val_loss"]))
    assert summary["train_loss_smoothed"] == pytest.approx(
        sum(r["train_loss"] for r in per_step) / len(per_step)
    )
    assert summary["val_loss"] < per_step[0]["train_loss"] - 0.2  # it learned
    assert summary["val_loss_budget_4"] != summary["val_loss"]


def test_same_seed_same_metrics_bit_for_bit(tmp_path: Path) -> None:
    cfg = config()
    first, second = run(cfg, tmp_path), run(cfg, tmp_path)
    assert without_timing(first) == without_timing(second)
    assert without_timing(run(cfg, tmp_path, seed=1)) != without_timing(first)


def test_absurd_learning_rate_diverges(tmp_path: Path) -> None:
    cfg = config(train={"lr": 1e12, "grad_clip": 0.0, "warmup_steps": 0, "steps": 30})
    with pytest.raises(RunDiverged) as info:
        run(cfg, tmp_path)
    assert 1 <= info.value.step <= 30
    assert not math.isfinite(info.value.value)


def test_memory_penalty_is_logged(tmp_path: Path) -> None:
    rows = run(config(model={"memory_penalty_epsilon": 0.1}, train={"steps": 2}), tmp_path)
    assert all(0 < r["memory_loss"] <= 1 for r in rows if "train_loss" in r)


def test_grad_accumulation_and_plain_attention_run(tmp_path: Path) -> None:
    rows = run(config(model={"attention": "mha"}, train={"grad_accum_steps": 2}), tmp_path)
    assert math.isfinite(rows[-1]["val_loss"])


def test_schedule_warms_up_then_decays_to_the_floor() -> None:
    values = [
        lr_multiplier(s, total_steps=100, warmup_steps=10, decay="cosine", min_lr_ratio=0.1)
        for s in range(100)
    ]
    assert values[0] == pytest.approx(0.1) and values[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in itertools.pairwise(values[9:]))
    assert values[-1] == pytest.approx(0.1)
    linear = lr_multiplier(55, total_steps=106, warmup_steps=5, decay="linear", min_lr_ratio=0.0)
    assert linear == pytest.approx(0.5)


def test_the_schedule_scales_each_groups_own_lr(tmp_path: Path) -> None:
    from harness.training.loop import prepare

    setup = prepare(config(), seed=0, device="cpu")
    setup.optimizer.param_groups[1]["initial_lr"] = 0.5  # a group with its own base LR (muP)
    setup.scheduler.base_lrs[1] = 0.5
    for _ in range(4):
        setup.optimizer.step()
        setup.scheduler.step()
    first, second = (g["lr"] for g in setup.optimizer.param_groups)
    assert second / first == pytest.approx(0.5 / config().train.lr)


def test_checkpoint_round_trip_and_add_a_head_surgery(tmp_path: Path) -> None:
    from harness.training.loop import prepare

    run(config(train={"save_checkpoint": True, "steps": 2}), tmp_path)
    checkpoint = tmp_path / "checkpoint.pt"
    saved = torch.load(checkpoint, weights_only=True)["model"]

    resumed = prepare(config(train={"init_from": str(checkpoint)}), seed=7, device="cpu")
    for name, value in resumed.raw_model.state_dict().items():
        assert torch.equal(value, saved[name]), name

    surgery = config(model={"add_a_head": True}, train={"init_from": str(checkpoint)})
    grown = prepare(surgery, seed=7, device="cpu").raw_model.state_dict()
    assert any(".new_head." in name for name in grown)
    for name, value in grown.items():
        if ".new_head." not in name:
            assert torch.equal(value, saved[name]), name
    assert torch.all(grown["transformer.h.0.attn.new_head.c_proj.weight"] == 0)  # ko_zero

    with pytest.raises(UserError, match="shape"):
        prepare(
            config(model={"n_embd": 32}, train={"init_from": str(checkpoint)}), seed=0, device="cpu"
        )
    with pytest.raises(UserError, match="no such checkpoint"):
        prepare(config(train={"init_from": str(tmp_path / "none.pt")}), seed=0, device="cpu")


def test_config_errors_name_the_key() -> None:
    with pytest.raises(SpecError) as info:
        from_mapping(RunConfig, {"train": {"stepz": 3}}, where="base")
    assert info.value.key == "base.train.stepz"
    assert info.value.suggestion == "base.train.steps"
    with pytest.raises(SpecError, match=r"base\.train\.decay"):
        from_mapping(RunConfig, {"train": {"decay": "cosin"}}, where="base")
    with pytest.raises(SpecError, match=r"base\.data\.path"):
        from_mapping(RunConfig, {"data": {"kind": "text"}}, where="base")
    with pytest.raises(SpecError, match="vocab_size"):
        from_mapping(RunConfig, {"data": {"kind": "tokens", "path": "x"}}, where="base")


def test_importing_the_trainer_and_its_configs_does_not_import_torch() -> None:
    code = (
        "import sys, harness.training, harness.training.config, models, models.config;"
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
