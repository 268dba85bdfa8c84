"""``harness coordcheck`` saves its result where ``harness report`` finds it and logs one wandb
run per (width, seed), as a study does (real wandb, offline, read back from the files it
wrote); ``harness report`` on the check's folder draws the coord-check plot.

One small check (three widths, one layer, three steps, two seeds) keeps this quick: the verdict
itself is the business of test_coordcheck_command.py.
"""

from __future__ import annotations

import json
import re
from unittest import mock

import polars as pl
import pytest

from harness.cli import main
from harness.store.command_results import read_command_result
from harness.worker.wandb_source import decode_log, read_run_dir

SMALL = ["--widths", "32,64,128", "--n-layer", "1", "--steps", "3", "--seeds", "2"]


def _summary(run) -> dict:  # type: ignore[no-untyped-def,type-arg]
    """A run's summary as wandb wrote it in its ``.wandb`` log, strings included (wandb 0.31
    ships no public reader of offline logs; this is harness's one decoder, whose public
    ``read_run_dir`` keeps only the numbers)."""
    return decode_log(next(run.path.glob("*.wandb")).read_bytes()).summary


@pytest.fixture(scope="module")
def check(tmp_path_factory):  # type: ignore[no-untyped-def]
    """One small check, wandb offline: its folder, exit code and printed JSON."""
    out = tmp_path_factory.mktemp("coordcheck") / "check"
    with mock.patch.dict("os.environ", {"WANDB_MODE": "offline"}):
        import contextlib
        import io

        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            code = main(["coordcheck", *SMALL, "--format", "json", "--out", str(out)])
    return out, code, json.loads(printed.getvalue())


def test_the_result_is_saved_as_printed_with_the_plot_data(check):
    out, code, printed = check
    saved = read_command_result(out, "coordcheck")
    assert saved is not None
    assert saved["exit_code"] == code == printed["exit_code"]
    assert {k: saved[k] for k in printed} == printed  # everything --format json printed
    records = pl.read_csv(out / "coordcheck.csv").filter(pl.col("activation") != "loss")
    means = pl.DataFrame(saved["means"])
    assert means.height == records.select("activation", "layer", "step", "width").unique().height
    one = records.filter(
        (pl.col("activation") == "mlp_out") & (pl.col("layer") == 0) & (pl.col("step") == 2)
        & (pl.col("width") == 64)
    )  # fmt: skip
    mean = means.filter(
        (pl.col("activation") == "mlp_out") & (pl.col("layer") == 0) & (pl.col("step") == 2)
        & (pl.col("width") == 64)
    )  # fmt: skip
    assert mean["value"][0] == pytest.approx(one["value"].mean())
    assert mean["seeds"][0] == printed["seeds"]
    assert len(saved["exponents"]) == pl.read_csv(out / "exponents.csv").height


def test_one_wandb_run_per_width_and_seed_grouped_with_the_verdict(check):
    out, code, printed = check
    runs = [read_run_dir(p) for p in sorted((out / "wandb").glob("offline-run-*"))]
    widths, seeds = printed["widths"], printed["seeds"]
    assert sorted(run.name for run in runs) == sorted(
        f"w{w}-s{s}" for w in widths for s in range(seeds)
    )
    assert len({run.group for run in runs}) == 1 and runs[0].group.startswith("check-")
    records = pl.read_csv(out / "coordcheck.csv")
    for run in runs:
        summary = _summary(run)
        assert summary["check/verdict"] == printed["verdict"]
        assert summary["check/exit_code"] == code
        worst = printed["worst"][0]
        assert summary["check/worst_activation"] == worst["activation"]
        assert summary["check/worst_slope"] == pytest.approx(worst["slope"])
        width, seed = run.config["width"], run.config["seed"]
        assert run.name == f"w{width}-s{seed}" and run.config["parametrization"] == "mup"
        history = [row for row in run.rows if "mean_abs/mlp_out/0" in row]
        assert [row["step"] for row in history] == [0, 1, 2]  # one row per training step
        expected = records.filter(
            (pl.col("width") == width) & (pl.col("seed") == seed)
            & (pl.col("activation") == "mlp_out") & (pl.col("layer") == 0)
        ).sort("step")["value"].to_list()  # fmt: skip
        assert [row["mean_abs/mlp_out/0"] for row in history] == pytest.approx(expected)
        assert run.exit_code == 0


def test_no_wandb_logs_nothing(tmp_path):
    with mock.patch.dict("os.environ", {"WANDB_MODE": "offline"}):
        code = main(["coordcheck", *SMALL, "--no-wandb", "--out", str(tmp_path)])
    assert code in (0, 1, 3)
    assert not (tmp_path / "wandb").exists()
    assert read_command_result(tmp_path, "coordcheck") is not None  # saved all the same


def test_report_draws_the_coord_check_plot_next_to_the_verdict(check, tmp_path, capsys):
    out, _, printed = check
    assert main(["report", str(out), "--output-dir", str(tmp_path)]) == 0
    page = (tmp_path / "report.html").read_text()
    assert page.index(f">{printed['verdict']}</td>") < page.index('<svg class="coordcheck-plot"')
    svg = re.search(r'<svg class="coordcheck-plot".*?</svg>', page, re.S)
    assert svg is not None
    panels = re.findall(r'<g class="panel".*?</g>\n(?=<g class="panel"|</svg>)', svg[0], re.S)
    saved = read_command_result(out, "coordcheck")
    assert saved is not None
    assert len(panels) == len(saved["exponents"])  # one panel per activation and layer
    steps = printed["steps"]
    for panel in panels:
        lines = re.findall(r'<g class="step-line" data-step="(\d+)"', panel)
        assert lines == [str(step) for step in range(steps)]  # one line per step
        assert panel.count("<polyline") == steps
        assert ">width</text>" in panel and ">mean |x|</text>" in panel  # axis labels
    worst = [p for p in panels if 'data-worst="true"' in p]
    assert len(worst) == 1
    first = printed["worst"][0]
    assert f'data-activation="{first["activation"]}"' in worst[0]
    assert f'data-layer="{"" if first["layer"] is None else first["layer"]}"' in worst[0]
    assert (tmp_path / "report_coordcheck.svg").is_file()
    assert "report_coordcheck.svg" in (tmp_path / "report.md").read_text()


def test_report_finds_a_check_by_its_name_under_the_runs_root(check, tmp_path, monkeypatch):
    out, _, _ = check
    runs = tmp_path / "runs"
    (runs / "coordcheck").mkdir(parents=True)
    (runs / "coordcheck" / "mine").symlink_to(out, target_is_directory=True)
    code = main(["report", "mine", "--runs-dir", str(runs), "--output-dir", str(tmp_path)])
    assert code == 0 and (tmp_path / "report.html").is_file()
