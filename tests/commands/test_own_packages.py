"""A researcher's own ``models/`` or ``kernels/`` folder, or Hugging Face's ``kernels`` package,
never replaces harness's own top-level packages (harness.own_packages).

Each test runs the real command in a subprocess from a project folder, as a researcher would:
``python -m harness ...`` puts that folder first on ``sys.path``, and so do the study's workers.
Before the fix, the built-in model imported the project's empty ``kernels`` and failed with
``AttributeError: module 'kernels' has no attribute 'selection_cumsum'``, and
``--model models.mine:build`` could not import the project's ``models`` package.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TINY_CHECK = ["--no-wandb", "--seeds", "4", "--widths", "32,64,128", "--steps", "3"]

USER_MODEL = """\
import torch
from torch import nn


class ProjectModel(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.project_embedding = nn.Embedding(256, width)
        self.project_hidden = nn.Linear(width, width)
        self.project_readout = nn.Linear(width, 256)

    def forward(self, tokens):
        return self.project_readout(torch.relu(self.project_hidden(self.project_embedding(tokens))))


def build(width):
    return ProjectModel(width)
"""

TINY_STUDY = """\
[study]
name = "shadow"
seeds = 1
baseline = "selective"

[base]
model.n_layer = 1
model.n_head = 2
model.n_embd = 16
model.block_size = 16
data.val_sequences = 4
train.steps = 2
train.batch_size = 2
train.warmup_steps = 0
train.eval_batch_size = 4

[variants.selective]
model.attention = "selective"
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A research project with its own ``models``, ``analysis`` and ``kernels`` packages
    (the first two holding a model)."""
    for name in ("models", "analysis", "kernels"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("")
    for name in ("models", "analysis"):
        (tmp_path / name / "mine.py").write_text(USER_MODEL)
    return tmp_path


# `python -m harness` (the current directory first on sys.path) and the console script (not on it)
PYTHON_M = [sys.executable, "-m", "harness"]
CONSOLE_SCRIPT = [str(Path(sys.executable).parent / "harness")]


def harness(
    cwd: Path,
    *args: str,
    pythonpath: str = "",
    launcher: list[str] = PYTHON_M,
    wandb_mode: str = "disabled",
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, WANDB_MODE=wandb_mode)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (pythonpath, env.get("PYTHONPATH", "")) if p)
    return subprocess.run(
        [*launcher, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_built_in_check_ignores_the_projects_kernels_folder(project: Path) -> None:
    result = harness(project, "coordcheck", *TINY_CHECK, "--format", "json")
    assert "Traceback" not in result.stderr, result.stderr
    payload = json.loads(result.stdout)
    assert result.returncode == payload["exit_code"] != 2
    assert payload["verdict"] in ("PASS", "FAIL", "INCONCLUSIVE")


@pytest.mark.parametrize(
    ("package", "launcher", "wandb_mode"),
    [
        ("models", PYTHON_M, "disabled"),
        ("models", CONSOLE_SCRIPT, "disabled"),
        ("analysis", CONSOLE_SCRIPT, "offline"),
    ],
    ids=["models-python-m", "models-script", "analysis-script-wandb"],
)
def test_model_imports_the_projects_own_package(
    project: Path, package: str, launcher: list[str], wandb_mode: str
) -> None:
    """harness's own ``models`` and ``analysis`` are imported by then; the project's win the
    name for its module, and the check (with wandb logging, offline) still finds what it
    needs."""
    args = ("coordcheck", "--model", f"{package}.mine:build", *TINY_CHECK[1:3])
    result = harness(project, *args, launcher=launcher, wandb_mode=wandb_mode)
    assert result.returncode in (0, 1, 3), result.stderr
    out = project / "runs" / "coordcheck" / f"{package}.mine-build"
    exponents = (out / "exponents.csv").read_text()
    assert "project_hidden" in exponents and "project_readout" in exponents
    if wandb_mode == "offline":  # a run per (width, seed): 4 widths x the 4 seeds it took
        seeds = json.loads((out / "coordcheck.json").read_text())["seeds"]
        assert len(list((out / "wandb").glob("offline-run-*"))) == 4 * seeds


def test_a_study_from_the_project_folder_trains_the_built_in_model(project: Path) -> None:
    (project / "study.toml").write_text(TINY_STUDY)
    args = ("--no-wandb", "--no-progress", "--device", "cpu", "--threads", "1")
    result = harness(project, "study", "study.toml", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    record = json.loads((project / "runs/shadow/runs/selective/s0/record.json").read_text())
    assert record["status"] == "done", record.get("error")


FOREIGN_USER_MODEL = """\
from kernels import CUDAProperties  # what transformers 5 imports from Hugging Face's kernels
from torch import nn


def build(width):
    assert CUDAProperties == "hugging face"
    return nn.Sequential(nn.Embedding(256, width), nn.Linear(width, width), nn.Linear(width, 256))
"""


@pytest.fixture
def foreign_kernels(tmp_path: Path) -> Path:
    """A stand-in for Hugging Face's ``kernels`` (a dependency of transformers 5), in a folder
    that goes first on PYTHONPATH: installed beside an editable harness, site-packages is
    searched before the editable install's finder, so ``import kernels`` finds it first."""
    site = tmp_path / "site"
    (site / "kernels").mkdir(parents=True)
    (site / "kernels" / "__init__.py").write_text('CUDAProperties = "hugging face"\n')
    return site


def test_the_built_in_model_gets_harnesss_kernels_where_another_comes_first(
    tmp_path: Path, foreign_kernels: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    args = ("coordcheck", *TINY_CHECK, "--format", "json")
    result = harness(work, *args, pythonpath=str(foreign_kernels))
    assert "Traceback" not in result.stderr, result.stderr
    assert json.loads(result.stdout)["exit_code"] == result.returncode != 2


def test_a_model_that_imports_the_other_kernels_gets_it(
    tmp_path: Path, foreign_kernels: Path
) -> None:
    """``--model`` on a transformers model: the built-in GPT is never loaded, so the name
    ``kernels`` is left to the package the researcher's code imports."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "hf_like.py").write_text(FOREIGN_USER_MODEL)
    args = ("coordcheck", "--model", "hf_like:build", *TINY_CHECK[:3], "--format", "json")
    result = harness(work, *args, pythonpath=str(foreign_kernels))
    assert "Traceback" not in result.stderr, result.stderr
    assert json.loads(result.stdout)["exit_code"] == result.returncode != 2
