"""``harness compare --sequential`` and the report's study shapes: the sweep's metric against
the parameter with its trend test, the Pareto view, and phased studies."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from report_studies import attention_study, nanoheads_study, phased_study

import analysis
from harness.cli import main
from harness.store import load_table

REPO = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def sequential_file(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    rows = [
        {"variant": v, "seed": s, "val_loss": 3 + 0.5 * np.sin(s) + e + rng.normal(0, 0.05)}
        for v, e in {"base": 0.0, "fast": -0.3, "same": 0.0}.items()
        for s in range(6)
    ]
    path = tmp_path / "results.csv"
    pl.DataFrame(rows).write_csv(path)
    return path


# -- compare --sequential -------------------------------------------------------------------


def test_sequential_json_equals_the_analysis_layer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = sequential_file(tmp_path)
    args = ["compare", str(path), "--sequential", "--margin", "0.2", "--max-seeds", "6"]
    code, out, _ = run_cli([*args, "--format", "json"], capsys)
    assert code == 0
    expected = analysis.sequential_compare(
        pl.read_csv(path),
        metric="val_loss",
        baseline="base",
        margin=0.2,
        max_seeds=6,
        variants=["fast", "same"],
    )
    assert json.loads(out) == json.loads(json.dumps(expected.to_dict()))
    verdicts = {c["variant"]: c["verdict"] for c in json.loads(out)["comparisons"]}
    assert verdicts["fast"] == "better"


def test_sequential_table_and_markdown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = sequential_file(tmp_path)
    code, out, _ = run_cli(["compare", str(path), "--sequential", "--format", "markdown"], capsys)
    assert code == 0
    assert "| variant | seeds | diff | confidence sequence | verdict | fixed-n seeds |" in out
    assert "| fast | 6 |" in out and "better" in out and "runs used: 18" in out
    # Without a budget an open comparison is undecided; with it spent, inconclusive.
    assert "undecided (more seeds could decide)" in out
    code, out, _ = run_cli(["compare", str(path), "--sequential", "--max-seeds", "6"], capsys)
    assert code == 0 and "inconclusive (seed budget spent)" in out and "anytime-valid" in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--sequential", "--format", "csv"], "not csv"),
        (["--max-seeds", "5"], "only with --sequential"),
        (["--sequential", "--unpaired"], "paired by seed"),
        (["--sequential", "--max-seeds", "1"], "at least 2"),
        (["--sequential", "--baseline", "nope"], "baseline 'nope'"),
    ],
)
def test_sequential_bad_options_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    code, _, err = run_cli(["compare", str(sequential_file(tmp_path)), *extra], capsys)
    assert code == 2 and message in err


def test_sequential_compare_does_not_import_torch(tmp_path: Path) -> None:
    path = sequential_file(tmp_path)
    code = (
        "import sys\n"
        "from harness.cli import main\n"
        f"assert main(['compare', {str(path)!r}, '--sequential', '--format', 'json']) == 0\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


# -- the report's shapes ----------------------------------------------------------------------


def test_sweep_report_plots_the_metric_against_the_parameter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = nanoheads_study(tmp_path)
    assert main(["report", str(study)]) == 0
    page = (study / "report.html").read_text()
    markdown = (study / "report.md").read_text()
    assert "Sweep: metric against the swept parameter" in page
    assert "seed fixed effects" in page and "decreasing" in page
    assert "report_sweep.png" in markdown
    assert (study / "report_sweep.png").read_bytes().startswith(PNG_MAGIC)
    row = next(line for line in markdown.splitlines() if line.startswith("| model.nanohead"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1:3] == ["5", "4"] and cells[-1] == "decreasing"
    low, high = (float(v) for v in re.findall(r"-?\d+\.\d+", cells[4]))
    assert high < 0 and abs(float(cells[3]) + 0.5) < 0.05  # the true slope is -0.5 (se ~0.01)
    assert high - low < 0.1


def test_a_flat_sweep_reports_no_trend(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    study = nanoheads_study(tmp_path, slope=0.0)
    assert main(["report", str(study)]) == 0
    assert "no trend detected" in (study / "report.md").read_text()


def test_a_study_without_a_sweep_has_no_sweep_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = attention_study(tmp_path)
    assert main(["report", str(study)]) == 0
    assert "Sweep" not in (study / "report.html").read_text()


def test_pareto_view_of_an_attention_zoo(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = attention_study(tmp_path)
    assert main(["report", str(study)]) == 0
    page = (study / "report.html").read_text()
    markdown = (study / "report.md").read_text()
    assert "Pareto view: quality against efficiency" in page
    for label in ("tokens/s", "peak memory", "KV cache (bytes/token)", "parameters"):
        assert label in page
    # The same numbers as the analysis layer, on the same runs.
    front = analysis.pareto_front(
        load_table(study),
        metric="val_loss",
        costs={
            "tokens_per_s": "maximize",
            "peak_memory_mb": "minimize",
            "kv_cache_bytes_per_token": "minimize",
            "n_params": "minimize",
        },
    )
    assert "mla" in front.optimal  # the best quality is never dominated
    rows = {
        cells[0]: cells
        for line in markdown.split("## Pareto view")[1].split("\n## ")[0].splitlines()
        if line.startswith("| ") and not line.startswith(("| variant", "| ---"))
        for cells in [[c.strip() for c in line.strip("|").split("|")]]
    }
    assert set(rows) == {"mha", "gqa", "mla", "window"}
    for name, cells in rows.items():
        assert cells[-2] == ("yes" if name in front.optimal else "no")
        assert cells[-1] == (", ".join(front.dominated_by[name]) or "-")
    assert "filled = Pareto-optimal" not in markdown  # that is inside the figure
    assert (study / "report_efficiency.png").read_bytes().startswith(PNG_MAGIC)


def test_phased_study_report_has_a_section_per_phase(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = phased_study(tmp_path)
    out = tmp_path / "out"
    assert main(["report", str(root), "--output-dir", str(out)]) == 0
    page = (out / "report.html").read_text()
    markdown = (out / "report.md").read_text()
    for text in (
        "Phase 1: attention",
        "Winner &#x27;gqa&#x27; separates from the rest and is carried forward.",
        "Phase 2: norm",
        "A tie (top tier: post, pre, sandwich)",
        "later phases keep the baseline &#x27;pre&#x27;",
        "Phase 3: window",
        "Not decided yet",
        "cannot compare this phase",
    ):
        assert text in page, text
    assert '<a href="attention/report.html">' in page and "(norm/report.md)" in markdown
    for phase in ("attention", "norm"):
        assert "Against" in (out / phase / "report.html").read_text()
        assert (out / phase / "report_forest.png").read_bytes().startswith(PNG_MAGIC)
    assert not (out / "window").exists()
    assert (out / "report_attention_forest.png").read_bytes().startswith(PNG_MAGIC)


def test_compare_on_a_phase_works_and_on_the_root_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = phased_study(tmp_path)
    code, out, _ = run_cli(["compare", str(root / "attention"), "--format", "json"], capsys)
    assert code == 0 and json.loads(out)["tiers"] == [["gqa"], ["mha"]]
    code, _, err = run_cli(["compare", str(root)], capsys)
    assert code == 2 and "is a phased study" in err and "attention, norm, window" in err
    code, _, err = run_cli(["report", str(root), "--baseline", "mha"], capsys)
    assert code == 2 and "each phase has its own" in err
