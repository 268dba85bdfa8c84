"""Damaged store files, through the real commands: each is reported by path with what is wrong
and what to do, the other runs are unaffected, and ``harness study`` resumes.

Each case damages one file of a finished 2-variant x 3-seed study (a copy per test) and runs
``runs``, ``compare``, ``export`` (final values, ``--full``, ``--curves``), ``report`` and
``study`` on it. Before issue 19 most of these ended in a traceback (see the table in the
issue's closing note).
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from finished_study import SEEDS, VARIANTS, Study, cli, make_study

from harness.store import FileSystemStore, RunKey

DAMAGED = ("a", 1)  # the run whose file is damaged
OTHERS = [(v, s) for v in VARIANTS for s in SEEDS if (v, s) != DAMAGED]


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Study:
    return make_study(tmp_path_factory.mktemp("finished"))


@pytest.fixture(scope="module")
def clean_table(finished: Study, tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    out = tmp_path_factory.mktemp("clean") / "results.csv"
    assert cli("export", str(finished.study_dir), "--format", "csv", "-o", str(out)).code == 0
    return pl.read_csv(out).sort("variant", "seed")


@pytest.fixture
def study(finished: Study, tmp_path: Path) -> Study:
    return finished.copy(tmp_path)


def damage(study: Study, name: str, content: bytes) -> Path:
    path = study.run_dir(*DAMAGED) / name
    path.write_bytes(content)
    return path


def edited_record(study: Study, **changes: object) -> bytes:
    data = json.loads((study.run_dir(*DAMAGED) / "record.json").read_text())
    data.update(changes)
    return json.dumps(data).encode()


def export_rows(study: Study, tmp_path: Path, *flags: str) -> tuple[pl.DataFrame, str]:
    out = tmp_path / "out" / "table.csv"
    result = cli("export", str(study.study_dir), "--format", "csv", "-o", str(out), *flags)
    assert result.code == 0, result.err
    return pl.read_csv(out).sort("variant", "seed"), result.err


def without_damaged(table: pl.DataFrame) -> pl.DataFrame:
    variant, seed = DAMAGED
    return table.filter(~((pl.col("variant") == variant) & (pl.col("seed") == seed)))


# -- record.json ------------------------------------------------------------------------------

RECORD_DAMAGE = {
    "not UTF-8": lambda study: b"\xff\xfe{}",
    "empty object": lambda study: b"{}",
    "truncated": lambda study: (study.run_dir(*DAMAGED) / "record.json").read_bytes()[:100],
    "empty file": lambda study: b"",
    "not an object": lambda study: b"[]",
    "nested too deeply": lambda study: b"[" * 100_000,
    "tampered status": lambda study: edited_record(study, status="runnin"),
    "seed of the wrong type": lambda study: edited_record(study, seed="one"),
    "metric too large": lambda study: edited_record(study, final_metrics={"val_loss": 10**400}),
}
WHAT = {
    "not UTF-8": "not UTF-8",
    "empty object": "missing 'study'",
    "truncated": "truncated?",
    "empty file": "empty",
    "not an object": "expected a JSON object",
    "nested too deeply": "not usable JSON",
    "tampered status": "'status' is 'runnin'",
    "seed of the wrong type": "'seed' is 'one'",
    "metric too large": "too large",
}


@pytest.mark.parametrize("case", sorted(RECORD_DAMAGE))
def test_a_damaged_record_is_left_out_by_every_reading_command(
    study: Study, clean_table: pl.DataFrame, tmp_path: Path, case: str
) -> None:
    path = damage(study, "record.json", RECORD_DAMAGE[case](study))

    def warned(err: str) -> None:
        assert f"warning: {path}: " in err and WHAT[case] in err, err
        assert "counts as unfinished" in err and "'harness study' runs it again" in err, err

    listing = cli("runs", str(study.study_dir), "--format", "json")
    assert listing.code == 0
    warned(listing.err)
    runs = {(r["variant"], r["seed"]): r for r in json.loads(listing.out)["runs"]}
    assert runs[DAMAGED]["status"] == "pending" and WHAT[case] in runs[DAMAGED]["note"]
    assert all(runs[key]["status"] == "done" for key in OTHERS)

    table, err = export_rows(study, tmp_path)
    warned(err)
    assert table.equals(without_damaged(clean_table))  # the other runs, to the last digit

    curves, err = export_rows(study, tmp_path, "--curves")
    assert sorted(set(zip(curves["variant"], curves["seed"], strict=True))) == OTHERS

    compare = cli("compare", str(study.study_dir))
    assert compare.code == 0
    warned(compare.err)

    report = cli("report", str(study.study_dir), "-o", str(tmp_path / "report"))
    assert report.code == 0
    warned(report.err)
    assert (tmp_path / "report" / "report.html").stat().st_size > 0


@pytest.mark.parametrize("case", ["not UTF-8", "empty object", "truncated", "tampered status"])
def test_harness_study_reruns_a_damaged_record_and_says_so(study: Study, case: str) -> None:
    path = damage(study, "record.json", RECORD_DAMAGE[case](study))
    result = study.study()
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert f"{path}: " in result.stderr and "runs it again" in result.stderr
    assert "running in another process" not in result.stdout + result.stderr
    assert study.calls(*DAMAGED) == 2  # run once more, and only this run
    assert all(study.calls(*key) == 1 for key in OTHERS)
    record = FileSystemStore(study.study_dir).read_record(RunKey(variant="a", seed=1))
    assert record is not None and record.status == "done"


# -- config.json ------------------------------------------------------------------------------

CONFIG_DAMAGE = {
    "truncated": b'{"study": "s", "vari',
    "empty object": b"{}",
    "not UTF-8": b"\xff",
    "config not a table": b'{"study": "s", "variant": "a", "seed": 1, "kind": "command", '
    b'"config": 5, "config_hash": "x"}',
}


@pytest.mark.parametrize("case", sorted(CONFIG_DAMAGE))
def test_a_damaged_config_of_a_finished_run_keeps_its_results(
    study: Study, clean_table: pl.DataFrame, tmp_path: Path, case: str
) -> None:
    path = damage(study, "config.json", CONFIG_DAMAGE[case])
    advice = f"delete {study.run_dir(*DAMAGED)} to rerun"

    listing = cli("runs", str(study.study_dir))
    assert listing.code == 0 and f"warning: {path}: " in listing.err and advice in listing.err

    table, _ = export_rows(study, tmp_path)
    assert table.equals(clean_table)  # the record still counts
    full, err = export_rows(study, tmp_path, "--full")
    assert f"{path}: " in err and full.height == len(SEEDS) * len(VARIANTS)
    damaged = full.filter((pl.col("variant") == "a") & (pl.col("seed") == 1))
    assert damaged["config.command"].to_list() == [None]  # no config, said in the warning

    assert cli("compare", str(study.study_dir)).code == 0
    assert cli("report", str(study.study_dir), "-o", str(tmp_path / "report")).code == 0

    result = study.study()  # resumes: nothing to run, the finished run is not run again
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert study.all_calls() == dict.fromkeys(study.all_calls(), 1)


# -- claim.json -------------------------------------------------------------------------------

CLAIM_DAMAGE = {
    "truncated": (b'{"pid": ', "not valid JSON"),
    "not UTF-8": (b"\xff\xfe", "not UTF-8"),
    "pid -1 on this host": (b'{"host": "HOST", "pid": -1}', None),
    "pid beyond any C int": (b'{"host": "HOST", "pid": 1180591620717411303424}', None),
    "pid as text": (b'{"host": "HOST", "pid": "12"}', None),
}


@pytest.mark.parametrize("case", sorted(CLAIM_DAMAGE))
def test_a_damaged_claim_counts_as_abandoned(study: Study, case: str) -> None:
    import socket

    (study.run_dir(*DAMAGED) / "record.json").unlink()  # an unfinished run with a bad claim
    content, what = CLAIM_DAMAGE[case]
    path = damage(study, "claim.json", content.replace(b"HOST", socket.gethostname().encode()))

    listing = cli("runs", str(study.study_dir), "--format", "json")
    assert listing.code == 0
    runs = {(r["variant"], r["seed"]): r for r in json.loads(listing.out)["runs"]}
    assert runs[DAMAGED]["status"] == "pending"  # not "running" forever
    if what is not None:
        assert f"warning: {path}: {what}" in listing.err, listing.err
    assert cli("compare", str(study.study_dir)).code == 0

    result = study.study()
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert "running in another process" not in result.stdout
    assert study.calls(*DAMAGED) == 2 and all(study.calls(*key) == 1 for key in OTHERS)


# -- study.json -------------------------------------------------------------------------------

STUDY_DAMAGE = {
    "empty object": (b"{}", "no study name"),
    "not UTF-8": (b"\xff", "not UTF-8"),
    "not an object": (b"[]", "expected a JSON object"),
    "nested too deeply": (b"[" * 100_000, "not usable JSON"),
    "variant configs not a table": (b'{"name": "s", "variant_configs": [1]}', "variant_configs"),
    "seeds not numbers": (b'{"name": "s", "seeds": ["x"]}', "'seeds'"),
}


@pytest.mark.parametrize("case", sorted(STUDY_DAMAGE))
def test_a_damaged_study_description_is_named_and_rewritten_by_study(
    study: Study, clean_table: pl.DataFrame, tmp_path: Path, case: str
) -> None:
    content, what = STUDY_DAMAGE[case]
    path = study.study_dir / "study.json"
    path.write_bytes(content)
    for command in (["runs"], ["compare"], ["report", "-o", str(tmp_path / "report")]):
        result = cli(command[0], str(study.study_dir), *command[1:])
        assert result.code == 2
        lines = result.err.strip().splitlines()
        assert len(lines) == 1 and f"{path}: not a readable study description" in lines[0]
        assert what in lines[0] and "run 'harness study'" in lines[0]
        assert "no study.json" not in lines[0]
    table, _ = export_rows(study, tmp_path)  # export needs only the records
    assert table.equals(clean_table)

    result = study.study()
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert study.all_calls() == dict.fromkeys(study.all_calls(), 1)  # nothing run again
    assert cli("compare", str(study.study_dir)).code == 0  # the description is back


# -- metrics.jsonl: one bad step --------------------------------------------------------------


@pytest.mark.parametrize("step", ['"ten"', "null", "99999999999999999999999", "2.5", "true"])
def test_a_row_with_a_bad_step_is_skipped_from_the_curves(
    study: Study, tmp_path: Path, step: str
) -> None:
    clean, _ = export_rows(study, tmp_path, "--curves")
    metrics = study.run_dir(*DAMAGED) / "metrics.jsonl"
    with metrics.open("a") as handle:
        handle.write(f'{{"step": {step}, "val_loss": 7.0}}\n')
    # the bad row was there when the run was recorded (rows written after the record are
    # left out for another reason: tests/worker/test_command_processes.py)
    record = study.run_dir(*DAMAGED) / "record.json"
    record.write_bytes(edited_record(study, metrics_bytes=metrics.stat().st_size))
    curves, err = export_rows(study, tmp_path, "--curves")
    assert curves.equals(clean)
    assert f"warning: {metrics}: skipped 1 row(s) whose step is not a 64-bit integer" in err

    report = cli("report", str(study.study_dir), "-o", str(tmp_path / "report"))
    assert report.code == 0 and f"{metrics}: skipped 1 row(s)" in report.err


def test_a_metric_named_like_a_column_cannot_overwrite_it(
    study: Study, clean_table: pl.DataFrame, tmp_path: Path
) -> None:
    metrics = {"val_loss": clean_table["val_loss"][1], "seed": 9.0, "variant": 3.0}
    damage(study, "record.json", edited_record(study, final_metrics=metrics))
    table, err = export_rows(study, tmp_path)
    assert table.select("variant", "seed").equals(clean_table.select("variant", "seed"))
    assert "metric(s) seed, variant left out of the table" in err


# -- a run folder that does not match its files (issue 33, item 4) ----------------------------


@pytest.mark.parametrize(
    ("case", "names"),
    [
        ("another seed", ("a", 0)),  # a/s0's record copied into a/s1
        ("another variant", ("b", 1)),  # b/s1's record copied into a/s1
    ],
)
def test_a_record_naming_another_run_is_left_out_by_path(
    study: Study, clean_table: pl.DataFrame, tmp_path: Path, case: str, names: tuple[str, int]
) -> None:
    copied = (study.run_dir(*names) / "record.json").read_bytes()
    path = damage(study, "record.json", copied)
    named = f"names run {names[0]}-s{names[1]}"

    def warned(err: str) -> None:
        assert f"warning: {path}: " in err and named in err, err

    table, err = export_rows(study, tmp_path)
    warned(err)
    assert table.equals(without_damaged(clean_table))  # never the same run twice
    full, err = export_rows(study, tmp_path, "--full")
    assert full.height == len(OTHERS) and full.select("variant", "seed").is_unique().all()
    curves, _ = export_rows(study, tmp_path, "--curves")
    assert sorted(set(zip(curves["variant"], curves["seed"], strict=True))) == OTHERS

    compare = cli("compare", str(study.study_dir))
    assert compare.code == 0, compare.err
    warned(compare.err)

    listing = cli("runs", str(study.study_dir), "--format", "json")
    runs = {(r["variant"], r["seed"]): r for r in json.loads(listing.out)["runs"]}
    assert runs[DAMAGED]["status"] == "pending" and named in runs[DAMAGED]["note"]

    result = study.study()  # the run counts as unfinished: run again, its own record written
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    record = FileSystemStore(study.study_dir).read_record(RunKey(variant="a", seed=1))
    assert record is not None and (record.variant, record.seed) == DAMAGED


def test_a_run_folder_without_its_config_is_listed_as_damaged_and_left_out(
    study: Study, clean_table: pl.DataFrame, tmp_path: Path
) -> None:
    (study.run_dir(*DAMAGED) / "config.json").unlink()
    folder = study.run_dir(*DAMAGED)

    def warned(err: str) -> None:
        assert f"warning: {folder}: " in err and "no config.json" in err, err

    listing = cli("runs", str(study.study_dir), "--format", "json")
    assert listing.code == 0
    warned(listing.err)
    runs = {(r["variant"], r["seed"]): r for r in json.loads(listing.out)["runs"]}
    assert runs[DAMAGED]["status"] == "damaged" and str(folder) in runs[DAMAGED]["note"]
    assert all(runs[key]["status"] == "done" for key in OTHERS)
    table_listing = cli("runs", str(study.study_dir))
    assert "1 damaged" in table_listing.out

    table, err = export_rows(study, tmp_path)
    warned(err)
    assert table.equals(without_damaged(clean_table))
    compare = cli("compare", str(study.study_dir))
    assert compare.code == 0, compare.err
    warned(compare.err)
    report = cli("report", str(study.study_dir), "-o", str(tmp_path / "report"))
    assert report.code == 0, report.err
    warned(report.err)

    result = study.study()  # never guessed at: the record is kept, the folder named
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert f"{folder}: " in result.stderr
    assert (folder / "record.json").read_bytes()  # kept as it was


def test_a_run_folder_not_named_by_its_seed_is_listed_as_damaged(
    study: Study, clean_table: pl.DataFrame, tmp_path: Path
) -> None:
    folder = study.run_dir(*DAMAGED)
    renamed = folder.rename(folder.with_name("s01"))  # not the folder of run a-s1
    listing = cli("runs", str(study.study_dir), "--format", "json")
    assert listing.code == 0 and f"warning: {renamed}: " in listing.err, listing.err
    runs = json.loads(listing.out)["runs"]
    damaged = [r for r in runs if r["status"] == "damaged"]
    assert len(damaged) == 1 and str(renamed) in damaged[0]["note"]
    assert "not named s<seed>" in damaged[0]["note"]
    table, err = export_rows(study, tmp_path)
    assert f"{renamed}: " in err
    assert table.equals(without_damaged(clean_table))
