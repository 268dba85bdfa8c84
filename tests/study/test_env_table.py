"""The ``env`` table's ``${VAR}`` references and the door's refusal of a literal secret."""

from __future__ import annotations

import pytest

from harness.errors import SpecError
from harness.study.env_table import UnsetReference, check_env_value, resolve_env


def test_references_are_filled_from_the_environment_and_literals_kept() -> None:
    table = {"HF_TOKEN": "${HF_TOKEN}", "AUTH": "Bearer ${T}", "MODE": "offline", "ODD": "$T {T}"}
    resolved = resolve_env(table, {"HF_TOKEN": "hf_x", "T": "t0k"})
    assert resolved == {
        "HF_TOKEN": "hf_x",
        "AUTH": "Bearer t0k",
        "MODE": "offline",
        "ODD": "$T {T}",
    }
    assert table["HF_TOKEN"] == "${HF_TOKEN}"  # the table itself, what is recorded, unchanged


def test_an_unset_reference_names_the_entry_and_the_variable() -> None:
    with pytest.raises(UnsetReference, match=r"env\.AUTH refers to \$\{T\}, but T is not set"):
        resolve_env({"AUTH": "Bearer ${T}"}, {})


@pytest.mark.parametrize("name", ["HF_TOKEN", "WANDB_API_KEY", "aws_secret_access_key"])
def test_a_literal_secret_is_refused_and_a_reference_or_empty_value_is_not(name: str) -> None:
    with pytest.raises(SpecError, match=rf'{name} = "\$\{{{name}\}}"'):
        check_env_value(name, "abc123", key=f"base.env.{name}")
    check_env_value(name, f"${{{name}}}", key="k")
    check_env_value(name, "", key="k")  # WANDB_API_KEY = "": unset it for the command
    check_env_value("WANDB_MODE", "offline", key="k")
