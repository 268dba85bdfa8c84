"""docs/studies.md's worked examples (one per metrics source) run as documented.

Each example is a study file followed by the JSON of what harness records for seed 0. The
test takes the study file as the docs show it, replaces only its ``command`` by one replaying
the real library's output the example is about (the ``<!-- example: ... -->`` line above it:
a script of ``tests/fixtures/script_outputs/scripts/`` and its arguments), runs it through
``harness study`` and compares the record with the JSON, so the docs cannot drift.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.store import FileSystemStore, RunKey
from harness.store.metrics_file import read_metrics

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "studies.md"
SCRIPTS = ROOT / "tests" / "fixtures" / "script_outputs" / "scripts"
EXAMPLE = re.compile(
    r"<!-- example: (?P<replay>[^>]+?) -->\n"
    r"```toml\n(?P<study>.*?)```\n\n```json\n(?P<records>.*?)```",
    re.DOTALL,
)
COMMAND_LINE = re.compile(r'^command = ".*"$', re.MULTILINE)
WANDB_ENV = {
    "WANDB_MODE": "offline",
    "WANDB_BASE_URL": "http://127.0.0.1:9",  # nothing listens: going online would fail
    "WANDB_API_KEY": "",
    "WANDB_SILENT": "true",
}


def documented_examples() -> list[object]:
    found = [m.group("replay", "study", "records") for m in EXAMPLE.finditer(DOCS.read_text())]
    assert len(found) == 5, "one worked example per source: stdout regex, auto, log, file, wandb"
    return [pytest.param(*example, id=_study_name(example[1])) for example in found]


def _study_name(study: str) -> str:
    name = re.search(r'^name = "(.*)"$', study, re.MULTILINE)
    assert name, "each example names its study"
    return name.group(1)


@pytest.mark.parametrize(("replay", "study", "records"), documented_examples())
def test_a_documented_example_records_what_the_docs_say(
    tmp_path: Path, replay: str, study: str, records: str
) -> None:
    script, *arguments = replay.split()
    command = " ".join([sys.executable, str(SCRIPTS / script), *arguments])
    assert COMMAND_LINE.search(study), "each example has one command line"
    path = tmp_path / "example.toml"
    path.write_text(COMMAND_LINE.sub(lambda _: f"command = {json.dumps(command)}", study))
    metric = re.search(r'^metric = "(.*)"$', study, re.MULTILINE)
    assert metric
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    if "wandb = true" in study:
        pytest.importorskip("wandb")
        home = str(tmp_path / "wandb_home")
        env |= {**WANDB_ENV, "WANDB_CONFIG_DIR": home, "WANDB_CACHE_DIR": home}
    env.pop("HARNESS_RUNS_DIR", None)
    ran = subprocess.run(
        [sys.executable, "-m", "harness", "study", str(path), "--runs-dir", str(tmp_path / "runs"),
         "--seeds", "1", "--no-progress"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert ran.returncode == 0, f"{ran.stdout}\n{ran.stderr}"
    study_dir = tmp_path / "runs" / _study_name(study)
    record = FileSystemStore(study_dir).read_record(RunKey(variant="baseline", seed=0))
    assert record is not None and record.status == "done"
    rows = read_metrics(study_dir / "runs" / "baseline" / "s0" / "metrics.jsonl")
    by_step = {str(row["step"]): row[metric.group(1)] for row in rows if metric.group(1) in row}
    recorded = {"final_metrics": record.final_metrics, f"{metric.group(1)} by step": by_step}
    assert recorded == json.loads(records), json.dumps(recorded)
