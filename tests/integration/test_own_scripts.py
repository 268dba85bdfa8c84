"""Your own training script, unchanged: real small scripts run as commands through the CLI.

No mock of the scripts or of wandb: each script is a real Python file (the README's three
examples in ``studies/examples/``, the rest written here), and the wandb one calls the real
wandb, offline, with nothing to reach on the network.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.results.load import load_inputs
from harness.store import FileSystemStore, RunKey, load_table
from harness.store.records import RunRecord

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "studies" / "examples"
PYTHON = sys.executable
TIMEOUT_S = 180


def harness(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None):
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


def study(path: Path, runs: Path, *args: str, cwd: Path = ROOT, env=None, wandb: bool = False):
    flags = [] if wandb else ["--no-wandb"]
    return harness(
        "study", str(path), "--runs-dir", str(runs), "--jobs", "2", "--no-progress", *flags,
        *args, cwd=cwd, env=env,
    )  # fmt: skip


def check(result: subprocess.CompletedProcess[str], code: int = 0) -> None:
    assert result.returncode == code, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"


def record(study_dir: Path, variant: str, seed: int) -> RunRecord:
    found = FileSystemStore(study_dir).read_record(RunKey(variant=variant, seed=seed))
    assert found is not None, f"no record for {variant}-s{seed}"
    return found


def write_study(root: Path, name: str, variants: dict[str, str], base: str, metric: str) -> Path:
    """A study file: ``base`` lines under [base], each variant's lines under its table."""
    lines = ["[study]", f'name = "{name}"', f'metric = "{metric}"', "seeds = 2", "", "[base]"]
    lines += [base, ""]
    for variant, body in variants.items():
        lines += [f"[variants.{variant}]", body, ""]
    path = root / f"{name}.toml"
    path.write_text("\n".join(lines))
    return path


# -- the README's examples -------------------------------------------------------------------


def test_printed_losses_by_regex_and_by_auto(tmp_path: Path) -> None:
    example = EXAMPLES / "prints_losses.toml"
    check(study(example, tmp_path / "regex", "--seeds", "2"))
    auto = study(example, tmp_path / "auto", "--seeds", "2", "--set", 'base.metrics.stdout="auto"')
    check(auto)
    by_regex = load_table(tmp_path / "regex" / "prints_losses").sort("variant", "seed")
    by_auto = load_table(tmp_path / "auto" / "prints_losses").sort("variant", "seed")
    assert by_regex.height == 4
    assert by_regex["val_loss"].to_list() == by_auto["val_loss"].to_list()
    assert by_regex["train_loss"].to_list() == by_auto["train_loss"].to_list()
    # the curve: one row per printed line, at the printed step
    curve = (tmp_path / "regex/prints_losses/runs/wide/s1/metrics.jsonl").read_text()
    assert [json.loads(line)["step"] for line in curve.splitlines()] == [10, 20, 30, 40, 50]
    compared = harness("compare", str(tmp_path / "regex" / "prints_losses"))
    check(compared)
    assert "wide" in compared.stdout


def test_results_json_with_slashed_names(tmp_path: Path) -> None:
    check(study(EXAMPLES / "writes_results.toml", tmp_path, "--seeds", "2"))
    study_dir = tmp_path / "writes_results"
    done = record(study_dir, "dropout", 1)
    assert done.status == "done"
    assert set(done.final_metrics) == {"val/loss", "val/accuracy", "train/loss", "steps"}
    results = json.loads((study_dir / "runs/dropout/s1/results.json").read_text())
    assert done.final_metrics["val/loss"] == results["val"]["loss"]
    compared = harness("compare", str(study_dir), "--metric", "val/accuracy")
    check(compared)
    assert "val/accuracy" in compared.stdout


WANDB_ENV = {
    "WANDB_MODE": "offline",
    "WANDB_BASE_URL": "http://127.0.0.1:9",  # nothing listens: going online would fail
    "WANDB_API_KEY": "",
    "WANDB_SILENT": "true",
}


def test_a_script_logging_to_wandb_is_the_one_wandb_run(tmp_path: Path) -> None:
    pytest.importorskip("wandb")
    home = tmp_path / "wandb_home"
    env = {**WANDB_ENV, **{k: str(home) for k in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR")}}
    example = EXAMPLES / "logs_to_wandb.toml"
    check(study(example, tmp_path, "--seeds", "2", env=env, wandb=True))
    study_dir = tmp_path / "logs_to_wandb"
    from harness.worker.wandb_source import read_wandb_run

    for variant in ("no_warmup", "warmup"):
        for seed in (0, 1):
            run_dir = study_dir / "runs" / variant / f"s{seed}"
            runs = sorted((run_dir / "wandb").glob("*run-*"))
            assert len(runs) == 1, runs  # the script's run; harness started none of its own
            assert runs[0].name.startswith("offline-run-")
            wandb_run = read_wandb_run(run_dir, runs[0].name.rsplit("-", 1)[-1])
            assert wandb_run.group == "logs_to_wandb"
            done = record(study_dir, variant, seed)
            assert done.status == "done"
            assert done.final_metrics["val/loss"] == wandb_run.rows[-1]["val/loss"]
            steps = [json.loads(r)["step"] for r in (run_dir / "metrics.jsonl").open()]
            assert steps[:4] == [10, 20, 30, 40]  # the history, read back
    # a rerun (the record lost, as when a worker dies) resumes the same wandb run id
    run_dir = study_dir / "runs" / "warmup" / "s1"
    (run_dir / "record.json").unlink()
    check(study(example, tmp_path, "--seeds", "2", env=env, wandb=True))
    ids = {p.name.rsplit("-", 1)[-1] for p in (run_dir / "wandb").glob("*run-*")}
    assert len(list((run_dir / "wandb").glob("*run-*"))) == 2 and len(ids) == 1
    assert record(study_dir, "warmup", 1).status == "done"


# -- real libraries' output, replayed ----------------------------------------------------------

FIXTURES = ROOT / "tests" / "fixtures" / "script_outputs"


def test_auto_reads_what_real_libraries_print(tmp_path: Path) -> None:
    """Each fixture (the output of a real Trainer, Lightning, nanoGPT-style, minGPT-style or
    tqdm run) printed by a study's command: "auto" records exactly the metrics a user would
    name, with the last values printed."""
    expected = json.loads((FIXTURES / "expected_metrics.json").read_text())
    trainer = [name for name in expected if name.startswith("transformers")]
    by_metric = {
        "eval_loss": trainer,
        "train_loss": [n for n, v in expected.items() if "train_loss" in v and n not in trainer],
        "loss": [name for name, values in expected.items() if "train_loss" not in values],
    }
    assert sorted(by_metric["eval_loss"] + by_metric["train_loss"] + by_metric["loss"]) == sorted(
        expected
    )
    for metric, fixtures in by_metric.items():
        variants = {
            name.removesuffix(".txt"): f'params = {{ fixture = "{name}" }}' for name in fixtures
        }
        command = f"{PYTHON} {FIXTURES / 'scripts' / 'print_fixture.py'} {{fixture}}"
        path = write_study(
            tmp_path,
            f"replay_{metric}",
            variants,
            base=f'command = "{command}"\nmetrics = {{ stdout = "auto" }}',
            metric=metric,
        )
        check(study(path, tmp_path / "runs", "--seeds", "1"))
        for variant, name in zip(variants, fixtures, strict=True):
            done = record(tmp_path / "runs" / f"replay_{metric}", variant, 0)
            assert done.status == "done", (variant, done)
            assert done.final_metrics == expected[name], variant
            # the Trainer prints no step: its curves are at line numbers, and say so
            assert done.provenance.get("step_axis") == ("log line" if name in trainer else None)
        axis = load_inputs(str(tmp_path / "runs" / f"replay_{metric}")).step_axis()
        assert axis == ("log line" if metric == "eval_loss" else "step")


# -- the other sources ------------------------------------------------------------------------

WRITER = """\
import csv, json, os, random, sys
kind, seed, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rng = random.Random(seed)
rows = [{"step": s, "val/loss": round(3 - s / 100 + rng.random() / 10, 6)} for s in (50, 100)]
if kind == "log":
    with open(os.path.join(out, "train.log"), "w") as f:
        for row in rows:
            f.write(f"iter {row['step']} | val/loss: {row['val/loss']}\\n")
elif kind == "jsonl":
    with open(os.path.join(out, "log.jsonl"), "w") as f:
        f.writelines(json.dumps(row) + "\\n" for row in rows)
elif kind == "csv":
    with open(os.path.join(out, f"log-{seed}.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, ["step", "val/loss"])
        writer.writeheader()
        writer.writerows(rows)
print("training done")  # nothing on stdout to parse
"""


def test_log_file_jsonl_and_csv(tmp_path: Path) -> None:
    (tmp_path / "writer.py").write_text(WRITER)
    path = write_study(
        tmp_path,
        "sources",
        {
            "log": 'params = { kind = "log" }\nmetrics = { log = "{run_dir}/train.log" }',
            "jsonl": 'params = { kind = "jsonl" }\nmetrics = { file = "{run_dir}/log.jsonl" }',
            "csv": 'params = { kind = "csv" }\nmetrics = { file = ["{run_dir}/log-{seed}.csv"] }',
        },
        base=f'command = "{PYTHON} writer.py {{kind}} {{seed}} {{run_dir}}"',
        metric="val/loss",
    )
    check(study(path, tmp_path / "runs", cwd=tmp_path))
    table = load_table(tmp_path / "runs" / "sources").sort("seed", "variant")
    values = table.filter(table["seed"] == 1)["val/loss"].to_list()
    assert len(set(values)) == 1, table  # the same numbers, whichever the file
    for variant in ("log", "jsonl", "csv"):
        curve = (tmp_path / f"runs/sources/runs/{variant}/s1/metrics.jsonl").read_text()
        assert [json.loads(line)["step"] for line in curve.splitlines()] == [50, 100]


# -- loud failures -----------------------------------------------------------------------------

MISBEHAVING = """\
import json, os, random, sys
kind, seed, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if kind == "ignores_seed":
    seed = 1337  # as many scripts do: torch.manual_seed(1337)
rng = random.Random(seed)
if kind == "silent":
    print("epoch done, looks good")
elif kind == "nan":
    print("step 1: loss 2.5")
    print("step 2: loss nan")
elif kind == "bad_json":
    open(os.path.join(out, "results.json"), "w").write("{'loss': 2.0")
else:
    print(f"step 1: loss {2 + rng.random():.6f}")
"""


def test_runs_without_the_metric_fail_loudly(tmp_path: Path) -> None:
    (tmp_path / "misbehaving.py").write_text(MISBEHAVING)
    printed = 'metrics = { stdout = "auto" }'
    written = 'metrics = { file = "{run_dir}/results.json" }'
    sources = {"ignores_seed": printed, "silent": printed, "nan": printed}
    sources |= {"missing_file": written, "bad_json": written, "no_table": ""}
    variants = {kind: f'params = {{ kind = "{kind}" }}\n{table}' for kind, table in sources.items()}
    base = f'command = "{PYTHON} misbehaving.py {{kind}} {{seed}} {{run_dir}}"'
    # One variant reports the metric first: a study whose first finished run misses it stops
    # there, as a misspelt metric (tests/integration/test_typos.py); here each run is looked at.
    first = {"ignores_seed": variants["ignores_seed"]}
    first_path = write_study(tmp_path, "loud", first, base=base, metric="loss")
    check(study(first_path, tmp_path / "runs", cwd=tmp_path))
    path = write_study(tmp_path, "loud", variants, base=base, metric="loss")
    result = study(path, tmp_path / "runs", cwd=tmp_path)
    check(result, 1)  # failed runs: harness study exits non-zero
    study_dir = tmp_path / "runs" / "loud"
    silent = record(study_dir, "silent", 0)
    assert silent.status == "failed"
    assert silent.error is not None
    assert "never reported the study metric 'loss'" in silent.error
    assert "stdout (auto): 0 row(s)" in silent.error
    assert "epoch done, looks good" in silent.error  # the last lines of output
    no_table = record(study_dir, "no_table", 1)
    assert no_table.status == "failed" and no_table.error is not None
    assert "$HARNESS_RUN_DIR/metrics.jsonl" in no_table.error
    assert 'stdout = "auto"' in no_table.error  # what to declare
    missing = record(study_dir, "missing_file", 0)
    assert missing.status == "failed" and missing.error is not None
    assert missing.error.startswith("metrics.file: ") and "results.json was not written" in (
        missing.error
    )
    bad = record(study_dir, "bad_json", 0)
    assert bad.error is not None and "is not valid JSON" in bad.error
    diverged = record(study_dir, "nan", 0)
    assert (diverged.status, diverged.diverged_step) == ("diverged", 2)
    ignored = [record(study_dir, "ignores_seed", seed) for seed in (0, 1)]
    assert [r.status for r in ignored] == ["done", "done"]
    assert ignored[0].final_metrics == ignored[1].final_metrics
    summary = " ".join(result.stdout.split())  # rich wraps long lines
    assert "warning: ignores_seed: every seed (0, 1) gave the bit-identical final loss" in summary
    assert "--seed {seed}" in summary
    assert "silent" in summary and "failed" in summary


def test_a_missing_wandb_run_fails_the_run(tmp_path: Path) -> None:
    (tmp_path / "quiet.py").write_text("print('no wandb here')\n")
    path = write_study(
        tmp_path,
        "nowandb",
        {"only": ""},
        base=f'command = "{PYTHON} quiet.py {{seed}}"\nmetrics = {{ wandb = true }}',
        metric="loss",
    )
    check(study(path, tmp_path / "runs", "--seeds", "1", cwd=tmp_path), 1)
    failed = record(tmp_path / "runs" / "nowandb", "only", 0)
    assert failed.status == "failed" and failed.error is not None
    assert failed.error.startswith("metrics.wandb: the command left no wandb run")


# -- a script's own wandb run, isolated from harness's --------------------------------------

# What the study and wandb_env set for a script's own wandb run, and what the user's
# environment (WANDB_ENV) holds: any other WANDB_* variable the command sees is harness's.
SCRIPT_WANDB_VARS = {
    *WANDB_ENV, "WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DIR", "WANDB_RUN_GROUP",
    "WANDB_NAME", "WANDB_JOB_TYPE", "WANDB_TAGS", "WANDB_RUN_ID", "WANDB_RESUME", "WANDB_PROJECT",
}  # fmt: skip

ENV_DUMPING_SCRIPT = """\
import json, os, sys
wandb_vars = {k: v for k, v in os.environ.items() if "WANDB" in k.upper()}
with open(os.path.join(os.environ["HARNESS_RUN_DIR"], "command_env.json"), "w") as f:
    json.dump(wandb_vars, f)
if "--wandb" not in sys.argv:
    with open(os.path.join(os.environ["HARNESS_RUN_DIR"], "metrics.jsonl"), "a") as f:
        f.write(json.dumps({"step": 1, "loss": 1.0 + int(sys.argv[1])}) + "\\n")
    raise SystemExit(0)
import wandb
run = wandb.init(config={"seed": int(sys.argv[1])})
for step in range(1, 6):
    wandb.log({"train/loss": 3.0 / step + int(sys.argv[1])}, step=step)
wandb.log({"val/loss": 0.5 + int(sys.argv[1])}, step=5)
if "--exit-without-finish" not in sys.argv:  # else wandb finishes the run as Python exits
    run.finish()
"""


def wandb_home_env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "wandb_home"
    return {**WANDB_ENV, **{k: str(home) for k in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR")}}


def test_a_script_using_wandb_gets_its_metrics_every_time_through_warm_workers(
    tmp_path: Path,
) -> None:
    """12 runs in a row through the warm workers (2 at a time), harness's own wandb on: each
    script's wandb run is complete when it exits and read then, none with "0 rows"; the
    command sees none of harness's wandb internals (WANDB_SERVICE above all)."""
    pytest.importorskip("wandb")
    (tmp_path / "script.py").write_text(ENV_DUMPING_SCRIPT)
    path = write_study(
        tmp_path,
        "own_wandb",
        {"a": "", "b": 'params = { finish = "--exit-without-finish" }'},
        base=(
            f'command = "{PYTHON} script.py {{seed}} --wandb {{finish}}"\n'
            'params = { finish = "" }\nmetrics = { wandb = true }'
        ),
        metric="val/loss",
    )
    runs = tmp_path / "runs"
    result = study(
        path, runs, "--seeds", "6", cwd=tmp_path, env=wandb_home_env(tmp_path), wandb=True
    )
    study_dir = runs / "own_wandb"
    problems, leaked = [], set()
    for variant in ("a", "b"):
        for seed in range(6):
            done = record(study_dir, variant, seed)
            seen = json.loads(
                (study_dir / "runs" / variant / f"s{seed}" / "command_env.json").read_text()
            )
            leaked |= set(seen) - SCRIPT_WANDB_VARS
            if done.status != "done":
                problems.append(f"{variant}-s{seed}: {done.status}: {done.error}")
                continue
            assert done.final_metrics["val/loss"] == 0.5 + seed
            assert done.final_metrics["train/loss"] == 3.0 / 5 + seed
    assert not problems, f"{len(problems)} of 12 runs lost their metrics:\n" + "\n".join(problems)
    assert not leaked, f"harness's wandb internals reached the command: {sorted(leaked)}"
    check(result)


def test_the_command_sees_no_wandb_internals_while_harness_logs_to_wandb(tmp_path: Path) -> None:
    """A command without a metrics table: harness's own wandb run logs what it writes (its
    service started in the warm worker), and the command sees none of it."""
    pytest.importorskip("wandb")
    (tmp_path / "script.py").write_text(ENV_DUMPING_SCRIPT)
    path = write_study(
        tmp_path,
        "sink_on",
        {"only": ""},
        base=f'command = "{PYTHON} script.py {{seed}}"',
        metric="loss",
    )
    runs = tmp_path / "runs"
    check(study(path, runs, "--seeds", "2", cwd=tmp_path, env=wandb_home_env(tmp_path), wandb=True))
    for seed in (0, 1):
        run_dir = runs / "sink_on" / "runs" / "only" / f"s{seed}"
        assert record(runs / "sink_on", "only", seed).status == "done"
        assert list((run_dir / "wandb").glob("offline-run-*")), "harness's own wandb run is on"
        seen = json.loads((run_dir / "command_env.json").read_text())
        assert "WANDB_SERVICE" not in seen
        # only the user's own WANDB_* variables: harness's wandb run is none of the command's
        assert set(seen) <= set(wandb_home_env(tmp_path)), sorted(
            set(seen) - set(wandb_home_env(tmp_path))
        )


# -- at the door ------------------------------------------------------------------------------


def test_validate_errors_and_warnings(tmp_path: Path) -> None:
    bad = write_study(
        tmp_path,
        "bad",
        {"a": ""},
        base='command = "python t.py --seed {seed}"\nmetrics = { stdout = ["loss (?P<loss>"] }',
        metric="loss",
    )
    result = harness("validate", str(bad), "--runs-dir", str(tmp_path))
    check(result, 2)
    assert "base.metrics.stdout" in result.stderr and "not a valid regex" in result.stderr
    assert "Traceback" not in result.stderr
    warned = write_study(
        tmp_path,
        "warned",
        {"a": ""},
        base='command = "python t.py --seed 42"\n'
        'metrics = { stdout = ["train loss (?P<train_loss>\\\\S+)"] }',
        metric="val/loss",
    )
    result = harness("validate", str(warned), "--runs-dir", str(tmp_path))
    check(result)
    warnings = " ".join(result.stderr.split())
    assert "variants.a: the command never receives the seed" in warnings
    assert "the study metric 'val/loss' comes from no declared source" in warnings
    assert "(?P<val__loss>...)" in warnings


def test_import_commands_with_auto_metrics_runs_in_one_step(tmp_path: Path) -> None:
    """Seed 000's head-mixing list: imported with --metrics auto, it runs and compares."""
    (tmp_path / "train.py").write_text(
        "import argparse, random\n"
        "p = argparse.ArgumentParser()\n"
        "p.add_argument('--level'); p.add_argument('--seed', type=int)\n"
        "args, _ = p.parse_known_args()\n"
        "rng = random.Random(sum(map(ord, args.level)) + args.seed)\n"
        "for step in (100, 200):\n"
        "    print(f'step {step} | loss {3 - step / 1000 + rng.random() / 10:.4f}')\n"
    )
    source = ROOT / "tests/fixtures/import_commands/e88_round8.txt"
    out = tmp_path / "e88.toml"
    imported = harness(
        "import-commands", str(source), "-o", str(out), "--metrics", "auto", "--metric",
        "loss", "--seeds", "2", cwd=tmp_path,
    )  # fmt: skip
    check(imported)
    assert "[base.metrics]" in out.read_text() and "stdout = 'auto'" in out.read_text()
    check(study(out, tmp_path / "runs", cwd=tmp_path))
    table = load_table(tmp_path / "runs" / "e88_round8")
    assert table.height == 2 * len(table["variant"].unique()) >= 10
    check(harness("compare", str(tmp_path / "runs" / "e88_round8"), cwd=tmp_path))
    pattern = harness(
        "import-commands", str(source), "--metrics-pattern", "loss (?P<loss", cwd=tmp_path
    )
    check(pattern, 2)
    assert "not a valid regex" in pattern.stderr and "Traceback" not in pattern.stderr
