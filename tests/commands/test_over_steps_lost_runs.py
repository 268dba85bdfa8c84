"""``harness compare --over-steps`` on a study whose baseline lost runs: the run statuses reach
the curves analysis, so the worst-case rule applies there too (issue 32, item 3). The study is
written through the store's own writers, as the runner leaves a diverged run (a record with
status "diverged" and no curve)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.cli import main
from harness.store import FileSystemStore, RunConfigFile, RunKey, StudyMeta
from harness.store.metrics_file import MetricsLog
from harness.store.records import RunRecord, final_metrics


def write_study_with_lost_baseline_runs(root: Path) -> Path:
    rng = np.random.default_rng(4)
    store = FileSystemStore(root / "lossy")
    store.write_study_meta(
        StudyMeta.from_dict(
            {"name": "lossy", "metric": "loss", "direction": "minimize", "baseline": "base",
             "variants": ["base", "v"], "seeds": list(range(8))}
        )
    )  # fmt: skip
    steps = np.arange(0, 11)
    for seed in range(8):
        variant = 3 + np.exp(-steps / 3) + 0.2 * seed + rng.normal(0, 0.01, steps.size)
        baseline = variant - 0.3 + rng.normal(0, 0.02, steps.size)
        for name, curve in (("base", baseline), ("v", variant)):
            key = RunKey(variant=name, seed=seed)
            store.write_config(
                RunConfigFile(study="lossy", variant=name, seed=seed, kind="command", config={},
                              config_hash="0")
            )  # fmt: skip
            common = {"study": "lossy", "variant": name, "seed": seed, "kind": "command",
                      "config_hash": "0", "started_at": "2025-01-01T00:00:00Z",
                      "ended_at": "2025-01-01T00:01:00Z", "wall_time_s": 60.0}  # fmt: skip
            if name == "base" and seed >= 5:
                store.write_record(
                    RunRecord(**common, status="diverged", error="loss is nan", diverged_step=3)
                )
                continue
            rows = [{"step": int(s), "loss": float(x)} for s, x in zip(steps, curve, strict=True)]
            with MetricsLog(store.paths(key).metrics) as log:
                log.write_rows(rows)
            store.write_record(
                RunRecord(**common, status="done", final_metrics=final_metrics(rows))
            )
    return store.study_dir


def test_over_steps_applies_the_worst_case_rule_to_the_baselines_lost_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = write_study_with_lost_baseline_runs(tmp_path)
    code = main(["compare", str(study), "--over-steps", "--format", "json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    data = json.loads(captured.out)
    variant = data["variants"][0]
    # Before: separated_from 0 ("worse") from the 5 surviving pairs, with no label.
    assert variant["survivors_only"] is True and variant["withheld"] == "lost_runs"
    assert data["separated_from"] == {"v": None}
    assert any("lost run of the baseline base counts as the worst" in w for w in data["warnings"])
    code = main(["compare", str(study), "--over-steps"])
    assert "v †" in capsys.readouterr().out
