"""A script in another virtualenv, with another wandb version, logging to wandb itself.

harness reads the script's wandb run from its files with the wandb it runs with; the script
writes them with its own. This needs a second Python environment with a different wandb,
which CI does not build (a second wandb install costs a minute and the network on every CI
run), so the test runs only where ``HARNESS_TEST_OTHER_WANDB_PYTHON`` names that
environment's interpreter, e.g.::

    python3.11 -m venv /tmp/oldwandb && /tmp/oldwandb/bin/pip install 'wandb<0.20'
    export HARNESS_TEST_OTHER_WANDB_PYTHON=/tmp/oldwandb/bin/python
    pytest tests/run/test_other_wandb_version.py

Checked on 2026-12-07 with wandb 0.19.11 and 0.15.12 (the script) against 0.31.0 (harness).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.store import FileSystemStore, RunKey

OTHER_PYTHON = os.environ.get("HARNESS_TEST_OTHER_WANDB_PYTHON")
pytestmark = pytest.mark.skipif(
    not OTHER_PYTHON,
    reason="HARNESS_TEST_OTHER_WANDB_PYTHON (a python with another wandb version) is not set",
)

LOGS_TO_WANDB = """\
import math, sys
import wandb
seed = int(sys.argv[1])
run = wandb.init(config={"seed": seed})
for step in range(10):
    wandb.log({"train/loss": 3 * math.exp(-step / 4) + seed / 100})
wandb.log({"val/loss": 1.0 + seed / 100})
print("wandb", wandb.__version__, flush=True)
run.finish()
"""


def test_every_run_gets_the_metrics_its_script_logged_with_another_wandb(
    tmp_path: Path,
) -> None:
    pytest.importorskip("wandb")
    import wandb

    assert OTHER_PYTHON is not None
    other = subprocess.run(
        [OTHER_PYTHON, "-c", "import wandb; print(wandb.__version__)"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert other != wandb.__version__, "the other environment has the same wandb"
    (tmp_path / "script.py").write_text(LOGS_TO_WANDB)
    study = tmp_path / "other.toml"
    study.write_text(
        '[study]\nname = "other"\nmetric = "val/loss"\nseeds = 4\n\n[base]\n'
        f'command = "{OTHER_PYTHON} script.py {{seed}}"\nmetrics = {{ wandb = true }}\n\n'
        '[variants.a]\n[variants.b]\nenv = { B = "1" }\n'
    )
    home = str(tmp_path / "wandb_home")
    env = {
        **os.environ,
        "WANDB_MODE": "offline",
        "WANDB_BASE_URL": "http://127.0.0.1:9",  # nothing listens: going online would fail
        "WANDB_API_KEY": "",
        "WANDB_SILENT": "true",
        "WANDB_CONFIG_DIR": home,
        "WANDB_CACHE_DIR": home,
    }
    env.pop("HARNESS_RUNS_DIR", None)
    ran = subprocess.run(
        [sys.executable, "-m", "harness", "study", str(study), "--runs-dir",
         str(tmp_path / "runs"), "--no-progress", "--jobs", "2"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert ran.returncode == 0, f"{ran.stdout}\n{ran.stderr}"
    store = FileSystemStore(tmp_path / "runs" / "other")
    for variant in ("a", "b"):
        for seed in range(4):
            record = store.read_record(RunKey(variant=variant, seed=seed))
            assert record is not None and record.status == "done", record
            assert record.final_metrics["val/loss"] == pytest.approx(1.0 + seed / 100)
            assert record.final_metrics["train/loss"] == pytest.approx(
                3 * 2.718281828459045 ** (-9 / 4) + seed / 100
            )
            assert f"wandb {other}" in (record.output_tail or "")
