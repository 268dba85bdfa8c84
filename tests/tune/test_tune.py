"""``harness tune``: search, resume, cooperation, crash recovery, pruning, the honest winner.

The "training" is an instant script whose final ``val_loss`` is a known function of the
parameters, ``(log10(lr) + 2.5)^2 + offset``, plus seed noise that is a fixed function of
(seed, parameters); it reports a curve ``final + 1/step`` so the pruner has points to see.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from harness.errors import SpecError
from harness.executors.local import LocalExecutor
from harness.store import FileSystemStore, RunKey
from harness.study.spec import load_study
from harness.tune.config import search_of
from harness.tune.search import OUTCOME_ATTR, RETRY_ATTR, SEED_VALUES_ATTR, Search, open_study
from harness.tune.winner import reevaluate, separation_check, top_trials

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
TIMEOUT_S = 120

OBJECTIVE = """\
import hashlib, json, math, os, sys, time

args = dict(a.split("=", 1) for a in sys.argv[1:])
seed = int(os.environ["HARNESS_SEED"])
lr, offset = float(args["lr"]), float(args["offset"].rstrip("x"))  # "0.0x" reads as 0.0
digest = hashlib.sha256(repr((seed, args["lr"], args["offset"])).encode()).digest()
u1, u2 = (int.from_bytes(digest[i : i + 4], "little") / 2**32 for i in (0, 4))
noise = math.sqrt(-2 * math.log(u1 + 1e-12)) * math.cos(2 * math.pi * u2)
final = (math.log10(lr) + 2.5) ** 2 + offset + float(args["noise"]) * noise
steps, sleep = int(args["steps"]), float(args["sleep"])
with open(os.path.join(os.environ["HARNESS_RUN_DIR"], "metrics.jsonl"), "a") as f:
    for step in range(1, steps + 1):
        f.write(json.dumps({"step": 10 * step, "val_loss": final + 1.0 / step}) + "\\n")
        f.flush()
        time.sleep(sleep)
"""


def write_study(
    tmp_path: Path,
    search: str,
    *,
    name: str = "toy",
    sleep: float = 0.0,
    steps: int = 5,
    noise: float = 0.01,
) -> Path:
    script = tmp_path / "objective.py"
    script.write_text(OBJECTIVE)
    study = tmp_path / f"{name}.toml"
    study.write_text(
        textwrap.dedent(
            f"""\
            [study]
            name = "{name}"
            seeds = 2

            [base]
            command = "{PYTHON} {script} lr={{lr}} offset={{offset}} steps={{steps}} sleep={{sleep}} noise={{noise}}"
            params = {{ lr = 0.001, offset = 0.0, steps = {steps}, sleep = {sleep}, noise = {noise} }}

            [variants.proxy]

            """  # noqa: E501
        )
        + textwrap.dedent(search)
    )
    return study


LR_SEARCH = """\
[search]
trials = 8
startup_trials = 3
top_k = 0

[search.space]
"params.lr" = { type = "float", low = 1e-5, high = 1.0, log = true }
"""


def search_in_process(study_file: Path, runs: Path, target: int, jobs: int = 2) -> Search:
    spec = load_study(study_file)
    search = search_of(spec)
    loop = Search(
        spec,
        search,
        study_dir=runs / spec.name,
        target=target,
        executor_factory=lambda: LocalExecutor(jobs=jobs, threads=1, device="cpu"),
        say=lambda line: None,
        poll_interval=0.1,
    )
    loop.run()
    return loop


def tune_cli(study_file: Path, runs: Path, *args: str, **popen: Any) -> subprocess.Popen[str]:
    env = {**os.environ, "HARNESS_RUNS_DIR": str(runs), "WANDB_MODE": "disabled"}
    return subprocess.Popen(
        [PYTHON, "-m", "harness", "tune", str(study_file), "--format", "json", "--no-plots", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def finish(process: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = process.communicate(timeout=TIMEOUT_S)
    assert process.returncode == 0, err
    return json.loads(out)


def load(runs: Path, name: str = "toy") -> optuna.Study:
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    journal = runs / name / "tune" / "journal.log"
    return optuna.load_study(
        study_name=name, storage=JournalStorage(JournalFileBackend(str(journal)))
    )


def assert_trials_match_runs(
    study: optuna.Study, runs: Path, target: int, others: optuna.Study | None = None
) -> None:
    """Exactly ``target`` counted trials, each with its own runs; no run without a trial
    (of this study, or of ``others``: another search in the same study folder)."""
    counted = study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
    assert len(counted) == target
    for trial in study.get_trials(states=(TrialState.FAIL,)):
        assert trial.user_attrs.get(OUTCOME_ATTR) == "surplus" or trial.number in {
            t.user_attrs.get(RETRY_ATTR) for t in study.trials
        }
    variants = [t.user_attrs["harness_variant"] for t in counted]
    assert len(set(variants)) == len(variants)  # no trial ran twice under one name
    theirs = {t.user_attrs.get("harness_variant") for t in others.trials} if others else set()
    on_disk = {p.name for p in (runs / "toy" / "runs").iterdir()} - theirs
    assert on_disk == set(variants)  # no run that belongs to no trial
    store = FileSystemStore(runs / "toy")
    for trial in study.get_trials(states=(TrialState.COMPLETE,)):
        variant = trial.user_attrs["harness_variant"]
        seed_values = trial.user_attrs[SEED_VALUES_ATTR]
        for seed in (0, 1):
            key = RunKey(variant=variant, seed=seed)
            record = store.read_record(key)
            assert record is not None and record.status == "done"
            assert record.final_metrics["val_loss"] == seed_values[str(seed)]
            assert store.read_config(key).config["params"]["lr"] == trial.params["params.lr"]
        assert trial.value == pytest.approx(sum(seed_values.values()) / 2)


def test_search_finds_the_optimum_region(tmp_path: Path) -> None:
    study_file = write_study(tmp_path, LR_SEARCH)
    search_in_process(study_file, tmp_path / "runs", target=8)
    study = load(tmp_path / "runs")
    best = study.best_trial
    assert abs(math.log10(best.params["params.lr"]) + 2.5) < 0.75  # the space spans 5 decades
    assert best.value < 0.6
    assert_trials_match_runs(study, tmp_path / "runs", 8)


def test_rerun_resumes_up_to_more_trials(tmp_path: Path) -> None:
    study_file = write_study(tmp_path, LR_SEARCH)
    runs = tmp_path / "runs"
    first = finish(tune_cli(study_file, runs, "--trials", "3"))
    assert first["n_trials_complete"] + first["n_trials_pruned"] == 3
    assert {"best_params", "best_value", "separation_check"} <= set(first)
    second = finish(tune_cli(study_file, runs, "--trials", "5"))
    assert second["trials_run_here"] == 2
    assert second["n_trials_complete"] + second["n_trials_pruned"] == 5
    assert_trials_match_runs(load(runs), runs, 5)
    third = finish(tune_cli(study_file, runs, "--trials", "5"))  # nothing left to do
    assert third["trials_run_here"] == 0


def test_two_processes_on_one_storage_lose_or_duplicate_no_trial(tmp_path: Path) -> None:
    study_file = write_study(tmp_path, LR_SEARCH, sleep=0.05)
    runs = tmp_path / "runs"
    processes = [tune_cli(study_file, runs, "--trials", "6", "--jobs", "1") for _ in range(2)]
    results = [finish(p) for p in processes]
    assert sum(r["trials_run_here"] for r in results) == 6
    assert all(r["trials_run_here"] >= 1 for r in results)  # both did work
    assert_trials_match_runs(load(runs), runs, 6)


def test_kill_9_mid_search_then_resume_completes(tmp_path: Path) -> None:
    study_file = write_study(tmp_path, LR_SEARCH, sleep=0.3)
    runs = tmp_path / "runs"
    process = tune_cli(study_file, runs, "--trials", "4", start_new_session=True)
    second_trial = runs / "toy" / "runs" / "trial-0001" / "s0" / "metrics.jsonl"
    deadline = time.monotonic() + TIMEOUT_S
    while not (second_trial.exists() and second_trial.read_text()):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # the tune process and its workers, mid-trial
    process.communicate()
    result = finish(tune_cli(study_file, runs, "--trials", "4"))
    assert result["n_trials_complete"] + result["n_trials_pruned"] == 4
    study = load(runs)
    retried = [t for t in study.trials if t.user_attrs.get(RETRY_ATTR) == 1]
    assert len(retried) == 1 and retried[0].user_attrs["harness_variant"] == "trial-0001"
    assert study.trials[1].state == TrialState.FAIL
    assert_trials_match_runs(study, runs, 4)


def test_pruning_stops_the_runs_of_a_bad_trial(tmp_path: Path) -> None:
    search = """\
    [search]
    trials = 2
    top_k = 0
    pruner = { kind = "median", startup_trials = 1 }

    [search.space]
    "params.offset" = { type = "categorical", choices = [0.0, 5.0] }
    """
    study_file = write_study(tmp_path, search, sleep=0.3, steps=10)
    runs = tmp_path / "runs"
    spec = load_study(study_file)
    study = open_study(spec, search_of(spec), runs / "toy")
    study.enqueue_trial({"params.offset": 0.0})
    study.enqueue_trial({"params.offset": 5.0})
    search_in_process(study_file, runs, target=2)
    good, bad = load(runs).trials
    assert good.state == TrialState.COMPLETE
    assert bad.state == TrialState.PRUNED and bad.user_attrs[OUTCOME_ATTR] == "pruned"
    assert max(bad.intermediate_values) < 100  # stopped before the last step
    store = FileSystemStore(runs / "toy")
    for seed in (0, 1):
        assert store.read_record(RunKey(variant="trial-0001", seed=seed)) is None
        assert store.status(RunKey(variant="trial-0001", seed=seed)) == "pending"


@pytest.mark.parametrize(
    ("choices", "noise", "verdict"),
    [
        ('["0.0", "1.0"]', 0.05, "winner"),  # offsets 0 and 1, seed noise sd 0.05
        ('["0.0", "0.0x"]', 0.3, "tie"),  # equal means; only the seed noise differs
    ],
)
def test_the_winner_is_named_only_when_it_separates(
    tmp_path: Path, choices: str, noise: float, verdict: str
) -> None:
    search = f"""\
    [search]
    trials = 2
    top_k = 2
    fresh_seeds = 4

    [search.space]
    "params.offset" = {{ type = "categorical", choices = {choices} }}
    """
    study_file = write_study(tmp_path, search, noise=noise)
    runs = tmp_path / "runs"
    spec = load_study(study_file)
    search_config = search_of(spec)
    assert search_config.fresh_seeds == (1000, 1001, 1002, 1003)
    search_in_process(study_file, runs, target=2)
    study = load(runs)
    trials = top_trials(study, 2)
    reevaluate(
        spec,
        search_config,
        trials,
        runs_root=runs,
        executor_factory=lambda: LocalExecutor(jobs=2, threads=1, device="cpu"),
    )
    check = separation_check(spec, search_config, trials, runs / "toy")
    assert check.verdict == verdict
    assert {c.variant for c in check.candidates} == {"trial-0000", "trial-0001"}
    assert all(sorted(c.fresh_values) == [1000, 1001, 1002, 1003] for c in check.candidates)
    if verdict == "winner":
        winner = next(t for t in trials if t.number == check.winner)
        assert winner.params["params.offset"] == "0.0"
        assert check.runner_up is not None and check.runner_up["verdict"] == "worse"
    else:
        assert check.winner is None and sorted(check.tied) == [0, 1]
    json.dumps(check.to_dict())  # what --format json prints


@pytest.mark.parametrize(
    ("search", "key", "suggestion"),
    [
        ("trails = 5", "search.trails", "search.trials"),
        (
            "[search.space]\nlr = { type = 'float', low = 1e-3, high = 1e-1 }",
            "search.space.lr",
            None,
        ),
        (
            "[search.space]\n'params.lrr' = { type = 'float', low = 1e-3, high = 1e-1 }",
            "search.space.params.lrr",
            "search.space.params.lr",
        ),
        (
            "[search.space]\n'params.lr' = { type = 'float', low = 1e-1, high = 1e-3 }",
            "search.space.params.lr.high",
            None,
        ),
        (
            "[search.space]\n'params.lr' = { type = 'float', low = 0.0, high = 1.0, log = true }",
            "search.space.params.lr.low",
            None,
        ),
        (
            "[search.space]\n'params.offset' = { type = 'categorical' }",
            "search.space.params.offset.choices",
            None,
        ),
        (
            "[search.space]\n'params.lr' = { type = 'flaot', low = 0.1, high = 1.0 }",
            "search.space.params.lr.type",
            "float",
        ),
        ("pruner = 'medain'", "search.pruner.kind", "median"),
        ("top_k = 1", "search.top_k", None),
        ("fresh_seeds = [1, 5]", "search.fresh_seeds", None),
        ("variant = 'proxi'", "search.variant", "proxy"),
        ("storage = 'postgres'", "search.storage", None),
    ],
)
def test_bad_search_input_names_the_key(
    tmp_path: Path, search: str, key: str, suggestion: str | None
) -> None:
    body = "[search]\n" + search
    if "[search.space]" not in search:
        body += "\n[search.space]\n'params.lr' = { type = 'float', low = 1e-3, high = 1e-1 }\n"
    study_file = write_study(tmp_path, body)
    with pytest.raises(SpecError) as info:
        search_of(load_study(study_file))
    assert info.value.key == key
    assert info.value.suggestion == suggestion
    assert str(study_file) in str(info.value)


def test_lr_search_study_file_is_valid() -> None:
    spec = load_study(REPO / "studies" / "lr_search.toml")
    search = search_of(spec)
    assert set(search.space) >= {"train.lr", "train.warmup_steps"}
    assert not set(search.seeds) & set(search.fresh_seeds)


def test_transfer_writes_a_study_with_the_chosen_values_at_the_target_width(
    tmp_path: Path,
) -> None:
    from optuna.distributions import FloatDistribution, IntDistribution
    from optuna.trial import create_trial

    runs = tmp_path / "runs"
    study_file = REPO / "studies" / "lr_search.toml"
    spec = load_study(study_file)
    study = open_study(spec, search_of(spec), runs / spec.name)
    distributions = {
        "train.lr": FloatDistribution(3e-4, 3e-2, log=True),
        "train.warmup_steps": IntDistribution(0, 40, step=10),
    }
    for lr, value in ((0.01, 3.1), (0.004, 3.0)):
        study.add_trial(
            create_trial(
                params={"train.lr": lr, "train.warmup_steps": 10},
                distributions=distributions,
                value=value,
            )
        )
    out = tmp_path / "transfer.toml"
    result = finish(tune_cli(study_file, runs, "--transfer-width", "128", "--output", str(out)))
    assert result["trial"] == 1 and result["params"]["train.lr"] == 0.004
    assert any("parametrization" in w for w in result["warnings"])  # SP: the LR may not move
    transferred = load_study(out)
    tuned, default = transferred.variant("tuned"), transferred.variant("default")
    assert tuned.config["model"]["n_embd"] == default.config["model"]["n_embd"] == 128
    assert tuned.config["train"]["lr"] == 0.004 and default.config["train"]["lr"] == 3e-3
    assert transferred.baseline == "default"


@pytest.mark.slow
def test_tune_trains_the_builtin_model(tmp_path: Path) -> None:
    """studies/lr_search.toml end to end with the real trainer, shrunk to a few steps."""
    pytest.importorskip("torch")
    tiny = [
        "--set=base.train.steps=4",
        "--set=base.train.eval_interval=2",
        "--set=base.data.val_sequences=8",
        "--set=search.seeds=1",
        "--set=search.top_k=0",
    ]
    study_file = REPO / "studies" / "lr_search.toml"
    runs = tmp_path / "runs"
    result = finish(tune_cli(study_file, runs, "--trials", "2", *tiny))
    assert result["n_trials_complete"] + result["n_trials_pruned"] == 2
    assert set(result["best_params"]) == {"train.lr", "train.warmup_steps"}
    study = load(runs, "lr_search")
    for trial in study.get_trials(states=(TrialState.COMPLETE,)):
        assert trial.intermediate_values.keys() == {2, 4}  # the seed-mean val_loss curve
        key = RunKey(variant=trial.user_attrs["harness_variant"], seed=0)
        config = FileSystemStore(runs / "lr_search").read_config(key)
        assert config.config["train"]["lr"] == trial.params["train.lr"]


def test_a_new_search_never_takes_another_searchs_trials(tmp_path: Path) -> None:
    """A second search (its own ``search.study_name``) in the same study folder runs its own
    trials: trial numbers restart at 0 in a new Optuna study, but the first search's
    ``trial-0000`` runs hold other parameters and must not become its results."""
    runs = tmp_path / "runs"
    first_file = write_study(tmp_path, LR_SEARCH)
    finish(tune_cli(first_file, runs, "--trials", "2"))
    # a search of its own, over a range the first search's values are outside
    second_search = LR_SEARCH.replace("[search]\n", '[search]\nstudy_name = "second"\n')
    second_search = second_search.replace("low = 1e-5", "low = 0.2")
    second_file = write_study(tmp_path, second_search)
    result = finish(tune_cli(second_file, runs, "--trials", "2"))
    assert result["trials_run_here"] == 2
    study = optuna.load_study(
        study_name="second",
        storage=optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(runs / "toy" / "tune" / "journal.log"))
        ),
    )
    store = FileSystemStore(runs / "toy")
    for trial in study.get_trials(states=(TrialState.COMPLETE,)):
        variant = trial.user_attrs["harness_variant"]
        for seed in (0, 1):
            key = RunKey(variant=variant, seed=seed)
            assert store.read_config(key).config["params"]["lr"] == trial.params["params.lr"]
            record = store.read_record(key)
            assert record.final_metrics["val_loss"] == trial.user_attrs[SEED_VALUES_ATTR][str(seed)]
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == 2
    assert_trials_match_runs(load(runs), runs, 2, others=study)  # the first search untouched


def test_a_search_never_takes_runs_a_lost_search_left_under_its_names(tmp_path: Path) -> None:
    """With the storage deleted, a new search's ``trial-0000`` is the old one's name: its
    finished runs (other parameters) are refused by path and key, never taken as results."""
    runs = tmp_path / "runs"
    finish(tune_cli(write_study(tmp_path, LR_SEARCH), runs, "--trials", "1"))
    (runs / "toy" / "tune" / "journal.log").unlink()
    narrower = write_study(tmp_path, LR_SEARCH.replace("low = 1e-5", "low = 0.2"))
    process = tune_cli(narrower, runs, "--trials", "1")
    _, err = process.communicate(timeout=TIMEOUT_S)
    assert process.returncode == 2, err
    assert "Traceback" not in err
    assert str(runs / "toy" / "runs" / "trial-0000") in err and "params.lr" in err
