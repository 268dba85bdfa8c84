"""A wandb project online (``wandb.Api``), faked only at the network boundary: the API object.

The fake serves what ``Api().runs(path, filters=)`` returns for the fixture's numbers (the
attributes the importer reads: id, name, state, config, summary, scan_history); everything after
the fetch is the code the local wandb import runs too.
"""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest
from import_helpers import LOGS, compare_json, expected_table, harness

from harness.importers import wandb_api
from harness.importers.wandb_api import WandbApiSource


class FakeRun:
    def __init__(self, variant: str, seed: int, state: str = "finished") -> None:
        # the crashed run (seed 5) logged the first steps of seed 4's numbers
        curve = pl.read_csv(LOGS / "expected.csv").filter(
            (pl.col("variant") == variant) & (pl.col("seed") == min(seed, 4))
        )
        if state == "crashed":
            curve = curve.head(4)
        self.id = f"{variant}{seed}"
        self.name = f"{variant}-s{seed}"
        self.state = state
        self.group = "attn"
        self.tags = ["ablation"] if seed < 3 else []
        self.config = {"model": {"attn": variant, "n_layer": 2}, "seed": seed, "_wandb": {}}
        self._rows = [
            {"_step": step, "_runtime": 1.5 * step, "val_loss": value}
            for step, value in zip(curve["step"], curve["val_loss"], strict=True)
        ]
        self.summary = {"val_loss": self._rows[-1]["val_loss"], "_step": 45, "best": 0.5}

    def scan_history(self, page_size: int = 1000) -> Any:
        return iter(self._rows)


class FakeApi:
    def __init__(self, runs: list[FakeRun]) -> None:
        self._runs = runs
        self.calls: list[tuple[str, Any]] = []

    def runs(self, path: str, filters: dict[str, Any] | None = None) -> list[FakeRun]:
        self.calls.append((path, filters))
        if path != "lab/attn":
            raise ValueError(f"Could not find project {path}")
        found = self._runs
        if filters and "tags" in filters:
            found = [r for r in found if set(r.tags) & set(filters["tags"]["$in"])]
        return found


def project() -> list[FakeRun]:
    runs = [FakeRun(v, s) for v in ("mha", "gqa", "mqa") for s in range(5)]
    return [*runs, FakeRun("mqa", 5, state="crashed")]


def test_an_online_project_gives_the_verdicts_of_the_same_numbers(monkeypatch, tmp_path, capsys):
    api = FakeApi(project())
    monkeypatch.setattr(wandb_api, "_default_api", lambda: api)
    study = tmp_path / "study"
    code, out, err = harness(
        capsys, "import-runs", "wandb-api", "lab/attn", "--group", "attn", "-o", str(study)
    )
    assert code == 0, err
    assert api.calls == [("lab/attn", {"group": "attn"})]
    assert "imported 15 of 16 runs" in out and "mqa-s5 (mqa5): crashed" in out
    imported = compare_json(capsys, study, "--baseline", "mha")
    reference = compare_json(capsys, expected_table(tmp_path), "--baseline", "mha")
    for got, want in zip(imported["comparisons"], reference["comparisons"], strict=True):
        assert got["verdict"] == want["verdict"]
        assert got["diff"] == pytest.approx(want["diff"], abs=1e-12)


def test_filters_by_tag_and_state_reach_the_api():
    api = FakeApi(project())
    source = WandbApiSource("lab/attn", tags=["ablation"], state="finished", api=api)
    refs = source.find_runs()
    assert api.calls == [("lab/attn", {"tags": {"$in": ["ablation"]}, "state": "finished"})]
    assert len(refs) == 9  # seeds 0-2 of three variants carry the tag
    run = source.read_run(refs[0])
    assert run.config == {"model": {"attn": "mha", "n_layer": 2}, "seed": 0}
    assert run.curve.columns == ["step", "val_loss"]
    assert dict(run.final) == {"best": 0.5}  # summary values the history does not hold


def test_an_unknown_project_is_one_line(monkeypatch, capsys):
    monkeypatch.setattr(wandb_api, "_default_api", lambda: FakeApi([]))
    code, _, err = harness(capsys, "import-runs", "wandb-api", "lab/nope", "-o", "x")
    assert code == 2
    assert "wandb project lab/nope: cannot list its runs: Could not find project" in err
