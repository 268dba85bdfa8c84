"""A command run's settings are read once into a CommandConfig (harness.study.command_config)."""

from __future__ import annotations

import pytest

from harness.errors import SpecError
from harness.limits import RunLimits
from harness.study.command_config import check_placeholders, parse_command_config


def test_a_command_config_reads_every_key_into_its_field() -> None:
    config = {
        "command": "python train.py --seed {seed} --lr {lr}",
        "shell": False,
        "env": {"A": "1"},
        "params": {"lr": 0.1},
        "cwd": "/tmp",
        "metrics": {"stdout": "auto"},
        "timeout": "1h30m",
    }
    command = parse_command_config(config, where="base")
    assert command.command == config["command"]
    assert command.env == {"A": "1"}
    assert command.params == {"lr": 0.1}
    assert command.cwd == "/tmp"
    assert command.metrics is not None and command.metrics.stdout == "auto"
    assert not command.logs_to_wandb
    assert command.limits.timeout_s == 5400.0


def test_a_bare_command_has_the_defaults() -> None:
    command = parse_command_config({"command": "true"}, where="base")
    assert (command.shell, command.cwd, command.metrics) == (False, None, None)
    assert command.limits == RunLimits()
    assert command.limits.timeout_s is None


def test_an_empty_cwd_means_the_workers_directory() -> None:
    assert parse_command_config({"command": "true", "cwd": ""}, where="base").cwd is None


def test_a_script_logging_to_wandb_is_seen() -> None:
    command = parse_command_config({"command": "true", "metrics": {"wandb": True}}, where="b")
    assert command.logs_to_wandb


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"command": "true", "timeout": "soon"}, "variants.a.timeout"),
        ({"command": "true", "metrics": {"stdot": "auto"}}, "variants.a.metrics.stdot"),
        ({"command": "true", "comand": "x"}, "variants.a.comand"),
        ({"command": "true", "env": {"A": 1}}, "variants.a.env"),
    ],
)
def test_a_bad_key_is_named(config: dict[str, object], key: str) -> None:
    with pytest.raises(SpecError) as error:
        parse_command_config(config, where="variants.a")
    assert error.value.key == key


def test_a_planned_runs_config_may_carry_what_its_driver_added() -> None:
    config = {"command": "true", "git": {"commit": "abc", "working_tree": False}}
    with pytest.raises(SpecError):
        parse_command_config(config, where="variants.a")
    assert parse_command_config(config, where="config", other_keys=True).command == "true"


@pytest.mark.parametrize(
    ("command", "unknown", "closest_name"),
    [
        ("python train.py --lr {lr_} --seed {seed}", "lr_", "lr"),
        ("python train.py --lr {lr} --seed {sed}", "sed", "seed"),
        ("python train.py --out {run_dri}/x --seed {seed:03d}", "run_dri", "run_dir"),
    ],
)
def test_an_unknown_placeholder_in_a_command_is_refused_with_the_closest(
    command: str, unknown: str, closest_name: str
) -> None:
    with pytest.raises(SpecError) as error:
        check_placeholders({"command": command, "params": {"lr": 0.1}}, where="variants.a")
    assert error.value.key == "variants.a.command"
    assert error.value.suggestion == closest_name
    assert f"{{{unknown}}}" in str(error.value)
    assert "{{" in str(error.value)  # how to write a literal brace


@pytest.mark.parametrize(
    "command",
    [
        "python train.py --seed {seed} --config '{{\"lr\": 1}}'",  # a literal brace, doubled
        "python train.py --seed {seed:03d} --lr {lr:.0e}",  # a format spec
        "echo ${HOME} {seed}",  # a shell variable
        "python t.py --seed {seed} | awk '{print $1}'",  # awk: no placeholder name
        "cp {run_dir}/{a,b}.log . && echo {seed}",  # brace expansion
        "python train.py --seed {seed} --config '{\"lr\": 1}'",  # JSON: no placeholder name
    ],
)
def test_known_placeholders_literal_braces_and_shell_variables_pass(command: str) -> None:
    check_placeholders({"command": command, "params": {"lr": 0.1}}, where="variants.a")


def test_a_base_may_leave_params_to_its_variants() -> None:
    config = {"command": "python train.py --lr {lr} --seed {seed}"}
    assert parse_command_config(config, where="base").command == config["command"]
