"""Finished studies written through the real store, for the report tests: a nanoheads-like
sweep, an attention-zoo-like study with efficiency metrics, and a phased study root."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from harness.store import FileSystemStore, RunConfigFile, RunKey, StudyMeta
from harness.store.records import RunRecord


def write_study(
    directory: Path,
    finals: Mapping[tuple[str, int], Mapping[str, float]],
    *,
    baseline: str,
    metric: str = "val_loss",
    direction: str = "minimize",
    extra_meta: Mapping[str, Any] | None = None,
) -> Path:
    """A study directory whose runs report ``finals[(variant, seed)]`` as their last line."""
    variants = list(dict.fromkeys(v for v, _ in finals))
    seeds = sorted({s for _, s in finals})
    store = FileSystemStore(directory)
    store.write_study_meta(
        StudyMeta.from_dict(
            {
                "name": directory.name,
                "metric": metric,
                "direction": direction,
                "baseline": baseline,
                "variants": variants,
                "seeds": seeds,
                **(extra_meta or {}),
            }
        )
    )
    for (variant, seed), values in finals.items():
        store.write_config(
            RunConfigFile(
                study=directory.name, variant=variant, seed=seed, kind="command", config={},
                config_hash="0",
            )
        )  # fmt: skip
        line = {"step": 10, **values}
        run_dir = store.run_dir(RunKey(variant=variant, seed=seed))
        (run_dir / "metrics.jsonl").write_text(json.dumps(line) + "\n")
        store.write_record(
            RunRecord(
                study=directory.name, variant=variant, seed=seed, kind="command",
                config_hash="0", status="done", final_metrics=dict(values),
                started_at="2025-01-01T00:00:00Z", ended_at="2025-01-01T00:01:00Z",
                wall_time_s=60.0,
            )
        )  # fmt: skip
    return directory


def nanoheads_study(root: Path, *, slope: float = -0.5, seeds: int = 4, rng_seed: int = 11) -> Path:
    """val_loss = 3 + seed effect (sd 0.3) + slope · proportion + noise (sd 0.02), 5 points."""
    rng = np.random.default_rng(rng_seed)
    proportions = [0.0, 0.2, 0.4, 0.6, 0.8]
    seed_effect = rng.normal(0, 0.3, seeds)
    finals = {}
    points = {}
    for p in proportions:
        name = f"nanohead_proportion-{p:g}"
        points[name] = {"model.nanohead_proportion": p}
        for seed in range(seeds):
            value = 3 + seed_effect[seed] + slope * p + rng.normal(0, 0.02)
            finals[(name, seed)] = {"val_loss": float(value)}
    return write_study(
        root / "nanoheads",
        finals,
        baseline="nanohead_proportion-0",
        extra_meta={"sweep": points},
    )


def attention_study(root: Path, *, seeds: int = 4) -> Path:
    """Four mechanisms: mla is best but slow, gqa ties mha in quality and is cheaper, window
    is worse and cheapest in memory."""
    rng = np.random.default_rng(3)
    spec = {
        # variant: (loss effect, tokens/s, memory MB, kv bytes/token, params)
        "mha": (0.0, 1000.0, 900.0, 4096.0, 1.0e6),
        "gqa": (0.0, 1100.0, 850.0, 1024.0, 0.9e6),
        "mla": (-0.2, 700.0, 950.0, 512.0, 1.1e6),
        "window": (0.3, 1050.0, 600.0, 4096.0, 1.0e6),
    }
    seed_effect = rng.normal(0, 0.3, seeds)
    finals = {}
    for variant, (effect, speed, memory, kv, params) in spec.items():
        for seed in range(seeds):
            finals[(variant, seed)] = {
                "val_loss": float(3 + seed_effect[seed] + effect + rng.normal(0, 0.02)),
                "tokens_per_s": float(speed * (1 + rng.normal(0, 0.01))),
                "peak_memory_mb": memory,
                "kv_cache_bytes_per_token": kv,
                "n_params": params,
            }
    return write_study(root / "attention_mechanisms", finals, baseline="mha")


def phased_study(root: Path, *, seeds: int = 3) -> Path:
    """Two finished phases (attention: gqa separates; norm: a tie) and one still running."""
    rng = np.random.default_rng(5)
    phased = root / "ablation_phases"
    phases = {
        "attention": ("mha", {"mha": 0.0, "gqa": -0.3}),
        "norm": ("pre", {"pre": 0.0, "post": 0.0, "sandwich": 0.001}),
    }
    for name, (baseline, effects) in phases.items():
        seed_effect = rng.normal(0, 0.2, seeds)
        finals = {
            (variant, seed): {"val_loss": float(3 + seed_effect[seed] + e + rng.normal(0, 0.02))}
            for variant, e in effects.items()
            for seed in range(seeds)
        }
        write_study(phased / name, finals, baseline=baseline)
    write_study(
        phased / "window",
        {("full", 0): {"val_loss": 3.0}, ("w64", 0): {"val_loss": 3.1}},
        baseline="full",
    )
    decisions = [
        {"phase": "attention", "chosen": "gqa", "winner": "gqa", "separated": True,
         "tiers": [["gqa"], ["mha"]]},
        {"phase": "norm", "chosen": "pre", "winner": "post", "separated": False,
         "tiers": [["post", "pre", "sandwich"]]},
    ]  # fmt: skip
    (phased / "phases.json").write_text(json.dumps(decisions, indent=2))
    return phased
