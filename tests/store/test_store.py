"""The results store: the conformance suite on every store, filesystem details, and tables."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from store_conformance import StoreConformance, StoreFactory, make_config, make_record, owner_for

from harness.errors import UserError
from harness.executors.local import LocalExecutor
from harness.run.runner import run_study
from harness.store import (
    STALE_AFTER_S,
    FileSystemStore,
    RunKey,
    StudyMeta,
    claim_owner,
    find_study_dir,
    load_curves,
    load_records,
    load_study_meta,
    load_table,
)
from harness.store.metrics_file import read_metrics
from harness.store.records import final_metrics, first_non_finite
from harness.study.spec import parse_study

# Every store implementation, by name. A new store is one more entry here.
STORE_FACTORIES: dict[str, StoreFactory] = {
    "filesystem": FileSystemStore,
}


@pytest.fixture(params=sorted(STORE_FACTORIES))
def store_factory(request: pytest.FixtureRequest) -> StoreFactory:
    return STORE_FACTORIES[request.param]


class TestStoreConformance(StoreConformance):
    pass


# -- the filesystem store's own details ---------------------------------------------------------


@pytest.fixture
def fs_store(tmp_path: Path) -> FileSystemStore:
    return FileSystemStore(tmp_path / "study")


def test_layout_follows_the_architecture(fs_store: FileSystemStore) -> None:
    key = RunKey(variant="selective", seed=2)
    assert fs_store.run_dir(key) == fs_store.study_dir / "runs" / "selective" / "s2"
    fs_store.write_config(make_config("selective", 2))
    fs_store.write_record(make_record("selective", 2))
    run_dir = fs_store.run_dir(key)
    assert json.loads((run_dir / "config.json").read_text())["config_hash"] == "selective-2-hash"
    assert json.loads((run_dir / "record.json").read_text())["status"] == "done"
    leftovers = [p.name for p in run_dir.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == [], "atomic writes leave no temporary files behind"


def test_a_leftover_temp_file_is_not_a_record(fs_store: FileSystemStore) -> None:
    key = RunKey(variant="a", seed=0)
    fs_store.write_config(make_config())
    run_dir = fs_store.run_dir(key)
    torn = make_record().to_json()[:100]
    (run_dir / ".record.json.0123456789abcdef.tmp").write_text(torn)
    assert fs_store.read_record(key) is None
    assert fs_store.status(key) == "pending"
    assert list(fs_store.run_keys()) == [key]
    fs_store.write_record(make_record())
    assert fs_store.status(key) == "done"


def test_a_torn_metrics_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text(
        '{"step": 1, "val_loss": 3.0, "lr": 0.1}\n'
        "\n"
        '{"step": 2, "val_loss": 2.5}\n'
        "[1, 2]\n"
        '{"step": 3, "val_lo'
    )
    rows = read_metrics(path)
    assert rows == [{"step": 1, "val_loss": 3.0, "lr": 0.1}, {"step": 2, "val_loss": 2.5}]
    assert final_metrics(rows) == {"val_loss": 2.5, "lr": 0.1}
    assert read_metrics(tmp_path / "missing.jsonl") == []


def test_final_metrics_is_the_last_reported_number() -> None:
    rows = [
        {"step": 1, "loss": 3, "note": "warmup", "flag": True},
        {"step": 2, "loss": 2.0, "acc": 0.5},
        {"step": 3, "acc": 0.75},
    ]
    assert final_metrics(rows) == {"loss": 2.0, "acc": 0.75}
    assert first_non_finite(rows) is None
    rows.append({"step": 4, "loss": float("nan")})
    assert first_non_finite(rows) == (4, "loss", pytest.approx(float("nan"), nan_ok=True))


def test_an_empty_or_torn_claim_file_is_taken_over(fs_store: FileSystemStore) -> None:
    key = RunKey(variant="a", seed=0)
    claim = fs_store.run_dir(key) / "claim.json"
    claim.parent.mkdir(parents=True)
    claim.write_text('{"host": "x", "pi')
    assert fs_store.status(key) == "pending"
    assert fs_store.try_claim(key, claim_owner("runner"))
    assert json.loads(claim.read_text())["pid"] == os.getpid()


def test_claims_from_another_host_go_stale_without_a_heartbeat(fs_store: FileSystemStore) -> None:
    key = RunKey(variant="a", seed=0)
    elsewhere = {**claim_owner("worker"), "host": "another-host.example", "pid": 1}
    assert fs_store.try_claim(key, elsewhere)
    assert fs_store.status(key) == "running"
    assert not fs_store.try_claim(key, claim_owner("runner"))
    claim = fs_store.run_dir(key) / "claim.json"
    old = time.time() - STALE_AFTER_S - 5
    os.utime(claim, (old, old))
    fs_store.heartbeat(key)  # a heartbeat keeps it alive
    assert fs_store.status(key) == "running"
    os.utime(claim, (old, old))
    assert fs_store.status(key) == "pending"
    assert fs_store.try_claim(key, claim_owner("runner"))


def test_update_claim_hands_the_run_to_the_worker(fs_store: FileSystemStore) -> None:
    key = RunKey(variant="a", seed=0)
    assert fs_store.try_claim(key, owner_for(os.getpid(), "runner"))
    fs_store.update_claim(key, {**claim_owner("worker"), "role": "worker"})
    claim = json.loads((fs_store.run_dir(key) / "claim.json").read_text())
    assert claim["role"] == "worker"


def test_a_run_directory_opens_its_store(fs_store: FileSystemStore) -> None:
    key = RunKey(variant="v.1-x", seed=12)
    store, found = FileSystemStore.of_run_dir(fs_store.run_dir(key))
    assert found == key
    assert store.study_dir == fs_store.study_dir
    assert store.run_dir(found) == fs_store.run_dir(key)
    for not_a_run_dir in (
        fs_store.study_dir,
        fs_store.study_dir / "runs" / "a" / "x3",
        fs_store.study_dir / "elsewhere" / "a" / "s0",
    ):
        with pytest.raises(ValueError, match="not a run directory"):
            FileSystemStore.of_run_dir(not_a_run_dir)


def test_live_claim_is_the_claim_while_its_process_lives(fs_store: FileSystemStore) -> None:
    key = RunKey(variant="a", seed=0)
    assert fs_store.live_claim(key) is None
    owner = claim_owner("worker")
    assert fs_store.try_claim(key, owner)
    assert fs_store.live_claim(key) == owner
    gone = {**owner, "pid_start": "not when this process started"}
    fs_store.update_claim(key, gone)
    assert fs_store.live_claim(key) is None
    fs_store.release(key)
    assert fs_store.live_claim(key) is None


def test_an_unreadable_study_description_names_its_file(fs_store: FileSystemStore) -> None:
    fs_store.study_dir.mkdir(parents=True)
    (fs_store.study_dir / "study.json").write_text('{"description": "no name"}')
    with pytest.raises(UserError, match=r"study\.json: not a readable study description"):
        fs_store.read_study_meta()
    with pytest.raises(UserError, match=r"study\.json: not a readable study description"):
        load_study_meta(fs_store.study_dir)


def test_archive_moves_the_study_aside(fs_store: FileSystemStore) -> None:
    assert fs_store.archive() is None
    fs_store.write_config(make_config())
    fs_store.write_record(make_record())
    target = fs_store.archive()
    assert target is not None
    assert not fs_store.study_dir.exists()
    assert target.parent == fs_store.study_dir.parent
    assert target.name.startswith("study.old-")
    moved = FileSystemStore(target)
    assert moved.read_record(RunKey(variant="a", seed=0)) == make_record()


def test_archiving_twice_in_one_second_keeps_both(fs_store: FileSystemStore) -> None:
    fs_store.write_study_meta(StudyMeta(name="first"))
    first = fs_store.archive()
    fs_store.write_study_meta(StudyMeta(name="second"))
    second = fs_store.archive()
    assert first is not None and second is not None and first != second
    assert FileSystemStore(first).read_study_meta() == StudyMeta(name="first")
    assert FileSystemStore(second).read_study_meta() == StudyMeta(name="second")


# -- tables of a study produced by the runner ---------------------------------------------------

SCRIPT = """\
import json, os, sys
seed = int(os.environ["HARNESS_SEED"])
offset = float(sys.argv[1])
rows = [
    {"step": 0, "val_loss": offset + seed + 3, "lr": 0.1},
    {"step": 10, "val_loss": offset + seed + 2, "train_loss": 9.0},
    {"step": 20, "train_loss": offset + seed},
]
with open(os.path.join(os.environ["HARNESS_RUN_DIR"], "metrics.jsonl"), "a") as f:
    for row in rows:
        f.write(json.dumps(row) + "\\n")
if sys.argv[2:] == ["fail"]:
    print("exploded")
    sys.exit(1)
"""


@pytest.fixture(scope="module")
def finished_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A study of three command variants × two seeds, one variant failing, run by the runner."""
    root = tmp_path_factory.mktemp("tables")
    script = root / "train.py"
    script.write_text(SCRIPT)
    command = f"{sys.executable} {script}"
    spec = parse_study(
        {
            "study": {"name": "tables", "seeds": 2, "baseline": "a"},
            "variants": {
                "a": {"command": f"{command} 0"},
                "b": {"command": f"{command} 10"},
                "broken": {"command": f"{command} 20 fail"},
            },
        }
    )
    outcome = run_study(
        spec,
        runs_root=root / "runs",
        executor_factory=lambda: LocalExecutor(jobs=2, threads=1),
        wandb={"mode": "disabled"},
        poll_interval=0.05,
    )
    assert len(outcome.executed) == 6
    return outcome.study_dir


def test_load_table(finished_study: Path) -> None:
    table = load_table(finished_study)
    assert table.columns == ["variant", "seed", "status", "lr", "train_loss", "val_loss"]
    assert table.schema["seed"] == pl.Int64
    assert table.schema["val_loss"] == pl.Float64
    assert table.rows() == [
        ("a", 0, "done", 0.1, 0.0, 2.0),
        ("a", 1, "done", 0.1, 1.0, 3.0),
        ("b", 0, "done", 0.1, 10.0, 12.0),
        ("b", 1, "done", 0.1, 11.0, 13.0),
    ]


def test_load_table_with_unfinished_runs(finished_study: Path) -> None:
    table = load_table(finished_study, include_unfinished=True)
    broken = table.filter(pl.col("variant") == "broken")
    assert broken["status"].to_list() == ["failed", "failed"]
    assert broken["val_loss"].to_list() == [22.0, 23.0]
    assert table.height == 6


def test_load_curves(finished_study: Path) -> None:
    curves = load_curves(finished_study)
    assert curves.columns == ["variant", "seed", "step", "lr", "train_loss", "val_loss"]
    assert curves.height == 4 * 3
    a0 = curves.filter((pl.col("variant") == "a") & (pl.col("seed") == 0)).sort("step")
    assert a0["step"].to_list() == [0, 10, 20]
    assert a0["val_loss"].to_list() == [3.0, 2.0, None]
    assert a0["lr"].to_list() == [0.1, None, None]
    assert a0["train_loss"].to_list() == [None, 9.0, 0.0]
    assert load_curves(finished_study, include_unfinished=True).height == 6 * 3


def test_records_and_meta(finished_study: Path) -> None:
    records = load_records(finished_study)
    assert [(r.variant, r.seed, r.status) for r in records] == [
        ("a", 0, "done"),
        ("a", 1, "done"),
        ("b", 0, "done"),
        ("b", 1, "done"),
        ("broken", 0, "failed"),
        ("broken", 1, "failed"),
    ]
    broken = records[-1]
    assert "exploded" in (broken.output_tail or "")
    assert broken.error == "command exited with code 1"
    for record in records:
        assert record.provenance["python"]
        assert record.wall_time_s >= 0
        assert record.started_at <= record.ended_at
    meta = load_study_meta(finished_study)
    assert meta.name == "tables"
    assert meta.baseline == "a"
    assert meta.variants == ("a", "b", "broken")
    assert meta.seeds == (0, 1)
    assert meta.metric == "val_loss"
    assert meta.direction == "minimize"


def test_empty_tables_keep_their_columns(tmp_path: Path) -> None:
    store = FileSystemStore(tmp_path / "empty")
    store.write_study_meta(StudyMeta(name="empty"))
    assert load_table(store.study_dir).columns == ["variant", "seed", "status"]
    assert load_curves(store.study_dir).columns == ["variant", "seed", "step"]


def test_find_study_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "runs"
    with pytest.raises(UserError, match="no study found"):
        find_study_dir(None, runs_dir=root)
    older, newer = FileSystemStore(root / "older"), FileSystemStore(root / "newer")
    for store in (newer, older):  # the older one is written last, then dated back
        store.write_study_meta(StudyMeta(name=store.study_dir.name))
        store.write_config(make_config())
    past = time.time() - 3600
    for path in (older.study_dir / "study.json", older.study_dir / "runs" / "a"):
        os.utime(path, (past, past))
    (root / "not_a_study").mkdir()
    assert find_study_dir(None, runs_dir=root) == newer.study_dir
    assert find_study_dir("older", runs_dir=root) == older.study_dir
    assert find_study_dir(older.study_dir, runs_dir=tmp_path / "elsewhere") == older.study_dir
    with pytest.raises(UserError, match="not a study directory"):
        find_study_dir("not_a_study", runs_dir=root)
    monkeypatch.setenv("HARNESS_RUNS_DIR", str(root))
    assert find_study_dir("older") == older.study_dir
    with pytest.raises(UserError):
        load_study_meta(root / "not_a_study")


def test_find_study_dir_follows_new_runs(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    first, second = FileSystemStore(root / "first"), FileSystemStore(root / "second")
    for store in (first, second):
        store.write_study_meta(StudyMeta(name=store.study_dir.name))
    past = time.time() - 3600
    os.utime(second.study_dir / "study.json", (past - 100, past - 100))
    os.utime(first.study_dir / "study.json", (past, past))
    assert find_study_dir(None, runs_dir=root) == first.study_dir
    second.write_config(make_config("new_variant", 0))  # a run added to the second study
    assert find_study_dir(None, runs_dir=root) == second.study_dir


def test_the_architecture_example_reads(tmp_path: Path) -> None:
    # The README's snippet: load_table on a study directory given as a string.
    store = FileSystemStore(tmp_path / "bos")
    store.write_study_meta(StudyMeta(name="bos"))
    store.write_config(make_config())
    store.write_record(make_record())
    table = load_table(str(store.study_dir))
    assert table.select("variant", "seed", "val_loss").rows() == [("a", 0, 2.5)]
