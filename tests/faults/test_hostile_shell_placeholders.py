"""``shell = true`` commands: a placeholder's value is one word to the shell, never code it
runs, whatever quoting the study wrote around the placeholder. Real shells, real studies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fault_studies import record, run_study, write_study
from finished_study import cli

# Writes its arguments (after the seed) to args.json in the run directory, and a metric row.
RECORDS_ARGV = """
import json, os, sys
run_dir = os.environ["HARNESS_RUN_DIR"]
with open(os.path.join(run_dir, "args.json"), "w") as f:
    json.dump(sys.argv[2:], f)
with open(os.path.join(run_dir, "metrics.jsonl"), "w") as f:
    f.write(json.dumps({"step": 1, "val_loss": 1.0}) + "\\n")
"""


def shell_study(tmp_path: Path, placeholder: str, value: str) -> Path:
    base = f"shell = true\n[base.params]\nx = {json.dumps(value)}\n"
    return write_study(
        tmp_path, RECORDS_ARGV, base=base, command=f"python {{script}} {{seed}} {placeholder}"
    )


# How each placeholder is written in the command, and the argument the script must receive.
QUOTINGS = {
    "{x}": "{x}",
    "'{x}'": "{x}",
    '"{x}"': "{x}",
    '"--x={x} end"': "--x={x} end",
    "'--x='{x}": "--x={x}",
    '"$(echo {x})"': "{x}",
}


@pytest.mark.parametrize("placeholder", QUOTINGS)
def test_a_hostile_parameter_value_never_runs_as_shell_code(
    tmp_path: Path, placeholder: str
) -> None:
    pwned = tmp_path / "PWNED"
    for value in (f"$(touch {pwned})", f"'; touch {pwned}; '", f'"; touch {pwned}; "'):
        pwned.unlink(missing_ok=True)
        study = shell_study(tmp_path, placeholder, value)
        runs = tmp_path / "runs"
        result = run_study(study, runs, "--fresh")
        assert result.returncode == 0, result.stdout + result.stderr
        assert not pwned.exists(), f"{placeholder} with {value!r} ran shell code"
        args = json.loads((runs / "faults" / "runs" / "a" / "s0" / "args.json").read_text())
        assert args == [QUOTINGS[placeholder].replace("{x}", value)], placeholder


@pytest.mark.parametrize("placeholder", ["{x}", "'{x}'", '"{x}"'])
def test_a_value_with_spaces_arrives_as_one_argument(tmp_path: Path, placeholder: str) -> None:
    study = shell_study(tmp_path, placeholder, "two  words and 'quotes'")
    runs = tmp_path / "runs"
    result = run_study(study, runs)
    assert result.returncode == 0, result.stdout + result.stderr
    assert record(runs / "faults") is not None
    args = json.loads((runs / "faults" / "runs" / "a" / "s0" / "args.json").read_text())
    assert args == ["two  words and 'quotes'"]


@pytest.mark.parametrize(
    ("placeholder", "why"),
    [
        ("`echo {x}`", "backquote"),
        ("${x}", "'$'"),
        ("${{{x}}}", "${...}"),
        ("\\{x}", "backslash"),
        ("# {x}", "comment"),
    ],
)
def test_a_placeholder_where_quoting_cannot_be_made_safe_is_refused_at_validation(
    tmp_path: Path, placeholder: str, why: str
) -> None:
    study = shell_study(tmp_path, placeholder, "1")
    result = cli("validate", str(study))
    assert result.code == 2, result.out + result.err
    assert "Traceback" not in result.err
    assert "base.command" in result.err and "{x}" in result.err and why in result.err
    assert "unquoted" in result.err  # the message shows the form that is safe
