"""Runs into variants and seeds from their configs (harness.importers.grouping)."""

from __future__ import annotations

import polars as pl
import pytest

from harness.importers._base import ImportFailure, SourceRun
from harness.importers.grouping import group_runs


def run(run_id: str, config: dict, state: str = "finished", started: float = 0.0) -> SourceRun:
    return SourceRun(
        run_id=run_id,
        name=run_id,
        location=run_id,
        config=config,
        state=state,  # type: ignore[arg-type]
        curve=pl.DataFrame({"step": [0], "val_loss": [1.0]}),
        started_at=started,
    )


def grid(attns=("mha", "mqa"), seeds=(0, 1, 2), **extra) -> list[SourceRun]:
    return [
        run(f"{a}-{s}", {"model": {"attn": a, "n_layer": 2}, "seed": s, **extra})
        for a in attns
        for s in seeds
    ]


def test_the_keys_that_differ_make_the_variants_and_the_seed_key_is_found():
    grouping = group_runs(grid())
    assert grouping.variant_keys == ("model.attn",)
    assert grouping.chosen_by == "auto"
    assert grouping.seed_key == "seed"
    assert dict(grouping.variants) == {"mha": {"model.attn": "mha"}, "mqa": {"model.attn": "mqa"}}
    assert grouping.seeds_of("mqa") == [0, 1, 2]
    assert grouping.common == {"model": {"n_layer": 2}}
    assert not grouping.confounds and not grouping.unpaired and not grouping.left_out


def test_bookkeeping_keys_do_not_make_variants():
    runs = [
        run(f"r{i}", {"attn": a, "seed": s, "output_dir": f"/out/{i}", "run_name": f"n{i}"})
        for i, (a, s) in enumerate([("a", 0), ("a", 1), ("b", 0), ("b", 1)])
    ]
    grouping = group_runs(runs)
    assert grouping.variant_keys == ("attn",)
    assert set(grouping.ignored_keys) == {"output_dir", "run_name"}


def test_a_nested_seed_key_is_found_and_can_be_named():
    runs = [run(f"r{i}", {"attn": a, "system": {"seed": i % 2}}) for i, a in enumerate("aabb")]
    assert group_runs(runs).seed_key == "system.seed"
    runs = [run(f"r{i}", {"attn": a, "trial": i % 2}) for i, a in enumerate("aabb")]
    assert group_runs(runs).seed_key is None
    named = group_runs(runs, seed_key="trial", variant_by=["attn"])
    assert named.seed_key == "trial" and named.seeds_of("a") == [0, 1]


def test_without_a_seed_key_nothing_is_paired_and_it_is_said():
    runs = [run(f"r{i}", {"attn": a}, started=i) for i, a in enumerate("aabb")]
    grouping = group_runs(runs)
    seeds = [m.seed for m in grouping.members]
    assert len(set(seeds)) == 4  # distinct: compare cannot pair them
    assert any("no seed key" in note for note in grouping.notes)


def test_a_key_that_differs_inside_a_named_variant_is_a_confound():
    runs = grid()
    runs[0] = run("mha-0", {"model": {"attn": "mha", "n_layer": 4}, "seed": 0})
    grouping = group_runs(runs, variant_by=["model.attn"])
    assert grouping.chosen_by == "named"
    assert dict(grouping.confounds) == {"mha": {"model.n_layer": (2, 4)}}


def test_crashed_and_running_runs_are_left_out_with_their_reason():
    runs = [*grid(), run("late", {"model": {"attn": "mqa"}, "seed": 9}, state="running")]
    runs.append(run("boom", {"model": {"attn": "mha"}, "seed": 9}, state="crashed"))
    grouping = group_runs(runs)
    reasons = {x.run.run_id: x.reason for x in grouping.left_out}
    assert set(reasons) == {"late", "boom"}
    assert "running" in reasons["late"] and "crashed" in reasons["boom"]
    assert grouping.seeds_of("mqa") == [0, 1, 2]


def test_a_second_run_of_one_variant_and_seed_replaces_the_earlier():
    runs = [*grid(), run("rerun", {"model": {"attn": "mha", "n_layer": 2}, "seed": 1}, started=5)]
    grouping = group_runs(runs)
    placed = {(m.variant, m.seed): m.run.run_id for m in grouping.members}
    assert placed[("mha", 1)] == "rerun"
    assert [x.run.run_id for x in grouping.left_out] == ["mha-1"]


def test_seeds_without_a_partner_are_unpaired():
    runs = [r for r in grid(seeds=(0, 1, 2, 3)) if r.run_id not in ("mha-3", "mqa-0")]
    grouping = group_runs(runs, baseline="mha")
    assert dict(grouping.unpaired) == {"mqa": (3,), "mha": (0,)}


def test_two_keys_that_form_a_grid_are_a_factorial_design():
    runs = [
        run(f"{a}{b}{s}", {"attn": a, "bos": b, "seed": s})
        for a in ("mha", "mqa")
        for b in (True, False)
        for s in (0, 1)
    ]
    grouping = group_runs(runs)
    assert set(grouping.variants) == {
        "attn-mha_bos-False",
        "attn-mha_bos-True",
        "attn-mqa_bos-False",
        "attn-mqa_bos-True",
    }
    assert grouping.factorial is not None
    assert [f["key"] for f in grouping.factorial["factors"]] == ["attn", "bos"]
    incomplete = group_runs([r for r in runs if not r.run_id.startswith("mqaFalse")])
    assert incomplete.factorial is None


def test_named_keys_and_baselines_that_do_not_exist_are_refused_with_a_suggestion():
    with pytest.raises(ImportFailure, match=r"did you mean 'model\.attn'"):
        group_runs(grid(), variant_by=["model.atn"])
    with pytest.raises(ImportFailure, match="no variant 'gqa'"):
        group_runs(grid(), baseline="gqa")
    with pytest.raises(ImportFailure, match="no finished run"):
        group_runs([run("x", {"seed": 0}, state="crashed")])


def test_a_run_without_a_seed_value_is_left_out():
    runs = [*grid(), run("noseed", {"model": {"attn": "mha", "n_layer": 2}})]
    grouping = group_runs(runs, variant_by=["model.attn"])
    assert [(x.run.run_id, "seed" in x.reason) for x in grouping.left_out] == [("noseed", True)]
