"""Shared pieces of the executor conformance suite: a tiny command study, a local Ray cluster.

The study's runs are a Python script that appends JSON lines to ``$HARNESS_RUN_DIR/metrics.jsonl``
(no torch, instant). It also logs every execution to ``<study dir>/executions.log``, so a test
can tell a run that ran twice from one that ran once, and it waits while ``<study dir>/hold``
exists, so a test can catch runs in flight.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SCRIPT = """\
import json, os, sys, time
from pathlib import Path

run_dir = Path(os.environ["HARNESS_RUN_DIR"])
study_dir = run_dir.parents[2]
variant, seed = os.environ["HARNESS_VARIANT"], int(os.environ["HARNESS_SEED"])
scale = float(sys.argv[1])
with open(study_dir / "executions.log", "a") as log:
    log.write(json.dumps({"variant": variant, "seed": seed, "pid": os.getpid()}) + "\\n")
while (study_dir / "hold").exists():
    time.sleep(0.05)
with open(run_dir / "metrics.jsonl", "a") as out:
    for step in range(3):
        row = {"step": step, "loss": scale * (seed + 1) / (step + 1), "acc": 0.1 * step + seed}
        out.write(json.dumps(row) + "\\n")
print(f"{variant} seed {seed}: done")
"""

STUDY = """\
[study]
name = "tiny"
metric = "loss"
seeds = 2
baseline = "base"

[base]
command = "{python} {script} {{scale}}"
params = {{ scale = 1.0 }}

[variants.base]

[variants.wide]
params = {{ scale = 2.0 }}
"""

# Ray on loopback only, no usage report; read when ray is imported, so set before.
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The working directory of drivers and workers: outside any git repository, so the
    recorded git state cannot change under the tests while others edit the checkout."""
    work = tmp_path_factory.mktemp("work")
    previous = os.getcwd()
    os.chdir(work)
    try:
        yield work
    finally:
        os.chdir(previous)


@pytest.fixture(scope="module")
def study_file(work_dir: Path) -> Path:
    script = work_dir / "train.py"
    script.write_text(SCRIPT)
    path = work_dir / "tiny.toml"
    path.write_text(STUDY.format(python=sys.executable, script=script))
    return path


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    """One local Ray cluster (2 CPUs, no dashboard, loopback) for the whole module."""
    saved = {name: os.environ.get(name) for name in RAY_ENV}
    os.environ.update(RAY_ENV)
    ray = pytest.importorskip("ray")
    ray.init(
        num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING
    )
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
