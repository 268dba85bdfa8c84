"""Full, read-only and forbidden disks: one line naming the path, exit 2, no partial output
files, no temporary files left behind; read-only commands work on a read-only store.

Real faults where the machine allows them: a read-only bind mount and a full 64 KiB tmpfs, in
a private mount namespace (``unshare -m``; ``unshare -rm`` without root), so nothing outside
the test sees them. Where it does not, those tests skip with the reason, and the write paths
are still covered by errors injected at the ``os.replace`` / write boundary (``monkeypatch``).
Tests run as root, for whom ``chmod`` stops no write: EACCES is injected.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest
from finished_study import ROOT, Study, cli, make_study

from harness.store import atomic
from harness.store.atomic import atomic_write_text, atomic_write_with, exclusive_create


def no_temporaries(directory: Path) -> None:
    leftovers = [p.name for p in directory.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


def enospc(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


# -- injected at the boundary (runs everywhere) -----------------------------------------------


def test_a_failed_replace_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "record.json"
    path.write_text("old")
    monkeypatch.setattr(atomic.os, "replace", enospc)
    with pytest.raises(OSError) as info:
        atomic_write_text(path, "new")
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(path)
    assert path.read_text() == "old"
    no_temporaries(tmp_path)


def test_a_write_that_fails_halfway_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "results.parquet"

    def half_then_full(tmp: Path) -> None:
        tmp.write_bytes(b"PAR1 half a table")
        raise OSError(f"No space left on device (os error 28): {tmp}")  # as polars says it

    with pytest.raises(OSError) as info:
        atomic_write_with(path, half_then_full)
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(path)
    assert ".tmp" not in str(info.value)
    assert not path.exists()
    no_temporaries(tmp_path)


def test_a_claim_that_cannot_be_written_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "claim.json"
    monkeypatch.setattr(atomic.os, "fsync", enospc)
    with pytest.raises(OSError) as info:
        exclusive_create(path, {"pid": 1})
    assert info.value.filename == str(path)
    assert not path.exists()
    no_temporaries(tmp_path)


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Study:
    return make_study(tmp_path_factory.mktemp("finished"))


def one_error_line(err: str, *words: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("harness "), err
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_export_on_a_full_disk_says_so_and_writes_nothing(
    finished: Study, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    output = tmp_path / "out" / "results.parquet"
    original = pl.DataFrame.write_parquet

    def full_disk(frame: pl.DataFrame, file: Path, *args: object, **kwargs: object) -> None:
        original(frame, file, *args, **kwargs)  # the bytes are there when the disk fills
        raise OSError(f"No space left on device (os error 28): {file}")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", full_disk)
    result = cli("export", str(finished.study_dir), "-o", str(output))
    assert result.code == 2
    one_error_line(result.err, str(output), "No space left on device (ENOSPC)", "--output")
    assert list(output.parent.iterdir()) == []  # no 0-byte or half file, no temporary


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (errno.ENOSPC, ("No space left on device (ENOSPC)", "--output-dir")),
        (errno.EACCES, ("Permission denied (EACCES)",)),
        (errno.EROFS, ("Read-only file system (EROFS)", "--output-dir")),
    ],
)
def test_report_that_cannot_write_its_page_leaves_no_partial_page(
    finished: Study,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    code: int,
    words: tuple[str, ...],
) -> None:
    out = tmp_path / "report"
    replace = os.replace

    def refuse_the_page(source: str | Path, target: str | Path) -> None:
        if Path(target).name == "report.html":
            raise OSError(code, os.strerror(code), str(source), None, str(target))
        replace(source, target)

    monkeypatch.setattr(atomic.os, "replace", refuse_the_page)
    result = cli("report", str(finished.study_dir), "-o", str(out))
    assert result.code == 2
    one_error_line(result.err, str(out / "report.html"), *words)
    assert not (out / "report.html").exists()
    assert all(p.stat().st_size > 0 for p in out.iterdir())  # what was written is whole
    no_temporaries(out)


# -- real faults, in a private mount namespace ------------------------------------------------


@functools.cache
def namespace_prefix() -> tuple[str, ...] | str:
    """The ``unshare`` prefix that lets this process mount in a private namespace, or why not."""
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return "no unshare/mount on this machine"
    for prefix in (("unshare", "-m"), ("unshare", "-rm")):
        probe = subprocess.run(
            [*prefix, "sh", "-c", "mount -t tmpfs -o size=4k tmpfs /mnt 2>/dev/null || exit 3"],
            capture_output=True,
            timeout=30,
        )
        if probe.returncode == 0:
            return prefix
    return "cannot mount in a private namespace here (no CAP_SYS_ADMIN, no user namespaces)"


def in_namespace(
    script: str, commands: list[list[str]], listing: Path | None = None
) -> dict[str, dict[str, object]]:
    """Run ``harness`` commands after ``script`` (mounts) in a private mount namespace.

    Returns:
        For each command (joined by spaces): its exit code and stderr; under "files", every
        file below ``listing`` with its size, taken before the namespace (and its mounts) ends.
    """
    prefix = namespace_prefix()
    if isinstance(prefix, str):
        pytest.skip(prefix)
    runner = textwrap.dedent(
        """
        import contextlib, io, json, pathlib, sys
        from harness.cli import main
        results = {}
        for argv in json.loads(sys.argv[1]):
            err = io.StringIO()
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
                code = main(argv)
            results[" ".join(argv)] = {"code": code, "err": err.getvalue()}
        if sys.argv[2]:
            found = pathlib.Path(sys.argv[2]).rglob("*")
            results["files"] = {str(p): p.stat().st_size for p in found if p.is_file()}
        print(json.dumps(results))
        """
    )
    shell = f'{script}\nexec "$0" -c "$1" "$2" "$3"'
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    env.pop("HARNESS_RUNS_DIR", None)
    result = subprocess.run(
        [
            *prefix,
            "sh",
            "-ec",
            shell,
            sys.executable,
            runner,
            json.dumps(commands),
            str(listing or ""),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_read_only_commands_work_on_a_read_only_store(finished: Study, tmp_path: Path) -> None:
    study = finished.copy(tmp_path)
    before = {p: p.read_bytes() for p in study.runs.rglob("*") if p.is_file()}
    elsewhere = tmp_path / "elsewhere"
    sd = str(study.study_dir)
    commands = [
        ["runs", sd],
        ["compare", sd],
        ["export", sd, "-o", str(elsewhere / "results.parquet")],
        ["export", sd, "--curves", "--format", "csv", "-o", str(elsewhere / "curves.csv")],
        ["report", sd, "-o", str(elsewhere / "report")],
        ["study", str(study.study_file), "--runs-dir", str(study.runs), "--no-progress"],
        ["export", sd],
        ["report", sd],
    ]
    runs = str(study.runs)
    results = in_namespace(f"mount --bind {runs} {runs}\nmount -o remount,bind,ro {runs}", commands)
    codes = [results[" ".join(argv)]["code"] for argv in commands]
    assert codes == [0, 0, 0, 0, 0, 0, 2, 2], results
    for argv, target in ((commands[6], "results.parquet"), (commands[7], "report_")):
        err = str(results[" ".join(argv)]["err"])
        one_error_line(err, f"{sd}/{target}", "Read-only file system (EROFS)")
    assert (elsewhere / "report" / "report.html").stat().st_size > 0
    assert pl.read_parquet(elsewhere / "results.parquet").height == 6
    after = {p: p.read_bytes() for p in study.runs.rglob("*") if p.is_file()}
    assert after == before  # study on a finished study wrote nothing, not even study.json


def test_a_full_disk_leaves_no_partial_outputs(finished: Study, tmp_path: Path) -> None:
    full = tmp_path / "full"
    full.mkdir()
    sd = str(finished.study_dir)
    commands = [
        ["report", sd, "-o", str(full / "report")],
        ["export", sd, "--curves", "--format", "csv", "-o", str(full / "curves.csv")],
        ["export", sd, "-o", str(full / "results.parquet")],
    ]
    fill = f"mount -t tmpfs -o size=64k tmpfs {full}\nhead -c 65536 /dev/zero > {full}/fill || true"
    results = in_namespace(fill, commands, listing=full)
    for argv in commands:
        outcome = results[" ".join(argv)]
        assert outcome["code"] == 2, outcome
        one_error_line(str(outcome["err"]), str(full), "No space left on device (ENOSPC)")
    # only the filler: no report.html, no 0-byte or half table, no temporary file
    assert results["files"] == {str(full / "fill"): 65536}


# -- a working directory that does not exist --------------------------------------------------


def test_a_missing_cwd_is_named_in_the_record(tmp_path: Path) -> None:
    from harness.store import FileSystemStore, RunKey

    missing = tmp_path / "no" / "such" / "dir"
    study_file = tmp_path / "cwd.toml"
    study_file.write_text(
        '[study]\nname = "cwd"\nseeds = 1\n[base]\n'
        f"command = {json.dumps(sys.executable + ' -c pass {seed}')}\n"
        f"cwd = {json.dumps(str(missing))}\n[variants.a]\n"
    )
    study = Study(study_file=study_file, runs=tmp_path / "runs")
    result = study.study()
    assert "Traceback" not in result.stderr
    record = FileSystemStore(study.runs / "cwd").read_record(RunKey(variant="a", seed=0))
    assert record is not None and record.status == "failed"
    assert record.error == f"the run's cwd '{missing}' does not exist (or is no directory)"
