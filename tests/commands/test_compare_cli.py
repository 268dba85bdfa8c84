"""``harness compare``: inputs (study directory, CSV, parquet, JSONL), formats, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from analysis import compare
from harness.cli import main
from harness.store import FileSystemStore, RunConfigFile, RunKey, StudyMeta
from harness.store.records import RunRecord

REPO = Path(__file__).resolve().parents[2]
SLEEP_GROUP1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_GROUP2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]


def sleep_table() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "variant": ["control"] * 10 + ["drug"] * 10,
            "seed": list(range(10)) * 2,
            "extra": SLEEP_GROUP2 + SLEEP_GROUP1,
            "other": [1.0] * 20,
        }
    )


def write_study(
    root: Path, name: str = "demo", effects: dict[str, float] | None = None, seeds: int = 4
) -> Path:
    """A finished study through the real store: study.json, config, metrics and record."""
    effects = effects or {"base": 0.0, "good": -0.2, "same": 0.0}
    rng = np.random.default_rng(0)
    store = FileSystemStore(root / name)
    store.write_study_meta(
        StudyMeta.from_dict(
            {
                "name": name,
                "metric": "val_loss",
                "direction": "minimize",
                "baseline": "base",
                "variants": list(effects),
                "seeds": list(range(seeds)),
            }
        )
    )
    seed_effect = rng.normal(0, 0.5, seeds)
    for variant, effect in effects.items():
        for seed in range(seeds):
            store.write_config(
                RunConfigFile(
                    study=name,
                    variant=variant,
                    seed=seed,
                    kind="command",
                    config={},
                    config_hash="0",
                )
            )
            rows = []
            for step in (0, 10, 20):
                loss = 3 + 5 / (1 + step) + seed_effect[seed] + effect + rng.normal(0, 0.01)
                rows.append({"step": step, "train_loss": loss, "val_loss": loss + 0.1})
            rows.append({"step": 20, "tokens_per_s": 1000.0 + seed, "peak_memory_mb": 500.0})
            run_dir = store.run_dir(RunKey(variant=variant, seed=seed))
            (run_dir / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
            final: dict[str, float] = {}
            for row in rows:
                final.update({k: float(v) for k, v in row.items() if k != "step"})
            store.write_record(
                RunRecord(
                    study=name,
                    variant=variant,
                    seed=seed,
                    kind="command",
                    config_hash="0",
                    status="done",
                    final_metrics=final,
                    started_at="2025-01-01T00:00:00Z",
                    ended_at="2025-01-01T00:01:00Z",
                    wall_time_s=60.0,
                )
            )
    return store.study_dir


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["compare", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("suffix", ["csv", "parquet", "jsonl"])
def test_json_output_equals_the_python_api(
    tmp_path: Path, suffix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / f"results.{suffix}"
    table = sleep_table()
    {"csv": table.write_csv, "parquet": table.write_parquet, "jsonl": table.write_ndjson}[suffix](
        path
    )
    code, out, _ = run_cli(
        [str(path), "--metric", "extra", "--baseline", "control", "--format", "json"], capsys
    )
    assert code == 0
    expected = compare(table, metric="extra", baseline="control").to_dict()
    assert json.loads(out) == expected
    assert f"{expected['comparisons'][0]['p_value']:.4g}" == "0.002833"


def test_table_markdown_and_csv_formats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "results.csv"
    sleep_table().write_csv(path)
    base = [str(path), "--metric", "extra", "--baseline", "control"]
    code, out, _ = run_cli(base, capsys)
    assert code == 0
    assert "paired t-test by seed" in out and "better" in out and "tiers" in out
    code, out, _ = run_cli([*base, "--format", "markdown"], capsys)
    assert "| drug | 10 | -1.58 | [-2.46, -0.70] |" in out
    code, out, _ = run_cli([*base, "--format", "csv", "--unpaired"], capsys)
    frame = pl.read_csv(out.encode())
    assert frame["verdict"].to_list() == ["baseline", "indistinguishable"]
    assert f"{frame['p_value'][1]:.4g}" == "0.07939"


def test_first_variant_is_the_default_baseline_for_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "results.csv"
    sleep_table().drop("other").write_csv(path)  # one metric column: no --metric needed
    code, out, err = run_cli([str(path), "--format", "json"], capsys)
    assert code == 0 and "baseline: control" in err
    assert json.loads(out)["comparisons"][0]["baseline"] == "control"


@pytest.mark.parametrize(
    ("extra_args", "message"),
    [
        (["--metric", "extr"], "no metric 'extr'"),
        (["--metric", "extra", "--baseline", "placebo"], "unknown baseline variant 'placebo'"),
        (["--metric", "extra", "--agg", "median"], "unknown aggregation"),
        (["--metric", "extra", "--agg", "last:5"], "needs curves"),
        ([], "pass --metric"),
    ],
)
def test_bad_input_exits_2_with_a_message(
    tmp_path: Path, extra_args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "results.csv"
    sleep_table().write_csv(path)
    code, out, err = run_cli([str(path), *extra_args], capsys)
    assert code == 2 and message in err and out == ""
    assert "Traceback" not in err


def test_fewer_than_two_seeds_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "results.csv"
    sleep_table().filter(pl.col("seed") == 0).write_csv(path)
    code, _, err = run_cli([str(path), "--metric", "extra"], capsys)
    assert code == 2 and "fewer than 2 seeds" in err and "nothing can be compared" in err


def test_missing_variant_column_and_unknown_file_type_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "results.csv"
    sleep_table().drop("variant").write_csv(path)
    code, _, err = run_cli([str(path), "--metric", "extra"], capsys)
    assert code == 2 and "no column variant" in err
    odd = tmp_path / "results.xlsx"
    odd.write_text("x")
    code, _, err = run_cli([str(odd)], capsys)
    assert code == 2 and "unknown file type" in err
    code, _, err = run_cli([str(tmp_path / "nowhere")], capsys)
    assert code == 2 and "not a study directory" in err


def test_study_directory_with_study_defaults(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = write_study(tmp_path)
    code, out, _ = run_cli([str(study), "--format", "json"], capsys)
    assert code == 0
    data = json.loads(out)
    assert data["metric"] == "val_loss" and data["paired"] is True
    verdicts = {c["variant"]: c["verdict"] for c in data["comparisons"]}
    assert verdicts == {"good": "better", "same": "indistinguishable"}
    assert data["tiers"][0] == ["good"]
    assert all(c["baseline"] == "base" for c in data["comparisons"])


def test_no_path_uses_the_most_recent_study_under_the_runs_root(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_study(tmp_path, name="older")
    newer = write_study(tmp_path, name="newer", effects={"base": 0.0, "x": 0.3})
    later = newer.stat().st_mtime + 10
    os.utime(newer / "study.json", (later, later))
    code, out, _ = run_cli(["--runs-dir", str(tmp_path), "--format", "json"], capsys)
    assert code == 0 and [c["variant"] for c in json.loads(out)["comparisons"]] == ["x"]
    monkeypatch.setenv("HARNESS_RUNS_DIR", str(tmp_path))
    code, out, _ = run_cli(["--format", "json"], capsys)
    assert code == 0 and [c["variant"] for c in json.loads(out)["comparisons"]] == ["x"]
    code, _, err = run_cli(["--runs-dir", str(tmp_path / "empty")], capsys)
    assert code == 2 and "no study found" in err


def test_curve_aggregations_from_a_study_and_from_a_long_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = write_study(tmp_path)
    code, out, _ = run_cli(
        [str(study), "--metric", "train_loss", "--agg", "step:10", "--format", "json"], capsys
    )
    assert code == 0 and json.loads(out)["metric"] == "train_loss"
    from harness.store import load_curves

    long_file = tmp_path / "curves.parquet"
    load_curves(study).write_parquet(long_file)
    args = ["--metric", "train_loss", "--agg", "step:10", "--baseline", "base", "--format", "json"]
    code, from_file, _ = run_cli([str(long_file), *args], capsys)
    assert code == 0 and json.loads(from_file) == json.loads(out)
    code, _, err = run_cli([str(study), "--metric", "train_loss", "--agg", "step:15"], capsys)
    assert code == 2 and "nearest logged steps: 10, 20" in err


def test_compare_imports_neither_torch_nor_the_slow_scipy_modules(tmp_path: Path) -> None:
    # scipy.stats alone takes ~1 s to import: half the 2 s budget for a 100,000-row table
    path = tmp_path / "results.csv"
    sleep_table().write_csv(path)
    code = (
        "import sys\n"
        "from harness.cli import main\n"
        f"assert main(['compare', {str(path)!r}, '--metric', 'extra', '--format', 'json']) == 0\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "assert 'matplotlib' not in sys.modules\n"
        "assert 'scipy.stats' not in sys.modules, 'scipy.stats was imported'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_compare_options_drive_the_comparison_without_argparse(tmp_path: Path) -> None:
    from harness.results.comparison import CompareOptions, compare_prepared, prepare

    study = write_study(tmp_path)
    options = CompareOptions(alpha=0.1, paired=False, correction="bh")
    prepared = prepare(str(study), options)
    assert (prepared.metric, prepared.baseline, prepared.direction) == (
        "val_loss",
        "base",
        "minimize",
    )  # the study's defaults
    result = compare_prepared(prepared, options)
    expected = compare(
        prepared.table, metric="val_loss", baseline="base", alpha=0.1, paired=False,
        correction="bh",
    )  # fmt: skip
    assert result.to_dict() == expected.to_dict()
    assert result.to_dict()["paired"] is False
    overridden = prepare(str(study), CompareOptions(baseline="same", direction="maximize"))
    assert (overridden.baseline, overridden.direction) == ("same", "maximize")


# -- --over-steps (issue 23) ------------------------------------------------------------------


def test_over_steps_json_is_the_python_api_on_the_studys_curves(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from analysis import compare_over_steps
    from harness.store import load_curves

    study = write_study(tmp_path, seeds=7)
    code, out, _ = run_cli(
        [str(study), "--over-steps", "--metric", "train_loss", "--format", "json"], capsys
    )
    assert code == 0
    data = json.loads(out)
    expected = compare_over_steps(
        load_curves(study), metric="train_loss", baseline="base", rng=np.random.default_rng(0)
    ).to_dict()
    assert data == expected
    assert [(r["variant"], r["step"]) for r in data["steps"]] == [
        (v, s) for v in ("good", "same") for s in (0, 10, 20)
    ]
    for row in data["steps"]:
        assert set(row) >= {"diff", "ci_low", "ci_high", "band_low", "band_high"}
        assert row["band_low"] <= row["ci_low"] <= row["diff"] <= row["ci_high"] <= row["band_high"]
    # good is 0.2 lower at every step with noise sd 0.01: separated from the first step.
    assert data["separated_from"] == {"good": 0, "same": None}
    assert data["variants"][0]["separated_side"] == "better"
    assert data["smoothing"] is None


def test_over_steps_table_markdown_csv_and_smoothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = write_study(tmp_path, seeds=7)
    base = [str(study), "--over-steps", "--metric", "train_loss"]
    code, out, _ = run_cli(base, capsys)
    assert code == 0
    assert "when the band separates from zero" in out and "0 (better)" in out and "never" in out
    code, out, _ = run_cli([*base, "--format", "markdown"], capsys)
    assert code == 0 and "| variant | seeds | steps | separated from |" in out
    code, out, _ = run_cli([*base, "--format", "csv"], capsys)
    frame = pl.read_csv(out.encode())
    assert frame.columns[:3] == ["variant", "step", "n"] and frame.height == 6
    code, out, _ = run_cli([*base, "--format", "json", "--smoothing", "0.5"], capsys)
    data = json.loads(out)
    # The weight is per logging interval of the coarsest run (10 steps here): half-life 10.
    assert data["smoothing"] == {
        "kind": "ema_steps",
        "half_life_steps": pytest.approx(10.0),
        "weight": 0.5,
        "interval": 10,
    }
    assert "half-life of 10 steps (weight 0.5 per 10-step logging interval" in data["method"]
    code, out, _ = run_cli([*base, "--format", "json", "--smoothing", "25"], capsys)
    assert json.loads(out)["smoothing"]["half_life_steps"] == 25.0


@pytest.mark.parametrize(
    ("extra_args", "message"),
    [
        (["--agg", "step:10"], "--agg do(es) not apply with --over-steps"),
        (["--unpaired", "--margin", "0.1"], "--margin, --unpaired do(es) not apply"),
        (["--smoothing", "-0.5"], "--smoothing must be a weight in [0, 1) or a half-life"),
        (["--metric", "tokens_per_s"], "logged at one step only"),
        (["--baseline", "nope"], "baseline 'nope' logged no train_loss"),
    ],
)
def test_over_steps_bad_input_exits_2(
    tmp_path: Path, extra_args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    study = write_study(tmp_path)
    args = [str(study), "--over-steps", "--metric", "train_loss", *extra_args]
    code, out, err = run_cli(args, capsys)
    assert code == 2 and message in err and out == "" and "Traceback" not in err


def test_over_steps_needs_curves_and_imports_nothing_heavy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "results.csv"
    sleep_table().write_csv(path)
    code, _, err = run_cli([str(path), "--metric", "extra", "--over-steps"], capsys)
    assert code == 2 and "--over-steps needs curves" in err
    study = write_study(tmp_path)
    code = (
        "import sys\n"
        "from harness.cli import main\n"
        f"assert main(['compare', {str(study)!r}, '--over-steps', '--format', 'json']) == 0\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "assert 'matplotlib' not in sys.modules\n"
        "assert 'scipy.stats' not in sys.modules, 'scipy.stats was imported'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_lost_runs_of_a_study_are_counted_and_guard_the_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 18: 'good' diverged on 2 of 6 seeds; the store's statuses reach the comparison."""
    study = write_study(tmp_path, effects={"base": 0.0, "good": -0.2}, seeds=6)
    store = FileSystemStore(study)
    for seed in (4, 5):
        key = RunKey(variant="good", seed=seed)
        record = store.read_record(key)
        assert record is not None
        store.write_record(
            RunRecord(**{**record.__dict__, "status": "diverged", "final_metrics": {}})
        )
    from harness.store import load_run_statuses, load_table

    assert load_table(study).height == 10  # done runs only, as before
    statuses = load_run_statuses(study)
    assert statuses.filter(pl.col("status") == "diverged").height == 2
    code, out, _ = run_cli([str(study), "--metric", "val_loss", "--format", "json"], capsys)
    data = json.loads(out)
    assert code == 0
    assert {r["variant"]: r["diverged"] for r in data["runs"]} == {"base": 0, "good": 2}
    assert data["runs"][1]["planned"] == 6 and data["runs"][1]["done"] == 4
    assert data["comparisons"][0]["verdict"] != "better"
    assert data["comparisons"][0]["withheld"] == "lost_runs"
    code, table_out, _ = run_cli([str(study), "--metric", "val_loss"], capsys)
    assert code == 0 and "diverged" in table_out and "lost runs" in table_out
    code, sequential_out, _ = run_cli(
        [str(study), "--metric", "val_loss", "--sequential", "--format", "json"], capsys
    )
    assert code == 0 and json.loads(sequential_out)["comparisons"][0]["lost_runs"] == 2
