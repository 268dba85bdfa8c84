"""bisect and regress leave their result where ``harness report`` finds it, print it as JSON
with the exit code, and log one wandb run per tested commit (real wandb, offline, read back
from the files it wrote); the report of the commits study draws the bisect path.

A small synthetic repository (6 commits, a regression of 1.0 planted at commit 3, nothing
crashing; see bisect_synthetic_repo.py) keeps this quick.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import sys
from pathlib import Path
from unittest import mock

import pytest

from harness.cli import main
from harness.store.command_results import read_command_result
from harness.worker.wandb_source import decode_log, read_run_dir

sys.path.insert(0, str(Path(__file__).parent))
from bisect_synthetic_repo import build

CULPRIT = 3


def _run(argv: list[str]) -> tuple[int, dict]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(argv)
    text = out.getvalue()
    return code, json.loads(text) if text.strip().startswith("{") else {}


def _wandb_runs(study_dir: Path) -> list:  # type: ignore[type-arg]
    return [read_run_dir(path) for path in sorted((study_dir / "wandb").glob("offline-run-*"))]


def _summary(run) -> dict:  # type: ignore[no-untyped-def,type-arg]
    """A run's summary as wandb wrote it in its ``.wandb`` log, strings included (wandb 0.31
    ships no public reader of offline logs; this is harness's one decoder, whose public
    ``read_run_dir`` keeps only the numbers)."""
    return decode_log(next(run.path.glob("*.wandb")).read_bytes()).summary


@pytest.fixture(scope="module")
def logged(tmp_path_factory):  # type: ignore[no-untyped-def]
    """A bisect and a regress over the synthetic repository, wandb offline."""
    synthetic = build(
        tmp_path_factory.mktemp("logged"), n_commits=6, culprit=CULPRIT, crash=99, regression=1.0
    )
    common = ["--repo", str(synthetic.repo), "--runs-dir", str(synthetic.runs)]
    with mock.patch.dict("os.environ", {"WANDB_MODE": "offline"}):
        bisect = _run([
            "bisect", str(synthetic.study), "--good", synthetic.shas[0], "--bad", "HEAD",
            "--format", "json", *common,
        ])  # fmt: skip
        regress = _run([
            "regress", str(synthetic.study), "--against", synthetic.shas[CULPRIT - 1],
            "--format", "json", "--seeds", "4", *common,
        ])  # fmt: skip
    return synthetic, bisect, regress


def test_bisect_json_has_the_verdict_commits_intervals_and_exit_code(logged):
    synthetic, (code, result), _ = logged
    assert code == 0 and result["exit_code"] == 0
    assert result["outcome"] == "found" and result["first_bad"] == synthetic.shas[CULPRIT]
    assert result["good"] == synthetic.shas[0] and result["bad"] == synthetic.shas[-1]
    probes = [t for t in result["tested"] if t["role"] != "good endpoint"]
    assert probes and all(t["vs_good"]["ci_low"] <= t["vs_good"]["ci_high"] for t in probes)
    culprit = next(t for t in result["tested"] if t["position"] == CULPRIT)
    assert culprit["verdict"] == "bad" and culprit["vs_good"]["ci_low"] > 0


def test_bisect_saves_what_it_printed_in_the_commits_study(logged):
    _, (_, result), _ = logged
    saved = read_command_result(Path(result["study_dir"]), "bisect")
    assert saved is not None
    assert {k: v for k, v in saved.items() if k not in ("command", "version")} == result


def test_bisect_logs_one_wandb_run_per_tested_commit_with_its_verdict(logged):
    synthetic, (_, result), _ = logged
    group = f"bisect-{synthetic.shas[0][:12]}..{synthetic.shas[-1][:12]}"
    runs = [run for run in _wandb_runs(Path(result["study_dir"])) if run.group == group]
    assert len(runs) == len(result["tested"])
    by_name = {run.name: run for run in runs}
    for tested in result["tested"]:
        run = by_name[f"{tested['position']}-{tested['short']}"]
        summary = _summary(run)
        assert summary["verdict"] == tested["verdict"]
        assert summary["bisect/outcome"] == "found"
        assert summary["bisect/first_bad"] == synthetic.shas[CULPRIT]
        assert run.config["commit"] == tested["commit"]
        assert run.config["role"] == tested["role"]
        if "vs_good" in tested:
            assert summary["ci_low"] == pytest.approx(tested["vs_good"]["ci_low"])
            assert summary["ci_high"] == pytest.approx(tested["vs_good"]["ci_high"])
        assert run.exit_code == 0


def test_regress_json_saved_and_logged(logged):
    synthetic, _, (code, result) = logged
    assert code == 1 and result["exit_code"] == 1 and result["outcome"] == "regression"
    study_dir = Path(result["study_dir"])
    saved = read_command_result(study_dir, "regress")
    assert saved is not None and saved["exit_code"] == 1
    assert saved["comparison"] == result["comparison"]
    head, reference = synthetic.shas[-1][:12], synthetic.shas[CULPRIT - 1][:12]
    runs = [r for r in _wandb_runs(study_dir) if r.group == f"regress-{head}-vs-{reference}"]
    assert sorted(r.name for r in runs) == [f"head-{head}", f"reference-{reference}"]
    head_run = next(r for r in runs if r.name == f"head-{head}")
    assert _summary(head_run)["regress/outcome"] == "regression"
    assert _summary(head_run)["verdict"] == "regression"
    assert _summary(head_run)["diff"] == pytest.approx(result["comparison"]["diff"])


def test_no_wandb_logs_nothing(logged, tmp_path):
    synthetic, (_, result), _ = logged
    before = len(_wandb_runs(Path(result["study_dir"])))
    with mock.patch.dict("os.environ", {"WANDB_MODE": "offline"}):
        code, again = _run([
            "bisect", str(synthetic.study), "--good", synthetic.shas[0], "--bad", "HEAD",
            "--format", "json", "--no-wandb", "--repo", str(synthetic.repo),
            "--runs-dir", str(synthetic.runs),
        ])  # fmt: skip
    assert code == 0 and again["measured_now"] == 0
    assert len(_wandb_runs(Path(result["study_dir"]))) == before


def test_report_of_the_commits_study_draws_the_bisect_path(logged, tmp_path):
    synthetic, (_, result), (_, gate) = logged
    code, _ = _run(["report", result["study_dir"], "--output-dir", str(tmp_path)])
    assert code == 0
    page = (tmp_path / "report.html").read_text()
    svg = re.search(r'<svg class="bisect-path".*?</svg>', page, re.S)
    assert svg is not None
    rows = re.findall(
        r'<g class="interval-row" data-commit="([0-9a-f]+)" data-verdict="(\w+)"', svg[0]
    )
    assert sorted(rows) == sorted((t["commit"], t["verdict"]) for t in result["tested"])
    assert svg[0].count('class="interval"') == sum("vs_good" in t for t in result["tested"])
    assert 'class="axis-label"' in svg[0] and "difference from the good endpoint" in svg[0]
    assert f"First bad commit: {synthetic.shas[CULPRIT][:12]}" in page
    assert '<svg class="regress-interval"' in page and gate["outcome"] in page
    assert page.index("<h2>Bisect</h2>") < page.index("<h2>Regress gate</h2>")
    assert (tmp_path / "report_bisect.svg").read_text().startswith('<svg class="bisect-path"')


def test_a_damaged_saved_result_is_one_clear_line(logged, tmp_path, capsys):
    _, (_, result), _ = logged
    study_dir = Path(result["study_dir"])
    saved = study_dir / "bisect.json"
    original = saved.read_text()
    try:
        saved.write_text('{"command": "bisect", "version": 1, "tested": []}')
        code = main(["report", str(study_dir), "--output-dir", str(tmp_path)])
        assert code == 2
        err = capsys.readouterr().err
        assert "bisect.json: not a complete bisect result" in err and "Traceback" not in err
        saved.write_text("{not json")
        assert main(["report", str(study_dir), "--output-dir", str(tmp_path)]) == 2
        assert "cannot read the bisect result" in capsys.readouterr().err
    finally:
        saved.write_text(original)


def test_regress_against_itself_prints_its_exit_code_and_saves_nothing(tmp_path):
    synthetic = build(tmp_path, n_commits=2, culprit=99, crash=99)
    code, result = _run([
        "regress", str(synthetic.study), "--against", "HEAD", "--format", "json",
        "--repo", str(synthetic.repo), "--runs-dir", str(synthetic.runs),
    ])  # fmt: skip
    assert code == 0 and result["exit_code"] == 0 and result["outcome"] == "no_regression"
    assert not list(synthetic.runs.glob("*/regress.json"))  # nothing was measured
