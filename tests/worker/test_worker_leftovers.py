"""A worker whose runner is gone, and a ``worker.log`` that is a link: each gets a clean
outcome (issue 33 item 8). Real processes: the warm zygote, and studies run through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from command_studies import env, run, study_argv, write_study

from harness.executors.local import POOL_ENV
from harness.worker.launch import worker_args, zygote_command

REPORTS = """
import os
with open(os.environ["HARNESS_RUN_DIR"] + "/metrics.jsonl", "a") as f:
    f.write('{"step": 1, "val_loss": 1.0}\\n')
"""


def test_a_zygote_whose_runner_is_gone_prints_no_traceback_when_a_worker_ends(
    tmp_path: Path,
) -> None:
    stderr = (tmp_path / "zygote.err").open("w")
    zygote = subprocess.Popen(
        zygote_command(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        env=env(),
        text=True,
    )
    try:
        assert zygote.stdin is not None and zygote.stdout is not None
        assert json.loads(zygote.stdout.readline()) == {"ready": True}
        # the worker's log is a pipe: the worker waits at its start until the test reads it
        log = tmp_path / "worker.log"
        os.mkfifo(log)
        run_dir = tmp_path / "run"  # no planned run in it: the worker fails
        request = {
            "run_dir": str(run_dir),
            "argv": worker_args(run_dir, threads=1, device="cpu", wandb={}),
            "env": env(),
            "cwd": str(tmp_path),
            "log": str(log),
        }
        zygote.stdin.write(json.dumps(request) + "\n")
        zygote.stdin.flush()
        assert "started" in json.loads(zygote.stdout.readline())
        # the runner is gone (killed): its end of the reply pipe is closed. Its end of the
        # requests pipe is kept open here, so that the zygote meets the closed reply pipe:
        # when both close at once it meets them in either order (the end of its input first
        # exits quietly, which hid this in some tries)
        zygote.stdout.close()
        with log.open() as worker_log:
            worker_log.read()  # the worker runs, fails and ends
        assert zygote.wait(timeout=30) == 0  # its reply reaches nobody: it stops, quietly
    finally:
        if zygote.poll() is None:
            zygote.kill()
            zygote.wait()
        stderr.close()
    said = (tmp_path / "zygote.err").read_text()
    assert "Traceback" not in said and "BrokenPipeError" not in said, said


@pytest.mark.parametrize("pool", ["1", "0"], ids=["zygote", "fresh-process"])
def test_a_worker_log_that_is_a_link_is_replaced_not_followed(
    tmp_path: Path, pool: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    precious = tmp_path / "precious.txt"
    precious.write_text("a file the link points to\n")
    study = write_study(tmp_path, REPORTS)
    run_dir = tmp_path / "runs" / "proc" / "runs" / "a" / "s0"
    run_dir.mkdir(parents=True)
    (run_dir / "worker.log").symlink_to(precious)
    monkeypatch.setenv(POOL_ENV, pool)
    result = run(study_argv(study, tmp_path / "runs"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert precious.read_text() == "a file the link points to\n"
    log = run_dir / "worker.log"
    assert not log.is_symlink()
    assert log.read_text().startswith(f"harness: worker.log was a symbolic link to {precious}")
    assert (run_dir / "record.json").exists()
