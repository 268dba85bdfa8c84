"""Matched compute (issue 32, item 7): ``harness compare`` says when variants trained for
different amounts, and ``--at step=N`` / ``--at tokens=N`` compares them at a matched amount.

The studies are written through harness's own writers (the store, ``MetricsLog``, the
records' ``final_metrics``), as a run of a fixed time budget would leave them: the slow
variant gets 1,200 steps in the 10 minutes the baseline spends on 2,000.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.cli import main
from harness.store import FileSystemStore, RunConfigFile, RunKey, StudyMeta
from harness.store.metrics_file import MetricsLog
from harness.store.records import RunRecord, final_metrics


def write_timed_study(
    root: Path,
    *,
    steps: dict[str, int],
    tokens_per_step: dict[str, int] | None = None,
    seeds: int = 6,
    every: int = 100,
) -> Path:
    """Identical learning curves per step; each variant stops at its own step count, after
    10 minutes of wall time."""
    rng = np.random.default_rng(3)
    store = FileSystemStore(root / "timed")
    store.write_study_meta(
        StudyMeta.from_dict(
            {"name": "timed", "metric": "val_loss", "direction": "minimize",
             "baseline": "base", "variants": list(steps), "seeds": list(range(seeds))}
        )
    )  # fmt: skip
    seed_effect = rng.normal(0, 0.05, seeds)
    for variant, last in steps.items():
        for seed in range(seeds):
            key = RunKey(variant=variant, seed=seed)
            store.write_config(
                RunConfigFile(study="timed", variant=variant, seed=seed, kind="command",
                              config={}, config_hash="0")
            )  # fmt: skip
            rows = []
            for step in range(every, last + 1, every):
                loss = 3 + 300 / (step + 100) + seed_effect[seed] + rng.normal(0, 0.002)
                row = {"step": step, "val_loss": float(loss)}
                if tokens_per_step is not None:
                    row["tokens"] = step * tokens_per_step[variant]
                rows.append(row)
            with MetricsLog(store.paths(key).metrics) as log:
                log.write_rows(rows)
            store.write_record(
                RunRecord(study="timed", variant=variant, seed=seed, kind="command",
                          config_hash="0", status="done", final_metrics=final_metrics(rows),
                          started_at="2025-01-01T00:00:00Z", ended_at="2025-01-01T00:10:00Z",
                          wall_time_s=600.0 + seed)
            )  # fmt: skip
    return store.study_dir


def compare_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict:
    code = main(["compare", *args, "--format", "json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def error_of(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code = main(["compare", *args])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert "Traceback" not in captured.err
    return captured.err


def test_compare_says_the_variants_trained_for_different_amounts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = write_timed_study(tmp_path, steps={"base": 2000, "slow": 1200})
    data = compare_json([str(study)], capsys)
    notes = [w for w in data["warnings"] if w.startswith("unequal training")]
    assert notes == [
        "unequal training: slow ran 1,200 steps, the baseline base 2,000 (median wall time "
        "10.0, 10.0 min, in the order base, slow): compared at the end, not at matched "
        "compute; to compare at a matched amount of training use --at step=N with N at most "
        "1,200 (the fewest steps a run reached)"
    ]
    # At the end the slow variant is worse: 200 more steps of the same curve lower the loss.
    assert data["comparisons"][0]["verdict"] == "worse"


def test_at_step_compares_at_matched_steps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = write_timed_study(tmp_path, steps={"base": 2000, "slow": 1200})
    data = compare_json([str(study), "--at", "step=1200"], capsys)
    assert not [w for w in data["warnings"] if w.startswith("unequal training")]
    comparison = data["comparisons"][0]
    assert comparison["verdict"] != "worse"  # the same curve at the same step
    assert abs(comparison["diff"]) < 0.01
    # The value last logged at or before N: step 1,150 reads the values logged at 1,100.
    at_1150 = compare_json([str(study), "--at", "step=1150"], capsys)["comparisons"][0]
    at_1100 = compare_json([str(study), "--agg", "step:1100"], capsys)["comparisons"][0]
    assert at_1150["diff"] == pytest.approx(at_1100["diff"], abs=1e-12)


def test_at_tokens_compares_at_matched_tokens(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # slow sees twice the tokens per step: at 1,600,000 tokens base is at step 1,600, slow at
    # 800; the curves are the same per step, so at matched tokens slow has the higher loss.
    study = write_timed_study(
        tmp_path, steps={"base": 2000, "slow": 1200}, tokens_per_step={"base": 1000, "slow": 2000}
    )
    data = compare_json([str(study)], capsys)
    assert any("--at tokens=N with N at most 2,000,000" in w for w in data["warnings"])
    at_tokens = compare_json([str(study), "--at", "tokens=1600000"], capsys)["comparisons"][0]
    at_steps = compare_json([str(study), "--at", "step=800"], capsys)["comparisons"][0]
    # slow at step 800 against base at step 1,600 = (slow - base) at matched tokens.
    assert at_tokens["diff"] > 0.1 and at_steps["diff"] == pytest.approx(0.0, abs=0.01)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--at", "step=1500"], "3 run(s) never reached 1,500 steps (e.g. slow seed 0 stopped at "
         "1,200)"),
        (["--at", "tokens=1000"], "--at tokens=N needs a 'tokens' metric"),
        (["--at", "flops=3"], "--at flops=3: unknown axis 'flops'"),
        (["--at", "step=100", "--agg", "min"], "--at step=100 and --agg min both say"),
        (["--at", "step=100", "--over-steps"], "--at do(es) not apply with --over-steps"),
    ],
)  # fmt: skip
def test_bad_matched_compute_requests_exit_2(
    tmp_path: Path, extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    study = write_timed_study(tmp_path, steps={"base": 2000, "slow": 1200}, seeds=3)
    assert message in error_of([str(study), *extra], capsys)


def test_equal_training_says_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    study = write_timed_study(tmp_path, steps={"base": 1000, "same": 1000}, seeds=3)
    data = compare_json([str(study)], capsys)
    assert not [w for w in data["warnings"] if "unequal training" in w]


def test_the_amounts_come_from_the_end_of_long_metrics_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Logged every step: each file is far longer than the block read from its end.
    study = write_timed_study(tmp_path, steps={"base": 2000, "slow": 1999}, seeds=2, every=1)
    metrics = FileSystemStore(study).paths(RunKey(variant="base", seed=0)).metrics
    assert metrics.stat().st_size > 20_000
    data = compare_json([str(study)], capsys)
    assert any(
        w.startswith("unequal training: slow ran 1,999 steps, the baseline base 2,000")
        for w in data["warnings"]
    )


def test_rows_written_after_the_record_do_not_count_as_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The record counts the bytes of metrics.jsonl its finals came from (metrics_bytes); a
    # process left running that appends rows later changes no curve, nor how far a run got.
    study = write_timed_study(tmp_path, steps={"base": 1200, "other": 1200}, seeds=3)
    store = FileSystemStore(study)
    for seed in range(3):
        key = RunKey(variant="other", seed=seed)
        metrics = store.paths(key).metrics
        record = store.read_record(key)
        assert record is not None
        store.write_record(
            RunRecord.from_dict({**record.to_dict(), "metrics_bytes": metrics.stat().st_size})
        )
        with metrics.open("a") as handle:
            handle.write(json.dumps({"step": 5000, "val_loss": 3.0}) + "\n")
    data = compare_json([str(study)], capsys)
    assert not [w for w in data["warnings"] if w.startswith("unequal training")]
