"""The four study shapes of the seeds run end to end through the real ``harness study`` CLI.

Each study file in studies/ runs as written, shrunk by ``--set`` to a one-layer model trained for
three steps: the attention zoo (flat variants), head mixing (built-in variants
replacing a command list), nanoheads (a ``[sweep]``) and the phased ablation (``[[phases]]``,
each phase on the one before). Every run must finish and report the efficiency metrics the
report's quality-against-efficiency view reads.

Every run is a fresh worker process (~3 s of imports on an idle CPU), so the flat studies run
one seed and the sweep and the phased study, where seeds matter (the CI band, the decision
whether a winner separates), two: 50 runs, about 80 s on two idle cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.store import load_table

ROOT = Path(__file__).resolve().parents[2]
STUDIES = ROOT / "studies"
TINY = [
    "base.model.n_layer=1",
    "base.model.n_embd=32",
    "base.model.block_size=16",
    "base.data.val_sequences=8",
    "base.train.steps=3",
    "base.train.batch_size=4",
    "base.train.warmup_steps=1",
    "base.train.eval_interval=0",
]
FINAL_METRICS = {
    "val_loss",
    "tokens_per_s",
    "peak_memory_mb",
    "n_params",
    "kv_cache_bytes_per_token",
    "kv_cache_bytes_at_block_size",
    "grad_norm_mean",
    "grad_norm_max",
    "grad_norm_sd",
    "train_loss_roughness",
}

pytestmark = pytest.mark.slow


def run_study(
    name: str, runs: Path, *overrides: str, seeds: int
) -> subprocess.CompletedProcess[str]:
    sets = [arg for o in (*TINY, *overrides) for arg in ("--set", o)]
    argv = [
        sys.executable, "-m", "harness", "study", str(STUDIES / f"{name}.toml"), *sets,
        "--seeds", str(seeds), "--runs-dir", str(runs), "--device", "cpu", "--jobs", "2",
        "--threads", "1", "--no-wandb", "--no-progress",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WANDB_MODE": "disabled"}
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def assert_finished(study_dir: Path, variants: list[str], seeds: int) -> None:
    table = load_table(study_dir)
    assert sorted(set(table["variant"])) == sorted(variants)
    assert table.height == seeds * len(variants)  # every variant and seed, done
    assert set(table.columns) >= FINAL_METRICS
    assert table.select(sorted(FINAL_METRICS)).null_count().sum_horizontal().item() == 0


def test_attention_mechanisms(tmp_path: Path) -> None:
    run_study(
        "attention_mechanisms",
        tmp_path,
        "variants.sliding_window.model.window_size=8",
        seeds=1,
    )
    study = tmp_path / "attention_mechanisms"
    variants = ["mha", "gqa", "mqa", "mla", "sliding_window", "qk_norm", "selective"]
    assert_finished(study, variants, seeds=1)
    table = load_table(study)
    kv = dict(zip(table["variant"], table["kv_cache_bytes_per_token"], strict=True))
    assert kv["mqa"] < kv["gqa"] < kv["mha"] == kv["qk_norm"] == kv["selective"]
    whole = dict(zip(table["variant"], table["kv_cache_bytes_at_block_size"], strict=True))
    assert whole["sliding_window"] == whole["mha"] / 2  # a window of 8 keys of 16


def test_head_mixing(tmp_path: Path) -> None:
    run_study("head_mixing", tmp_path, seeds=1)
    assert_finished(
        tmp_path / "head_mixing", ["concat", "wsum", "perhead", "inputw", "sum"], seeds=1
    )


def test_nanoheads_sweep(tmp_path: Path) -> None:
    run_study("nanoheads", tmp_path, seeds=2)
    study = tmp_path / "nanoheads"
    points = [f"nanohead_proportion-{p}" for p in ("0", "0.2", "0.4", "0.6", "0.8")]
    assert_finished(study, points, seeds=2)
    meta = json.loads((study / "study.json").read_text())
    assert meta["sweep"] == {p: {"model.nanohead_proportion": float(p[20:])} for p in points}


def test_ablation_phases_run_in_order(tmp_path: Path) -> None:
    done = run_study("ablation_phases", tmp_path, seeds=2)
    study = tmp_path / "ablation_phases"
    decisions = json.loads((study / "phases.json").read_text())
    phases = ["attention", "norm_placement", "qk_norm", "sliding_window", "heads"]
    assert [d["phase"] for d in decisions] == phases
    variants = {
        "attention": ["mha", "gqa", "mla"],
        "norm_placement": ["pre", "post", "sandwich"],
        "qk_norm": ["off", "on"],
        "sliding_window": ["full", "window_32", "window_16"],
        "heads": ["heads_4", "heads_2", "heads_8"],
    }
    for phase in phases:
        assert_finished(study / phase, variants[phase], seeds=2)
    # each phase ran on the previous phase's choice
    attention = next(d for d in decisions if d["phase"] == "attention")["chosen"]
    norm_study = json.loads((study / "norm_placement" / "study.json").read_text())
    assert norm_study["base"]["model"].get("attention", "mha") == attention
    assert done.stdout.index("phase 1/5") < done.stdout.index("phase 5/5")
