"""``harness report``: a self-contained HTML page and a markdown report with its figures."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from harness.cli import main
from harness.store import FileSystemStore, RunConfigFile, RunKey, StudyMeta
from harness.store.records import RunRecord

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def write_study(root: Path, seeds: int = 3) -> Path:
    """A finished three-variant study with curves and efficiency metrics, via the real store."""
    rng = np.random.default_rng(1)
    effects = {"base": 0.0, "fast": 0.15, "better": -0.1}
    store = FileSystemStore(root / "demo")
    store.write_study_meta(
        StudyMeta.from_dict(
            {
                "name": "demo",
                "metric": "val_loss",
                "direction": "minimize",
                "baseline": "base",
                "variants": list(effects),
                "seeds": list(range(seeds)),
            }
        )
    )
    for variant, effect in effects.items():
        for seed in range(seeds):
            store.write_config(
                RunConfigFile(
                    study="demo", variant=variant, seed=seed, kind="command", config={},
                    config_hash="0",
                )
            )  # fmt: skip
            rows = [
                {
                    "step": step,
                    "train_loss": 3 + 4 / (1 + step) + effect + 0.3 * seed + rng.normal(0, 0.01),
                }
                for step in range(0, 101, 10)
            ]
            for row in rows[::5]:
                row["val_loss"] = row["train_loss"] + 0.05
            rows.append(
                {
                    "step": 100,
                    "tokens_per_s": 2000.0 * (1.5 if variant == "fast" else 1.0) + seed,
                    "peak_memory_mb": 800.0 + seed,
                }
            )
            run_dir = store.run_dir(RunKey(variant=variant, seed=seed))
            (run_dir / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
            final: dict[str, float] = {}
            for row in rows:
                final.update({k: float(v) for k, v in row.items() if k != "step"})
            store.write_record(
                RunRecord(
                    study="demo", variant=variant, seed=seed, kind="command", config_hash="0",
                    status="done", final_metrics=final, started_at="2025-01-01T00:00:00Z",
                    ended_at="2025-01-01T00:01:00Z", wall_time_s=60.0,
                )
            )  # fmt: skip
    return store.study_dir


def embedded_images(page: str) -> list[bytes]:
    return [
        base64.b64decode(data)
        for data in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    ]


def test_report_of_a_study_is_self_contained(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = write_study(tmp_path)
    assert main(["report", str(study)]) == 0
    assert "report.html" in capsys.readouterr().out
    page = (study / "report.html").read_text()
    # Self-contained: every image inline, nothing fetched from anywhere.
    images = embedded_images(page)
    assert len(images) == 3  # forest plot, efficiency, curves
    assert all(image.startswith(PNG_MAGIC) for image in images)
    assert not re.search(r'(src|href)="(?!data:)', page)
    assert "http://" not in page and "https://" not in page
    for text in (
        "Against base",
        "Forest plot",
        "Tiers and seed noise",
        "Efficiency beside quality",
        "Curves",
        "tokens/s",
        "peak memory",
        "All pairwise comparisons",
        'class="better"',
    ):
        assert text in page, text


def test_markdown_report_references_its_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = write_study(tmp_path)
    out = tmp_path / "out"
    assert main(["report", str(study), "--output-dir", str(out), "--margin", "0.5"]) == 0
    markdown = (out / "report.md").read_text()
    figures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)
    assert sorted(figures) == ["report_curves.png", "report_efficiency.png", "report_forest.png"]
    for name in figures:
        assert (out / name).read_bytes().startswith(PNG_MAGIC)
    assert "| variant | pairs | diff |" in markdown
    assert "equivalent" in markdown or "better" in markdown


def test_report_of_a_plain_results_file_has_no_curves(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = pl.DataFrame(
        {
            "variant": ["a"] * 4 + ["b"] * 4,
            "seed": [0, 1, 2, 3] * 2,
            "score": [0.70, 0.72, 0.69, 0.71, 0.75, 0.78, 0.74, 0.77],
        }
    )
    path = tmp_path / "scores.csv"
    table.write_csv(path)
    assert main(["report", str(path), "--direction", "maximize"]) == 0
    page = (tmp_path / "report.html").read_text()
    assert len(embedded_images(page)) == 1 and "Curves" not in page
    assert "higher score is better" in page


def test_report_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    study = write_study(tmp_path)
    assert main(["report", str(study), "--metric", "nope"]) == 2
    assert "no metric 'nope'" in capsys.readouterr().err


def test_comparison_markdown() -> None:
    from analysis import compare
    from harness.report.format import result_markdown

    # R's sleep data (extra hours of sleep, 10 patients, two drugs): see tests/analysis.
    control = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]
    drug = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
    table = pl.DataFrame(
        {
            "variant": ["control"] * 10 + ["drug"] * 10,
            "seed": list(range(10)) * 2,
            "extra": control + drug,
        }
    )
    text = result_markdown(compare(table, metric="extra", baseline="control"))
    assert "| drug | 10 | -1.58 | [-2.46, -0.70] | 0.0028 | 0.0028 |" in text
    assert "paired t-test by seed" in text and "Tiers" in text
