"""The small pieces a study is read with: dotted keys, seed lists, the direction."""

from __future__ import annotations

from typing import Any

import pytest

from harness.errors import SpecError
from harness.study.seeds import default_seeds, seed_list
from harness.study.spec import parse_direction
from harness.study.tables import (
    changed_keys,
    deep_merge,
    get_dotted,
    nest,
    parse_assignment,
    set_dotted,
)


def test_nest_and_set_dotted_build_the_tables_a_deep_merge_takes() -> None:
    nested = nest({"train.lr": 1e-3, "train.warmup_steps": 10, "model.n_embd": 64})
    assert nested == {"train": {"lr": 1e-3, "warmup_steps": 10}, "model": {"n_embd": 64}}
    base = {"train": {"lr": 3e-3, "steps": 50}, "data": {"name": "x"}}
    merged = deep_merge(base, nested)
    assert merged["train"] == {"lr": 1e-3, "steps": 50, "warmup_steps": 10}
    assert base["train"]["lr"] == 3e-3, "deep_merge must not change its input"
    assert get_dotted(merged, "model.n_embd") == 64


def test_set_dotted_refuses_to_reach_inside_a_value() -> None:
    table: dict[str, Any] = {"train": {"lr": 1e-3}}
    with pytest.raises(SpecError, match="non-table") as info:
        set_dotted(table, "train.lr.low", 1.0)
    assert info.value.key == "train.lr.low"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("a.b=1", ("a.b", 1)), (" a = [1, 2]", ("a", [1, 2])), ("a=plain", ("a", "plain"))],
)
def test_parse_assignment_reads_toml_values(text: str, expected: tuple[str, Any]) -> None:
    assert parse_assignment(text) == expected


def test_parse_assignment_names_its_flag() -> None:
    with pytest.raises(SpecError, match="--transfer takes KEY=VALUE"):
        parse_assignment("model.n_embd", flag="--transfer")


def test_changed_keys_lists_every_differing_leaf_with_both_values() -> None:
    old = {"train": {"lr": 1e-3, "steps": 50}, "env": {"A": "1"}, "gone": 1}
    new = {"train": {"lr": 2e-3, "steps": 50}, "env": {"A": "1", "B": "2"}}
    assert changed_keys(old, new) == [
        "env.B (None -> '2')",
        "gone (1 -> None)",
        "train.lr (0.001 -> 0.002)",
    ]
    assert changed_keys(old, old) == []


def test_seed_counts_and_lists() -> None:
    assert seed_list(3, "k") == default_seeds(3) == (0, 1, 2)
    assert seed_list([5, 2], "k") == (5, 2)
    assert seed_list(3, "k", start=1000, avoid=(1001,)) == (1000, 1002, 1003)


@pytest.mark.parametrize("value", [0, -1, [], [1, 1], [1, -1], True, "3", [1.0]])
def test_bad_seeds_name_the_key(value: object) -> None:
    with pytest.raises(SpecError) as info:
        seed_list(value, "search.fresh_seeds")
    assert info.value.key == "search.fresh_seeds"


def test_direction_suggests_the_closest_word() -> None:
    assert parse_direction("maximize", "study.direction") == "maximize"
    with pytest.raises(SpecError) as info:
        parse_direction("minimise", "study.direction")
    assert (info.value.key, info.value.suggestion) == ("study.direction", "minimize")
