"""``harness study --until-decided`` end to end: seeds are added only to undecided comparisons,
the study stops once everything is decided or the seed budget is spent, and an interrupted
study resumes where it stopped.

The "training" command prints one final ``val_loss``: 3 + a planted effect + a noise shared
by every variant on a seed (the seed-to-seed spread a paired design removes) + a small noise of
its own. The noise is a hash of (variant, seed), so every run of this file sees the same data
and the seeds at which verdicts fall are fixed: with two comparisons at alpha = 0.05 each runs
at 0.025, and none can be decided before 5 seeds (docs/sequential.md), which a +1.0 effect
against a paired spread of ~0.01 reaches at once.
"""

from __future__ import annotations

import collections
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.store import FileSystemStore

PYTHON = sys.executable
TIMEOUT_S = 120
MAX_SEEDS = 6
EFFECTS = {"baseline": 0.0, "worse": 1.0, "same": 0.0}

FAKE_TRAIN = """\
import hashlib, json, os, signal, sys

def noise(*parts):  # uniform in [-0.5, 0.5), the same on every machine
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little") / 2**64 - 0.5

effect = float(sys.argv[1])
seed, variant = int(os.environ["HARNESS_SEED"]), os.environ["HARNESS_VARIANT"]
loss = 3.0 + effect + 0.5 * noise("seed", seed) + 0.02 * noise(variant, seed)
with open(os.path.join(os.environ["HARNESS_RUN_DIR"], "metrics.jsonl"), "w") as f:
    f.write(json.dumps({"step": 1, "val_loss": loss}) + "\\n")
with open(os.environ["FAKE_CALLS"], "a") as f:
    f.write(f"{variant} {seed}\\n")
if os.environ.get("INTERRUPT_AT") == f"{variant} {seed}":
    # Ctrl-C: the terminal signals its foreground process group, harness and its workers (the
    # worker is this script's parent); the command itself runs in a session of its own, which
    # the worker ends when it is interrupted.
    os.killpg(os.getpgid(os.getppid()), signal.SIGINT)
"""


class AdaptiveStudy:
    """A study of command variants with planted effects, in its own directory."""

    def __init__(self, root: Path, *, seeds: int = 2, effects: dict[str, float] = EFFECTS) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        script = root / "fake_train.py"
        script.write_text(FAKE_TRAIN)
        self.calls_file = root / "calls.txt"
        self.calls_file.touch()
        lines = [
            "[study]",
            'name = "adaptive"',
            'metric = "val_loss"',
            f"seeds = {seeds}",
            'baseline = "baseline"',
            "",
            "[base]",
            f"env = {{ FAKE_CALLS = {json.dumps(str(self.calls_file))} }}",
        ]
        for variant, effect in effects.items():
            command = f"{PYTHON} {script} {effect}"
            lines += ["", f"[variants.{variant}]", f"command = {json.dumps(command)}"]
        self.path = root / "study.toml"
        self.path.write_text("\n".join(lines) + "\n")
        self.runs_dir = root / "runs"
        self.study_dir = self.runs_dir / "adaptive"

    def until_decided(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``harness study --until-decided`` in a new session, as a terminal would run it (so
        a Ctrl-C from a run reaches harness and its runs, not pytest)."""
        return subprocess.run(
            self.argv(*args),
            cwd=self.root,
            env=self.env(env),
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            start_new_session=True,
        )

    def argv(self, *args: str) -> list[str]:
        """The ``harness study --until-decided`` command line."""
        argv = [PYTHON, "-m", "harness", "study", str(self.path), "--until-decided"]
        argv += ["--runs-dir", str(self.runs_dir), "--no-wandb", "--no-progress", *args]
        if "--design" not in args:  # these tests are about the anytime-valid design
            argv += ["--design", "anytime-valid"]
        return argv

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        full_env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **(extra or {})}
        full_env.pop("HARNESS_RUNS_DIR", None)
        return full_env

    def calls(self) -> collections.Counter[tuple[str, int]]:
        """How many times each (variant, seed) was trained."""
        words = self.calls_file.read_text().split()
        return collections.Counter(
            (v, int(s)) for v, s in zip(words[::2], words[1::2], strict=True)
        )

    def done(self) -> set[tuple[str, int]]:
        store = FileSystemStore(self.study_dir)
        return {(k.variant, k.seed) for k in store.run_keys() if store.status(k) == "done"}


def check(result: subprocess.CompletedProcess[str], code: int = 0) -> None:
    assert result.returncode == code, (
        f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    assert "Traceback" not in result.stdout + result.stderr


def verdicts(stdout: str) -> dict[str, tuple[int, str]]:
    """The sequential report's rows: variant -> (seeds used, verdict)."""
    report = stdout[stdout.index("sequential comparison with baseline") :]
    found = {}
    for line in report.splitlines():
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if len(cells) == 6 and cells[1].isdigit():
            found[cells[0]] = (int(cells[1]), cells[4])
    return found


def runs(variant: str, seeds: range) -> set[tuple[str, int]]:
    return {(variant, seed) for seed in seeds}


# -- one study run to its end, read by several tests -----------------------------------------

#: worse is decided at its first possible look (5 seeds); same has no effect and no margin to
#: be equivalent within, so it keeps the baseline company until the budget is spent.
EXPECTED_RUNS = runs("baseline", range(6)) | runs("worse", range(5)) | runs("same", range(6))


@pytest.fixture(scope="module")
def decided(tmp_path_factory: pytest.TempPathFactory) -> tuple[AdaptiveStudy, str]:
    study = AdaptiveStudy(tmp_path_factory.mktemp("decided"))
    result = study.until_decided("--max-seeds", str(MAX_SEEDS), "--jobs", "2")
    check(result)
    return study, result.stdout


def test_seeds_are_added_only_to_undecided_comparisons(
    decided: tuple[AdaptiveStudy, str],
) -> None:
    study, stdout = decided
    assert set(study.calls()) == EXPECTED_RUNS
    assert set(study.calls().values()) == {1}, "no run trained twice"
    assert study.done() == EXPECTED_RUNS
    rounds = re.findall(r"seed (\d+): still undecided: (.*)", stdout)
    assert rounds == [
        ("2", "worse, same"),
        ("3", "worse, same"),
        ("4", "worse, same"),
        ("5", "same"),  # worse was decided on seeds 0-4: only same and the baseline run seed 5
    ]


def test_verdicts_and_the_seed_budget(decided: tuple[AdaptiveStudy, str]) -> None:
    study, stdout = decided
    assert verdicts(stdout) == {
        "worse": (5, "worse"),
        "same": (MAX_SEEDS, "inconclusive (seed budget spent)"),
    }
    assert max(seed for _, seed in study.calls()) == MAX_SEEDS - 1
    assert "Family-wise error <= 0.05" in stdout


# -- stopping, interrupting, resuming ----------------------------------------------------------


def test_the_study_stops_once_every_comparison_is_decided(tmp_path: Path) -> None:
    study = AdaptiveStudy(tmp_path)
    # with a margin, same (|diff| ~ 0.01) is decided too: equivalent within 0.2
    result = study.until_decided("--max-seeds", "10", "--margin", "0.2", "--jobs", "2")
    check(result)
    found = verdicts(result.stdout)
    assert found == {"worse": (5, "worse"), "same": (5, "equivalent")}
    everyone = runs("baseline", range(5)) | runs("worse", range(5)) | runs("same", range(5))
    assert set(study.calls()) == everyone, "no seed after the last decision (budget: 10)"


def test_an_interrupted_study_resumes_where_it_stopped(
    decided: tuple[AdaptiveStudy, str], tmp_path: Path
) -> None:
    study = AdaptiveStudy(tmp_path)
    first = study.until_decided(
        "--max-seeds", str(MAX_SEEDS), "--jobs", "1", env={"INTERRUPT_AT": "same 3"}
    )
    check(first, 130)
    assert "interrupted" in first.stderr
    before = study.done()
    assert runs("baseline", range(3)) <= before, "the rounds before the interrupt finished"
    assert not {seed for _, seed in before} & {4, 5}, "nothing ran after the interrupt"

    resumed = study.until_decided("--max-seeds", str(MAX_SEEDS), "--jobs", "1")
    check(resumed)
    _, uninterrupted = decided
    assert verdicts(resumed.stdout) == verdicts(uninterrupted)
    assert study.done() == EXPECTED_RUNS
    calls = study.calls()
    assert set(calls) == EXPECTED_RUNS
    assert all(calls[key] == 1 for key in before), "a finished run is never trained again"

    again = study.until_decided("--max-seeds", str(MAX_SEEDS), "--jobs", "1")
    check(again)
    assert study.calls() == calls, "a finished study trains nothing more"
    assert verdicts(again.stdout) == verdicts(uninterrupted)

    # a larger budget continues the same seed sequence, for the undecided comparison only
    more = study.until_decided("--max-seeds", str(MAX_SEEDS + 1), "--jobs", "1")
    check(more)
    assert study.calls() - calls == collections.Counter({("baseline", 6): 1, ("same", 6): 1})
    assert verdicts(more.stdout) == {
        "worse": (5, "worse"),
        "same": (MAX_SEEDS + 1, "inconclusive (seed budget spent)"),
    }


def sequential_verdicts(study: AdaptiveStudy, capsys: pytest.CaptureFixture[str]) -> dict:
    """``harness compare --sequential``'s verdicts: variant -> (verdict, seeds it decided at)."""
    capsys.readouterr()
    assert main(["compare", str(study.study_dir), "--sequential", "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    return {row["variant"]: (row["verdict"], row["decided_at"]) for row in payload["comparisons"]}


def test_ctrl_c_in_a_rerun_of_a_finished_study_changes_no_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 33 item 3: a rerun replays the rounds over the finished runs and wrote each
    round's looks as it went, so a Ctrl-C a few rounds in left ``sequential.json`` with the
    first looks alone, and ``compare --sequential`` then said "undecided"."""
    study = AdaptiveStudy(tmp_path)
    design = ("--max-seeds", str(MAX_SEEDS), "--design", "auto")  # group-sequential: 6 looks
    check(study.until_decided(*design))
    looks_file = study.study_dir / "sequential.json"
    stored = looks_file.read_text()
    decided = sequential_verdicts(study, capsys)
    assert decided["worse"][0] == "worse"

    rerun = subprocess.Popen(
        study.argv(*design),
        cwd=study.root,
        env=study.env({"PYTHONUNBUFFERED": "1"}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert rerun.stdout is not None
    for line in rerun.stdout:  # the rerun has replayed its rounds up to seed 3
        if line.startswith("seed 3: still undecided"):
            break
    rerun.send_signal(signal.SIGINT)  # the Ctrl-C of a terminal, to harness alone
    _, err = rerun.communicate(timeout=TIMEOUT_S)
    assert rerun.returncode == 130, err
    assert "Traceback" not in err

    assert looks_file.read_text() == stored, "the looks are the records', whatever a rerun did"
    assert sequential_verdicts(study, capsys) == decided
    assert set(study.calls().values()) == {1}, "the rerun trained nothing"


# -- bad requests fail before anything runs --------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-seeds", "1"], "--max-seeds must be at least 2"),
        (["--alpha", "1.5"], "--alpha must be between 0 and 1"),
        (["--margin", "-0.1"], "--margin must be positive"),
    ],
)
def test_bad_settings_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    study = AdaptiveStudy(tmp_path)
    argv = ["study", str(study.path), "--until-decided", "--runs-dir", str(study.runs_dir)]
    assert main([*argv, "--no-wandb", "--no-progress", *args]) == 2
    assert message in capsys.readouterr().err
    assert study.calls() == collections.Counter()


def test_a_study_of_the_baseline_alone_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = AdaptiveStudy(tmp_path, effects={"baseline": 0.0})
    argv = ["study", str(study.path), "--until-decided", "--runs-dir", str(study.runs_dir)]
    assert main([*argv, "--no-wandb", "--no-progress"]) == 2
    assert "needs at least one variant besides the baseline" in capsys.readouterr().err
    assert study.calls() == collections.Counter()


# -- the group-sequential design (a seed budget given, issue 24) -------------------------------


def test_a_seed_budget_runs_the_group_sequential_design_and_compare_reads_its_looks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.store import read_sequential_looks

    study = AdaptiveStudy(tmp_path)
    result = study.until_decided("--max-seeds", "6", "--margin", "0.2", "--design", "auto")
    check(result)
    assert "group-sequential design over a budget of 6 seeds" in result.stdout
    found = verdicts(result.stdout)
    # +1.0 against a paired spread of ~0.01 crosses the efficacy boundary at the first look
    # (2 seeds); same is within the 0.2 margin: a futility stop, "equivalent"
    assert found["worse"][1] == "worse"
    assert found["same"][1].startswith("equivalent (futility")
    record = read_sequential_looks(study.study_dir)
    assert record is not None and record.design == "group-sequential"
    assert record.settings["max_seeds"] == 6 and record.settings["margin"] == 0.2
    assert record.looks["worse"][0] == 2
    assert record.outcome == {"worse": "efficacy", "same": "futility"}
    argv = ["compare", str(study.study_dir), "--sequential", "--format", "json"]
    assert main(argv) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["design"] == "group-sequential"
    by_variant = {row["variant"]: row for row in payload["comparisons"]}
    assert by_variant["worse"]["verdict"] == "worse"
    assert by_variant["worse"]["decided_at"] == found["worse"][0]
    assert by_variant["same"]["stopped"] == "futility"


def test_without_a_budget_the_anytime_design_runs_and_says_so(tmp_path: Path) -> None:
    study = AdaptiveStudy(tmp_path)
    result = study.until_decided("--margin", "0.2", "--design", "auto")
    check(result)
    assert "anytime-valid design" in result.stdout
    assert verdicts(result.stdout) == {"worse": (5, "worse"), "same": (5, "equivalent")}


def test_validate_shows_the_per_look_boundaries_before_any_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from analysis.group_sequential import GroupSequentialDesign, design_boundaries

    study = AdaptiveStudy(tmp_path, seeds=3)
    argv = ["validate", str(study.path), "--runs-dir", str(study.runs_dir), "--format", "json"]
    assert main([*argv, "--max-seeds", "8"]) == 0
    err = capsys.readouterr().err
    shown = json.loads(err[err.index("\n{\n") + 1 :])  # after the warnings (they quote {seed})
    expected = design_boundaries(GroupSequentialDesign(max_seeds=8, comparisons=2), range(3, 9))
    assert shown["boundaries"]["seeds"] == [3, 4, 5, 6, 7, 8], "first look at the study's seeds"
    assert shown["boundaries"]["t_efficacy"] == pytest.approx(list(expected.t_efficacy))
    assert shown["design"]["comparisons"] == 2
    expect = shown["operating_characteristics"]
    assert expect["fixed_power"] == pytest.approx(0.8, abs=1e-4)
    assert 0.5 < expect["power"] < expect["fixed_power"]
    assert 3 <= expect["seeds_at_effect"] < 8, "stops before the budget on average"
    assert 3 <= expect["seeds_at_null"] < 8
    assert main([*argv[:-2], "--max-seeds", "8"]) == 0
    assert "What to expect per comparison" in capsys.readouterr().err
    assert main([*argv[:-2], "--max-seeds", "8", "--margin", "0.1"]) == 0
    assert "not simulated with a stated margin" in capsys.readouterr().err
    assert study.calls() == collections.Counter(), "nothing ran"
