"""Typed study metadata: ``study.json`` of every earlier shape, phase decisions, phased runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from harness.errors import UserError
from harness.run.phased import run_phases
from harness.run.study_meta import study_meta
from harness.store import (
    CommitMeta,
    FileSystemStore,
    PhaseDecision,
    SearchMeta,
    StudyMeta,
    is_phased_root,
    load_study_meta,
    read_phase_decisions,
    write_phase_decisions,
)
from harness.study.phases import parse_phased
from harness.study.spec import parse_study

LEGACY_STUDY = Path(__file__).parents[1] / "fixtures" / "legacy_study" / "runs" / "legacy"

COMMAND = "python train.py {lr}"


def command_spec(**extra: Any) -> Any:
    return parse_study(
        {
            "study": {"name": "shapes", "seeds": 2, "baseline": "small", "metric": "loss"},
            "base": {"command": COMMAND, "params": {"lr": 0.1}},
            "variants": {"small": {}, "large": {"params": {"lr": 1.0}}},
            **extra,
        }
    )


# Each shape of study.json earlier versions wrote (written with the code before typed metadata).
RUNNER_SHAPE = {**command_spec().to_dict(), "updated_at": 1795711794.25}
TUNE_SHAPE = {
    **command_spec().to_dict(),
    "search": {"study_name": "shapes", "storage": "journal"},
}
BISECT_SHAPE = {
    "name": "shapes-train-commits",
    "description": (
        "variant 'small' of study 'shapes' measured per commit by harness bisect/regress"
    ),
    "metric": "loss",
    "direction": "minimize",
    "seeds": [0, 1],
    "baseline": "0123456789ab",
    "variants": ["0123456789ab", "ba9876543210"],
    "commits": {
        "0123456789ab": {"sha": "0123456789ab" + "0" * 28, "subject": "good"},
        "ba9876543210": {"sha": "ba9876543210" + "0" * 28, "subject": "bad"},
    },
    "base": {"command": COMMAND, "params": {"lr": 0.1}},
    "source": None,
    "updated_at": 1795711800.5,
}
HAND_WRITTEN_SHAPE = {  # what the report tests and older tools write: the keys compare reads
    "name": "demo",
    "metric": "val_loss",
    "direction": "maximize",
    "baseline": "base",
    "variants": ["base", "fast"],
    "seeds": [0, 1, 2],
}
SHAPES = {
    "legacy fixture": json.loads((LEGACY_STUDY / "study.json").read_text()),
    "runner": RUNNER_SHAPE,
    "tune": TUNE_SHAPE,
    "bisect": BISECT_SHAPE,
    "hand-written": HAND_WRITTEN_SHAPE,
    "name only": {"name": "first"},
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_every_earlier_study_json_reads_and_writes_back_unchanged(shape: str) -> None:
    data = SHAPES[shape]
    meta = StudyMeta.from_dict(data)
    assert meta.name == data["name"]
    written = meta.to_dict()
    for key, value in data.items():  # nothing the file said is lost or changed
        assert written[key] == value, key
    assert StudyMeta.from_dict(json.loads(json.dumps(written))) == meta


def test_the_legacy_fixture_reads_as_its_study() -> None:
    meta = load_study_meta(LEGACY_STUDY)
    assert meta.name == "legacy"
    assert meta.metric == "val_loss" and meta.direction == "minimize"
    assert meta.seeds == (0, 1, 2, 3)
    assert meta.baseline == "plain"
    assert meta.variants == ("plain", "shifted")
    assert meta.variant_configs["shifted"]["params"]["shift"] == 0.05
    assert meta.source == "legacy.toml"
    assert meta.sweep is None and meta.search is None and meta.commits == {}
    assert meta.updated_at == pytest.approx(1795711794.7719917)
    assert meta.other == {}


def test_each_shape_keeps_what_only_it_has() -> None:
    assert StudyMeta.from_dict(RUNNER_SHAPE).updated_at == 1795711794.25
    assert StudyMeta.from_dict(TUNE_SHAPE).search == SearchMeta(
        study_name="shapes", storage="journal"
    )
    bisect = StudyMeta.from_dict(BISECT_SHAPE)
    assert bisect.commits["ba9876543210"] == CommitMeta(
        sha="ba9876543210" + "0" * 28, subject="bad"
    )
    assert bisect.variant_configs == {}
    hand = StudyMeta.from_dict(HAND_WRITTEN_SHAPE)
    assert hand.direction == "maximize" and hand.seeds == (0, 1, 2)
    assert hand.source is None and hand.base == {} and hand.updated_at is None
    bare = StudyMeta.from_dict({"name": "first"})
    assert (bare.metric, bare.direction, bare.baseline, bare.seeds) == (
        "val_loss",
        "minimize",
        None,
        (),
    )


def test_unknown_keys_survive_a_rewrite(tmp_path: Path) -> None:
    store = FileSystemStore(tmp_path / "study")
    store.study_dir.mkdir()
    (store.study_dir / "study.json").write_text(json.dumps({**RUNNER_SHAPE, "future": [1, 2]}))
    meta = store.read_study_meta()
    assert meta is not None and meta.other == {"future": [1, 2]}
    store.write_study_meta(meta)
    assert json.loads((store.study_dir / "study.json").read_text())["future"] == [1, 2]


@pytest.mark.parametrize(
    "data, message",
    [
        ({"metric": "loss"}, "no study name"),
        ({"name": "x", "direction": "up"}, "direction must be"),
    ],
)
def test_a_malformed_description_is_refused(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StudyMeta.from_dict(data)


def test_study_meta_of_a_spec_is_what_the_runner_wrote_before() -> None:
    spec = command_spec()
    meta = study_meta(spec, updated_at=1795711794.25)
    assert meta.to_dict() == StudyMeta.from_dict(RUNNER_SHAPE).to_dict()
    assert meta.to_dict() == {**RUNNER_SHAPE}
    search = SearchMeta(study_name="shapes", storage="journal")
    assert study_meta(spec, search=search).to_dict() == {**TUNE_SHAPE, "updated_at": None}


def test_study_meta_keeps_the_sweep_points() -> None:
    spec = parse_study(
        {
            "study": {"name": "swept", "seeds": 1},
            "base": {"command": COMMAND, "params": {"lr": 0.1}},
            "sweep": {"kind": "grid", "parameters": {"params.lr": [0.1, 1.0]}},
        }
    )
    meta = study_meta(spec)
    assert meta.sweep is not None
    assert sorted(point["params.lr"] for point in meta.sweep.values()) == [0.1, 1.0]
    assert set(meta.sweep) == set(meta.variants)


# -- phase decisions ------------------------------------------------------------------------

TIE = PhaseDecision(
    phase="attention", chosen="mha", winner="gqa", separated=False, tiers=(("gqa", "mha"),)
)
WIN = PhaseDecision(
    phase="norm", chosen="post", winner="post", separated=True, tiers=(("post",), ("pre",))
)


def test_phase_decisions_round_trip(tmp_path: Path) -> None:
    assert PhaseDecision.from_dict(json.loads(json.dumps(TIE.to_dict()))) == TIE
    assert not is_phased_root(tmp_path)
    write_phase_decisions(tmp_path, [TIE, WIN])
    assert read_phase_decisions(tmp_path) == [TIE, WIN]
    assert is_phased_root(tmp_path)
    # the file keeps the shape earlier versions wrote
    assert json.loads((tmp_path / "phases.json").read_text())[1] == {
        "phase": "norm",
        "chosen": "post",
        "winner": "post",
        "separated": True,
        "tiers": [["post"], ["pre"]],
    }
    FileSystemStore(tmp_path).write_study_meta(StudyMeta(name="not phased"))
    assert not is_phased_root(tmp_path)


def test_unreadable_phase_decisions_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"phases\.json: cannot read the phase decisions"):
        read_phase_decisions(tmp_path)
    (tmp_path / "phases.json").write_text('[{"phase": "attention"}]')
    with pytest.raises(UserError, match=r"phases\.json: cannot read the phase decisions"):
        read_phase_decisions(tmp_path)


def phased_study() -> Any:
    return parse_phased(
        {
            "study": {"name": "phased", "seeds": 4, "metric": "loss"},
            "base": {"command": COMMAND, "params": {"lr": 0.1, "width": 1}},
            "phases": [
                {
                    "name": "lr",
                    "baseline": "slow",
                    "variants": {"slow": {}, "fast": {"params": {"lr": 1.0}}},
                },
                {
                    "name": "width",
                    "base_from": "lr",
                    "baseline": "narrow",
                    "variants": {"narrow": {}, "wide": {"params": {"width": 2}}},
                },
            ],
        }
    )


def test_a_later_phase_builds_on_the_chosen_variant() -> None:
    phased = phased_study()
    assert phased.phase_spec(1, {}).base["params"] == {"lr": 0.1, "width": 1}  # the baseline
    assert phased.phase_spec(1, {"lr": "fast"}).base["params"] == {"lr": 1.0, "width": 1}


def test_run_phases_carries_a_separating_winner_and_stores_the_decisions(tmp_path: Path) -> None:
    phased = phased_study()
    ran: list[Any] = []
    losses = {"slow": 2.0, "fast": 1.0, "narrow": 1.0, "wide": 1.0}  # lr separates; width ties
    noise = np.random.default_rng(0).normal(0.0, 0.1, size=(4, 4))

    def load_table(study_dir: Path) -> pl.DataFrame:
        spec = ran[-1]
        assert study_dir == tmp_path / "phased" / spec.name
        rows = [
            {"variant": name, "seed": seed, "loss": losses[name] + noise[column, seed]}
            for column, name in enumerate(losses)
            if name in {v.name for v in spec.variants}
            for seed in spec.seeds
        ]
        return pl.DataFrame(rows)

    decisions = run_phases(
        phased,
        runs_root=tmp_path,
        run_phase=lambda spec, root: ran.append(spec),
        load_table=load_table,
        announce=lambda line: None,
    )
    assert [spec.name for spec in ran] == ["lr", "width"]
    assert ran[1].base["params"]["lr"] == 1.0  # the width phase ran on the lr phase's winner
    lr, width = decisions
    assert (lr.winner, lr.chosen, lr.separated) == ("fast", "fast", True)
    assert (width.chosen, width.separated) == ("narrow", False)
    assert read_phase_decisions(tmp_path / "phased") == decisions
