"""A factorial study of command variants end to end through the real CLI: ``[factors]`` over
two ``params``, run, resumed, compared (effects) and reported (interaction plot)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PYTHON = sys.executable
TIMEOUT_S = 180

# val_loss = 1 + 0.3 a - 0.1 b + 0.4 a b + seed effect + small noise fixed by (seed, a, b).
FAKE_TRAIN = """\
import json, os, random, sys

options = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--"))
a, b = int(options["a"]), int(options["b"])
seed = int(os.environ["HARNESS_SEED"])
with open(os.environ["FAKE_CALLS"], "a") as f:
    f.write(f"{a}{b} {seed}\\n")
noise = random.Random(1000 * seed + 10 * a + b).gauss(0.0, 0.02)
value = 1.0 + 0.3 * a - 0.1 * b + 0.4 * a * b + 0.5 * seed + noise
with open(os.path.join(os.environ["HARNESS_RUN_DIR"], "metrics.jsonl"), "w") as out:
    out.write(json.dumps({"step": 1, "val_loss": value}) + "\\n")
"""


def harness(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    env.pop("HARNESS_RUNS_DIR", None)
    return subprocess.run(
        [PYTHON, "-m", "harness", *args, "--runs-dir", str(root / "runs")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )


def write_study(root: Path) -> Path:
    script = root / "fake_train.py"
    script.write_text(FAKE_TRAIN)
    calls = root / "calls.txt"
    calls.touch()
    path = root / "study.toml"
    path.write_text(
        "\n".join(
            [
                "[study]",
                'name = "switches"',
                'metric = "val_loss"',
                "seeds = 4",
                "",
                "[base]",
                f"command = {json.dumps(f'{PYTHON} {script} --a={{a}} --b={{b}}')}",
                f"env = {{ FAKE_CALLS = {json.dumps(str(calls))} }}",
                "params = { a = 0, b = 0 }",
                "",
                "[factors]",
                '"params.a" = [0, 1]',
                '"params.b" = [0, 1]',
            ]
        )
        + "\n"
    )
    return path


def test_factorial_of_commands_runs_resumes_compares_and_reports(tmp_path: Path) -> None:
    study = write_study(tmp_path)
    validated = harness(tmp_path, "validate", str(study))
    assert validated.returncode == 0, validated.stderr
    assert "full factorial, 4 cells; baseline cell a-0_b-0" in validated.stdout

    ran = harness(tmp_path, "study", str(study), "--jobs", "2", "--no-wandb")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    calls = (tmp_path / "calls.txt").read_text().split("\n")
    assert len([c for c in calls if c]) == 16
    again = harness(tmp_path, "study", str(study), "--jobs", "2", "--no-wandb")
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "calls.txt").read_text().split("\n") == calls  # resumed: nothing rerun

    compared = harness(tmp_path, "compare", "switches", "--format", "json")
    assert compared.returncode == 0, compared.stderr
    effects = {e["term"]: e for e in json.loads(compared.stdout)["effects"]}
    assert set(effects) == {"params.a", "params.b", "params.a:params.b"}
    # Planted: a main effect of a of 0.3 + 0.4 / 2 (averaged over b), of b -0.1 + 0.4 / 2,
    # and a difference of differences of 0.4; the seed effect (0.5 per seed) is blocked out.
    for term, planted in (("params.a", 0.5), ("params.b", 0.1), ("params.a:params.b", 0.4)):
        effect = effects[term]
        assert effect["ci_low"] < planted < effect["ci_high"], (term, effect)
        assert effect["p_adjusted"] <= 0.05
        for key in ("estimate", "p_value", "verdict", "seeds_needed"):
            assert key in effect
    assert effects["params.a"]["verdict"] == "worse"  # higher val_loss when a switches on
    assert effects["params.a:params.b"]["verdict"] == "interaction"

    table = harness(tmp_path, "compare", "switches")
    assert table.returncode == 0, table.stderr
    assert "interaction" in table.stdout and "params.a:params.b" in table.stdout

    reported = harness(tmp_path, "report", "switches")
    assert reported.returncode == 0, reported.stderr
    page = (tmp_path / "runs" / "switches" / "report.html").read_text()
    assert "Factorial effects" in page and "Interaction plots" in page
    assert (tmp_path / "runs" / "switches" / "report_interactions.png").stat().st_size > 1000
    markdown = (tmp_path / "runs" / "switches" / "report.md").read_text()
    assert "![Interaction plots](report_interactions.png)" in markdown
