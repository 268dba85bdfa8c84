"""End to end through the real ``harness`` CLI, in subprocesses: tiny studies of fast commands.

The external "training" script reports metrics to ``$HARNESS_RUN_DIR/metrics.jsonl``, records
how it was called in ``called.json``, and appends ``<variant> <seed>`` to a calls file, so the
tests can tell what was (re)trained.
"""

from __future__ import annotations

import collections
import copy
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from harness.store import FileSystemStore, RunKey, load_table

PYTHON = sys.executable
TIMEOUT_S = 120

FAKE_TRAIN = """\
import json, os, sys, time

args = sys.argv[1:]
options = dict(a[2:].split("=", 1) for a in args if a.startswith("--") and "=" in a)
run_dir = os.environ["HARNESS_RUN_DIR"]
seed, variant = int(os.environ["HARNESS_SEED"]), os.environ["HARNESS_VARIANT"]
wanted = ("HARNESS_SEED", "HARNESS_RUN_DIR", "HARNESS_VARIANT", "HARNESS_STUDY", "FAKE_CALLS")
with open(os.path.join(run_dir, "called.json"), "w") as f:
    json.dump({"argv": args, "env": {k: os.environ.get(k) for k in wanted}}, f)
with open(os.environ["FAKE_CALLS"], "a") as f:
    f.write(f"{variant} {seed}\\n")

offset, steps = float(options.get("offset", 1)), int(options.get("steps", 3))
sleep, mode = float(options.get("sleep", 0)), options.get("mode", "ok")
first_attempt = not os.path.exists(os.path.join(run_dir, "attempted"))
open(os.path.join(run_dir, "attempted"), "w").close()
if mode == "kill_worker" and seed == 0 and first_attempt:  # as the OOM killer would
    os.kill(os.getppid(), 9)
with open(os.path.join(run_dir, "metrics.jsonl"), "a") as metrics:
    for step in range(1, steps + 1):
        row = {"step": 10 * step, "val_loss": offset + seed / 10 + 1 / step}
        if step == 1:
            row["lr"] = 0.5  # reported once: its final value is this one
        metrics.write(json.dumps(row) + "\\n")
        metrics.flush()
        time.sleep(sleep)
    if mode == "nan":
        metrics.write(json.dumps({"step": 10 * steps + 10, "val_loss": float("nan")}) + "\\n")
if mode == "fail":
    for i in range(100):
        print(f"noise {i:03d}")
    print("out of cheese", flush=True)
    sys.exit(3)
"""


def final_val_loss(offset: float, seed: int, steps: int = 3) -> float:
    return offset + seed / 10 + 1 / steps


class Study:
    """A study file of command variants in its own directory, and the CLI to run it."""

    def __init__(self, root: Path, name: str, variants: dict[str, str], seeds: int = 3) -> None:
        self.root = root
        self.name = name
        root.mkdir(parents=True, exist_ok=True)
        script = root / "fake_train.py"
        script.write_text(FAKE_TRAIN)
        self.calls_file = root / "calls.txt"
        self.calls_file.touch()
        lines = [
            "[study]",
            f'name = "{name}"',
            'metric = "val_loss"',
            f"seeds = {seeds}",
            f'baseline = "{next(iter(variants))}"',
            "",
            "[base]",
            f"command = {json.dumps(f'{PYTHON} {script} --offset=1')}",
            f"env = {{ FAKE_CALLS = {json.dumps(str(self.calls_file))} }}",
        ]
        for variant, arguments in variants.items():
            lines += ["", f"[variants.{variant}]"]
            if arguments:
                lines.append(f"command = {json.dumps(f'{PYTHON} {script} {arguments}')}")
        self.path = root / "study.toml"
        self.path.write_text("\n".join(lines) + "\n")
        self.runs_dir = root / "runs"
        self.study_dir = self.runs_dir / name

    def harness(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return run_harness(*args, "--runs-dir", str(self.runs_dir), cwd=self.root, env=env)

    def study(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        wandb = [] if env and "WANDB_MODE" in env else ["--no-wandb"]
        return self.harness("study", str(self.path), "--jobs", "2", *wandb, *args, env=env)

    def calls(self) -> list[tuple[str, int]]:
        lines = self.calls_file.read_text().split()
        return [(v, int(s)) for v, s in zip(lines[::2], lines[1::2], strict=True)]

    def store(self) -> FileSystemStore:
        return FileSystemStore(self.study_dir)

    def records_bytes(self) -> dict[Path, bytes]:
        return {p: p.read_bytes() for p in sorted(self.study_dir.glob("runs/*/s*/record.json"))}


def run_harness(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **(env or {})}
    full_env.pop("HARNESS_RUNS_DIR", None)
    return subprocess.run(
        [PYTHON, "-m", "harness", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )


def check(result: subprocess.CompletedProcess[str], code: int = 0) -> None:
    assert result.returncode == code, (
        f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    assert "Traceback" not in result.stdout + result.stderr


# Placeholders, and arguments a shell would mangle: they must arrive literally. A brace is
# doubled to arrive as one ('{{unknown}}' is '{unknown}'); '{unknown}' itself is refused as a
# misspelt placeholder (tests/integration/test_typos.py).
LITERAL_ARGS = (
    "--offset=2 --seed={seed} --dir={run_dir} --variant={variant} "
    "a;b $HOME * >redirected \"two words\" '{{unknown}}'"
)

# -- one study, run once, read by several tests -----------------------------------------------


@pytest.fixture(scope="module")
def done(tmp_path_factory: pytest.TempPathFactory) -> Study:
    study = Study(
        tmp_path_factory.mktemp("e2e"),
        "e2e",
        {"baseline": "", "better": "--offset=0.5", "literal": LITERAL_ARGS},
    )
    result = study.study()  # with the progress display on
    check(result)
    return study


def test_every_run_is_done_with_the_last_reported_values(done: Study) -> None:
    store = done.store()
    keys = list(store.run_keys())
    assert len(keys) == 9
    assert {store.status(key) for key in keys} == {"done"}
    assert sorted(done.calls()) == sorted(
        (v, s) for v in ("baseline", "better", "literal") for s in range(3)
    )
    table = load_table(done.study_dir).sort("variant", "seed")
    offsets = {"baseline": 1.0, "better": 0.5, "literal": 2.0}
    expected = [
        (variant, seed, final_val_loss(offset, seed), 0.5)
        for variant, offset in sorted(offsets.items())
        for seed in range(3)
    ]
    rows = table.select("variant", "seed", "val_loss", "lr").rows()
    assert [r[:2] for r in rows] == [e[:2] for e in expected]
    for row, want in zip(rows, expected, strict=True):
        assert row[2] == pytest.approx(want[2], rel=1e-12)
        assert row[3] == want[3]


def test_each_run_stores_its_config_and_provenance(done: Study) -> None:
    store = done.store()
    for key in store.run_keys():
        config = store.read_config(key)
        record = store.read_record(key)
        assert config is not None and record is not None
        assert config.kind == record.kind == "command"
        assert config.config_hash == record.config_hash
        assert config.config["env"] == {"FAKE_CALLS": str(done.calls_file)}
        for field in ("host", "python", "harness", "device", "git_commit", "git_dirty", "torch"):
            assert field in record.provenance
        assert record.started_at and record.ended_at and record.wall_time_s >= 0
        assert not (store.run_dir(key) / "claim.json").exists(), "finished runs keep no claim"


def test_placeholders_and_environment(done: Study) -> None:
    store = done.store()
    for seed in range(3):
        run_dir = store.run_dir(RunKey(variant="literal", seed=seed)).resolve()
        called = json.loads((run_dir / "called.json").read_text())
        assert called["argv"][1:4] == [
            f"--seed={seed}",
            f"--dir={run_dir}",
            "--variant=literal",
        ]
        assert called["env"] == {
            "HARNESS_SEED": str(seed),
            "HARNESS_RUN_DIR": str(run_dir),
            "HARNESS_VARIANT": "literal",
            "HARNESS_STUDY": "e2e",
            "FAKE_CALLS": str(done.calls_file),
        }


def test_the_command_is_an_argument_list_not_a_shell(done: Study) -> None:
    run_dir = done.store().run_dir(RunKey(variant="literal", seed=0))
    argv = json.loads((run_dir / "called.json").read_text())["argv"]
    # split like a shell would (quotes), but nothing else a shell would do: no command
    # separator, no variable expansion, no glob, no redirection
    assert argv[4:] == ["a;b", "$HOME", "*", ">redirected", "two words", "{unknown}"]
    assert not list(done.root.rglob("redirected"))


def test_harness_runs_lists_every_run(done: Study) -> None:
    result = done.harness("runs", str(done.study_dir))
    check(result)
    assert "9 done" in result.stdout
    lines = [line for line in result.stdout.splitlines() if "literal" in line]
    assert len(lines) == 3
    assert f"{final_val_loss(2.0, 1):.4f}" in result.stdout
    # without an argument: the most recent study under the runs root
    result = done.harness("runs")
    check(result)
    assert "9 done" in result.stdout


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export(done: Study, tmp_path: Path, fmt: str) -> None:
    output = tmp_path / f"results.{fmt}"
    result = done.harness("export", "e2e", "--format", fmt, "--output", str(output))
    check(result)
    assert "wrote 9 rows" in result.stdout
    table = pl.read_csv(output) if fmt == "csv" else pl.read_parquet(output)
    expected = load_table(done.study_dir)
    assert table.columns == expected.columns
    assert table.sort("variant", "seed").rows() == expected.sort("variant", "seed").rows()
    curves = tmp_path / f"curves.{fmt}"
    check(done.harness("export", "--format", fmt, "--curves", "--output", str(curves)))
    table = pl.read_csv(curves) if fmt == "csv" else pl.read_parquet(curves)
    assert table.height == 9 * 3
    assert set(table.columns) >= {"variant", "seed", "step", "val_loss", "lr"}


def test_rerun_trains_nothing_and_is_fast(done: Study) -> None:
    calls, records = done.calls(), done.records_bytes()
    started = time.monotonic()
    result = done.study()
    elapsed = time.monotonic() - started
    check(result)
    assert done.calls() == calls, "a finished run was trained again"
    assert done.records_bytes() == records
    assert "0 run(s) executed now, 9 already finished" in result.stdout
    assert elapsed < 10, f"a rerun with nothing to do took {elapsed:.1f}s"


def test_a_changed_config_of_a_finished_run_is_refused(done: Study) -> None:
    calls, records = done.calls(), done.records_bytes()
    result = done.study("--set", 'variants.better.env.EXTRA="1"')
    check(result, 2)
    assert "better-s0" in result.stderr
    assert "env.EXTRA" in result.stderr
    assert "--fresh" in result.stderr
    assert "baseline-s0" not in result.stderr, "unchanged variants are not reported"
    assert done.calls() == calls
    assert done.records_bytes() == records


def copy_of(study: Study, tmp_path: Path) -> Study:
    """The finished study's results copied under another runs root (same file, same calls)."""
    clone = copy.copy(study)
    clone.runs_dir = tmp_path / "runs"
    clone.study_dir = clone.runs_dir / study.name
    shutil.copytree(study.runs_dir, clone.runs_dir)
    return clone


def test_fresh_moves_the_old_study_aside(done: Study, tmp_path: Path) -> None:
    study = copy_of(done, tmp_path)
    records = study.records_bytes()
    calls = len(study.calls())
    result = study.study("--fresh", "--seeds", "1", "--set", 'variants.better.env.EXTRA="1"')
    check(result)
    archived = [p for p in study.runs_dir.iterdir() if p.name.startswith("e2e.old-")]
    assert len(archived) == 1
    moved = {
        study.study_dir / p.relative_to(archived[0]): p.read_bytes()
        for p in sorted(archived[0].glob("runs/*/s*/record.json"))
    }
    assert moved == records, "the old study is kept whole"
    assert len(study.calls()) == calls + 3
    assert {k.seed for k in study.store().run_keys()} == {0}
    config = study.store().read_config(RunKey(variant="better", seed=0))
    assert config is not None
    assert config.config["env"] == {"FAKE_CALLS": str(study.calls_file), "EXTRA": "1"}


def test_more_seeds_add_only_the_new_runs(done: Study, tmp_path: Path) -> None:
    study = copy_of(done, tmp_path)
    records = study.records_bytes()
    before = len(study.calls())
    result = study.study("--seeds", "5")
    check(result)
    new_calls = study.calls()[before:]
    assert sorted(new_calls) == sorted(
        (v, s) for v in ("baseline", "better", "literal") for s in (3, 4)
    )
    after = study.records_bytes()
    assert {p: after[p] for p in records} == records
    assert len(after) == 15
    assert load_table(study.study_dir).height == 15


# -- failures ---------------------------------------------------------------------------------


def test_failed_and_diverged_runs_do_not_stop_the_study(tmp_path: Path) -> None:
    study = Study(
        tmp_path,
        "failures",
        {
            "fine": "",
            "broken": "--mode=fail",
            "exploding": "--mode=nan --steps=2",
            "orphaned": "--mode=kill_worker",
        },
        seeds=2,
    )
    result = study.study()
    check(result, 1)
    assert "2 run(s) failed: broken-s0, broken-s1" in result.stdout
    assert "--retry-failed" in result.stdout
    assert "1 run(s) did not finish: orphaned-s0" in result.stdout
    store = study.store()
    for seed in range(2):
        fine = store.read_record(RunKey(variant="fine", seed=seed))
        broken = store.read_record(RunKey(variant="broken", seed=seed))
        exploding = store.read_record(RunKey(variant="exploding", seed=seed))
        assert fine is not None and broken is not None and exploding is not None
        assert fine.status == "done"
        assert broken.status == "failed"
        assert broken.error == "command exited with code 3"
        tail = broken.output_tail or ""
        assert tail.endswith("out of cheese")
        assert "noise 099" in tail and "noise 000" not in tail, "the tail, not the head"
        assert broken.final_metrics["val_loss"] == pytest.approx(final_val_loss(1.0, seed))
        assert exploding.status == "diverged"
        assert exploding.diverged_step == 30
        assert "val_loss" in (exploding.error or "")
    # a run whose worker died leaves no record: unfinished, not failed
    orphaned = RunKey(variant="orphaned", seed=0)
    assert store.read_record(orphaned) is None
    assert store.status(orphaned) == "pending"
    assert store.status(RunKey(variant="orphaned", seed=1)) == "done"
    table = load_table(study.study_dir)
    assert sorted(table["variant"].unique().to_list()) == ["fine", "orphaned"]

    # A rerun finishes the unfinished run and leaves failed runs alone unless asked;
    # --retry-failed runs them again.
    before = collections.Counter(study.calls())
    check(study.study(), 1)
    assert collections.Counter(study.calls()) - before == {("orphaned", 0): 1}
    assert store.status(orphaned) == "done"
    before = collections.Counter(study.calls())
    check(study.study("--retry-failed"), 1)
    retried = collections.Counter(study.calls()) - before
    assert retried == collections.Counter({("broken", 0): 1, ("broken", 1): 1})


def test_a_command_that_does_not_exist_fails_its_run(tmp_path: Path) -> None:
    study = Study(tmp_path, "missing", {"fine": "", "gone": ""}, seeds=1)
    text = study.path.read_text().replace(
        "[variants.gone]", '[variants.gone]\ncommand = "/nonexistent/train --seed {seed}"'
    )
    study.path.write_text(text)
    result = study.study()
    check(result, 1)
    record = study.store().read_record(RunKey(variant="gone", seed=0))
    assert record is not None and record.status == "failed"
    assert study.store().status(RunKey(variant="fine", seed=0)) == "done"


# -- kill -9 of the whole process group ---------------------------------------------------------


def test_kill_9_of_the_process_group_then_resume(tmp_path: Path) -> None:
    study = Study(
        tmp_path,
        "killed",
        {"slow": "--steps=4 --sleep=0.03", "slower": "--steps=4 --sleep=0.04"},
        seeds=4,
    )
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("HARNESS_RUNS_DIR", None)
    process = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "harness",
            "study",
            str(study.path),
            "--runs-dir",
            str(study.runs_dir),
            "--jobs",
            "2",
            "--no-wandb",
            "--no-progress",
        ],
        cwd=study.root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while True:
            assert process.poll() is None, "the study finished before it could be killed"
            assert time.monotonic() < deadline
            finished = list(study.study_dir.glob("runs/*/s*/record.json"))
            running = [
                claim
                for claim in study.study_dir.glob("runs/*/s*/claim.json")
                if not (claim.parent / "record.json").exists()
            ]
            if len(finished) >= 2 and running:
                break
            time.sleep(0.005)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    time.sleep(0.1)  # let the killed group's orphans be reaped
    records = study.records_bytes()
    assert 2 <= len(records) < 8
    calls_before = collections.Counter(study.calls())

    result = study.study("--no-progress")
    check(result)
    store = study.store()
    keys = list(store.run_keys())
    assert len(keys) == 8
    assert {store.status(key) for key in keys} == {"done"}
    assert {p: p.read_bytes() for p in records} == records, "finished runs are not retrained"
    calls = collections.Counter(study.calls()) - calls_before
    finished_keys = {(p.parent.parent.name, int(p.parent.name[1:])) for p in records}
    assert not finished_keys & set(calls), "a run finished before the kill was trained again"
    assert set(calls) | finished_keys == {(k.variant, k.seed) for k in keys}
    for key in keys:  # a rerun starts its metrics afresh: no rows left from the killed attempt
        rows = (store.run_dir(key) / "metrics.jsonl").read_text().splitlines()
        assert [json.loads(row)["step"] for row in rows] == [10, 20, 30, 40]


def start_study(study: Study, *args: str) -> subprocess.Popen[str]:
    """``harness study`` in its own process group (as a terminal would run it)."""
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    env.pop("HARNESS_RUNS_DIR", None)
    argv = [PYTHON, "-m", "harness", "study", str(study.path), "--runs-dir", str(study.runs_dir)]
    return subprocess.Popen(
        [*argv, "--jobs", "2", "--no-wandb", "--no-progress", *args],
        cwd=study.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def test_ctrl_c_stops_the_study_and_loses_nothing(tmp_path: Path) -> None:
    study = Study(tmp_path, "interrupted", {"a": "--steps=10 --sleep=0.03"}, seeds=6)
    process = start_study(study)
    deadline = time.monotonic() + TIMEOUT_S
    while len(study.records_bytes()) < 1:
        assert process.poll() is None, "the study finished before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    time.sleep(0.1)
    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C reaches the terminal's whole process group
    _, err = process.communicate(timeout=TIMEOUT_S)
    assert process.returncode == 130, err
    assert "interrupted" in err and "run again to resume" in err
    assert "Traceback" not in err
    records = study.records_bytes()
    assert 1 <= len(records) < 6
    statuses = {study.store().status(k) for k in study.store().run_keys()}
    assert statuses <= {"done", "pending"}, "an interrupted run is unfinished, not failed"
    assert not list(study.study_dir.glob("runs/*/s*/claim.json")), "claims are released"
    check(study.study())
    after = study.records_bytes()
    assert len(after) == 6
    assert {p: after[p] for p in records} == records


def test_two_runners_on_one_study_share_the_runs(tmp_path: Path) -> None:
    study = Study(tmp_path, "shared", {"a": "--sleep=0.02", "b": "--sleep=0.02"}, seeds=5)
    first, second = start_study(study), start_study(study)
    for process in (first, second):
        out, err = process.communicate(timeout=TIMEOUT_S)
        assert process.returncode == 0, out + err
        assert "Traceback" not in err
    store = study.store()
    assert {store.status(k) for k in store.run_keys()} == {"done"}
    assert len(list(store.run_keys())) == 10
    calls = collections.Counter(study.calls())
    assert max(calls.values()) == 1, f"runs trained twice: {calls}"
    assert len(calls) == 10


# -- Weights & Biases ---------------------------------------------------------------------------


def test_wandb_offline_run_inside_the_run_dir(tmp_path: Path) -> None:
    pytest.importorskip("wandb")
    study = Study(tmp_path, "wandb_offline", {"only": ""}, seeds=1)
    wandb_home = tmp_path / "wandb_home"
    env = {
        "WANDB_MODE": "offline",
        "WANDB_BASE_URL": "http://127.0.0.1:9",  # nothing listens: going online would fail
        "WANDB_API_KEY": "",
        "WANDB_CONFIG_DIR": str(wandb_home),
        "WANDB_CACHE_DIR": str(wandb_home),
        "WANDB_DATA_DIR": str(wandb_home),
    }
    result = study.study(env=env)
    check(result)
    run_dir = study.store().run_dir(RunKey(variant="only", seed=0))
    record = study.store().read_record(RunKey(variant="only", seed=0))
    assert record is not None and record.status == "done"
    offline = list((run_dir / "wandb").glob("offline-run-*"))
    assert len(offline) == 1, sorted(p.name for p in (run_dir / "wandb").iterdir())
    assert not list((run_dir / "wandb").glob("run-*")), "an online run was started"
    logged = b"".join(p.read_bytes() for p in offline[0].glob("*.wandb"))
    assert b"val_loss" in logged, "the command's metrics reach wandb"


def test_no_wandb_leaves_no_wandb_files(done: Study) -> None:
    run_dir = done.store().run_dir(RunKey(variant="baseline", seed=0))
    assert not (run_dir / "wandb").exists()


# -- built-in variants (need the built-in trainer) ------------------------------------------------


def require_builtin_trainer() -> None:
    """Skip until the built-in trainer's config exists; once it does, these tests must pass."""
    try:
        found = importlib.util.find_spec("harness.training.config") is not None
    except ModuleNotFoundError:
        found = False
    if not found:
        pytest.skip("harness.training.config does not exist yet")


TINY_BUILTIN = """\
[study]
name = "mixed"
seeds = 1
baseline = "builtin"

[base]
model.n_layer = 1
model.n_head = 2
model.n_embd = 16
model.block_size = 16
data.val_sequences = 4
train.steps = 3
train.batch_size = 2
train.warmup_steps = 0
train.smooth_window = 1
train.eval_batch_size = 4

[variants.builtin]
[variants.builtin_again]     # the same config and seed: must give the same numbers
[variants.external]
command = {command}
env = {{ FAKE_CALLS = {calls} }}
"""


@pytest.mark.slow  # two built-in runs: each worker imports torch
def test_builtin_and_command_variants_in_one_study(tmp_path: Path) -> None:
    require_builtin_trainer()
    study = Study(tmp_path, "mixed", {"unused": ""})
    command = f"{PYTHON} {study.root / 'fake_train.py'} --offset=0.5"
    study.path.write_text(
        TINY_BUILTIN.format(command=json.dumps(command), calls=json.dumps(str(study.calls_file)))
    )
    check(study.harness("validate", str(study.path)))
    check(study.study("--device", "cpu", "--threads", "1", "--no-progress"))
    store = study.store()
    records = {v: store.read_record(RunKey(variant=v, seed=0)) for v in ("builtin", "external")}
    builtin, external = records["builtin"], records["external"]
    assert builtin is not None and builtin.status == "done", builtin
    assert builtin.kind == "builtin"
    assert {"val_loss", "train_loss"} <= set(builtin.final_metrics)
    assert builtin.provenance["device"] == "cpu"
    assert builtin.provenance["torch"]
    assert external is not None and external.status == "done"
    assert external.final_metrics["val_loss"] == pytest.approx(final_val_loss(0.5, 0))
    assert load_table(study.study_dir).height == 3

    # Two executions of one config and seed (in two processes) give bit-identical metrics.
    def computed(variant: str) -> list[dict[str, object]]:
        measured = ("tokens_per_s", "time", "wall", "memory")  # measured, not computed
        path = store.run_dir(RunKey(variant=variant, seed=0)) / "metrics.jsonl"
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        return [{k: v for k, v in r.items() if not any(m in k for m in measured)} for r in rows]

    assert computed("builtin") == computed("builtin_again")
    assert len(computed("builtin")) >= 3

    snapshot = study.records_bytes()
    check(study.study("--device", "cpu", "--threads", "1", "--no-progress"))
    assert study.records_bytes() == snapshot, "a rerun trains nothing"
