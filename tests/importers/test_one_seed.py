"""What a notebook's project (one seed per variant) gets: no verdict, and what to do instead."""

from __future__ import annotations

import shutil

from import_helpers import LOGS, harness

from harness.store import load_study_meta


def test_one_seed_per_variant_is_said_and_compare_ranks_nothing(tmp_path, capsys):
    logs = tmp_path / "logs"
    for run in sorted((LOGS / "lightning").glob("*-s0")):
        shutil.copytree(run, logs / run.name)
    study = tmp_path / "study"
    code, out, _ = harness(capsys, "import-runs", "lightning", str(logs), "-o", str(study))
    assert code == 0
    assert "one seed per variant" in out and "nothing can be compared or ranked" in out
    assert load_study_meta(study).seeds == ()  # nothing planned: no run counts as missing
    code, out, err = harness(capsys, "compare", str(study))
    assert code == 2
    assert "fewer than 2 seeds" in err and "nothing can be compared or ranked" in err
    assert "Traceback" not in err


def test_a_single_seed_variant_beside_seeded_ones_is_named(tmp_path, capsys):
    logs = tmp_path / "logs"
    for run in sorted((LOGS / "lightning").iterdir()):
        if not run.name.startswith("mqa") or run.name == "mqa-s0":
            shutil.copytree(run, logs / run.name)
    code, out, _ = harness(
        capsys,
        "import-runs",
        "lightning",
        str(logs),
        "-o",
        str(tmp_path / "s"),
        "--baseline",
        "mha",
    )
    assert code == 0
    assert "one seed: mqa: a single run has no seed noise of its own" in out
