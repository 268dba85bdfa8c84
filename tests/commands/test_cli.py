"""The ``harness`` command line: help, unknown commands, and no torch on the way to either."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.cli import COMMANDS, main

PYTHON = sys.executable


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, *args], capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin"}
    )


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("study", "validate", "runs", "export", "compare"):
        assert name in out
    for name, (_, summary) in COMMANDS.items():
        assert f"{name}  " in out and summary in out


def test_no_arguments_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "commands:" in capsys.readouterr().out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from harness import __version__

    assert main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out


def test_help_in_a_subprocess_is_fast_and_does_not_import_torch() -> None:
    code = (
        "import sys, io, contextlib\n"
        "from harness.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    code = main(['--help'])\n"
        "assert code == 0 and 'validate' in out.getvalue()\n"
        "heavy = sorted(m for m in ('torch', 'polars', 'wandb', 'optuna', 'matplotlib')\n"
        "               if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    result = run("-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"--help imported {result.stdout.strip()}"

    started = time.monotonic()
    result = run("-m", "harness", "--help")
    elapsed = time.monotonic() - started
    assert result.returncode == 0
    assert "study" in result.stdout
    assert elapsed < 5, f"harness --help took {elapsed:.2f}s"  # generous: a loaded CI machine


@pytest.mark.parametrize("command", ["study", "validate", "runs", "export"])
def test_subcommand_help_does_not_import_torch(command: str) -> None:
    result = run("-X", "importtime", "-m", "harness", command, "--help")
    assert result.returncode == 0, result.stderr
    assert f"harness {command}" in result.stdout
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert "torch" not in imported


def test_unknown_command_suggests_the_closest(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stduy", "x.toml"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'stduy'" in err
    assert "did you mean 'study'?" in err
    assert main(["xyzzy"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'xyzzy'" in err
    assert "did you mean" not in err


def test_unknown_command_in_a_subprocess_exits_2_without_traceback() -> None:
    result = run("-m", "harness", "valdiate", "study.toml")
    assert result.returncode == 2
    assert "did you mean 'validate'?" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_option_exits_2() -> None:
    result = run("-m", "harness", "study", "x.toml", "--jobs", "0")
    assert result.returncode == 2
    assert "--jobs" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_user_error_exits_2_with_the_message(tmp_path: Path) -> None:
    result = run("-m", "harness", "runs", "--runs-dir", str(tmp_path))
    assert result.returncode == 2
    assert "no study found" in result.stderr
    assert "Traceback" not in result.stderr
