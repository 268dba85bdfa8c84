"""The designs of harness's own studies on imported runs: factorial when the variant keys form a
grid, seed-blocked when seeds are not shared."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from import_helpers import compare_json, harness


def grid_table(tmp_path, *, drop=()):
    rng = np.random.default_rng(0)
    rows = []
    for attn in ("mha", "mqa"):
        for bos in (True, False):
            for seed in range(6):
                if (attn, bos, seed) in drop:
                    continue
                value = 2.0 + 0.1 * (attn == "mqa") + 0.05 * bos + 0.02 * seed
                rows.append(
                    {
                        "run": f"{attn}-{bos}-{seed}",
                        "attn": attn,
                        "protect_bos": bos,
                        "seed": seed,
                        "val_loss": value + rng.normal(0, 0.01),
                    }
                )
    table = pl.DataFrame(rows)
    table.write_csv(tmp_path / "runs.csv")
    return table


def test_two_keys_forming_a_grid_give_the_factorial_effects(tmp_path, capsys):
    table = grid_table(tmp_path)
    study = tmp_path / "study"
    code, _, err = harness(
        capsys, "import-runs", "csv", str(tmp_path / "runs.csv"), "-o", str(study)
    )
    assert code == 0, err
    result = compare_json(capsys, study)
    effects = {e["term"]: e for e in result["effects"]}
    # balanced and complete: a main effect is the difference of the two levels' means
    means = table.group_by("attn").agg(pl.col("val_loss").mean())
    by_attn = dict(zip(means["attn"], means["val_loss"], strict=True))
    assert effects["attn"]["estimate"] == pytest.approx(by_attn["mqa"] - by_attn["mha"], abs=1e-12)
    means = table.group_by("protect_bos").agg(pl.col("val_loss").mean())
    by_bos = dict(zip(means["protect_bos"], means["val_loss"], strict=True))
    assert effects["protect_bos"]["estimate"] == pytest.approx(
        by_bos[True] - by_bos[False], abs=1e-12
    )
    assert effects["attn"]["verdict"] == "worse" and effects["protect_bos"]["verdict"] == "worse"


def test_seeds_that_are_not_shared_are_listed_and_compared_on_the_shared_seeds(tmp_path, capsys):
    table = grid_table(tmp_path).filter(pl.col("protect_bos"))
    # mqa ran seeds 2-5 only, and one more seed (9) that mha never ran
    table = table.filter((pl.col("attn") == "mha") | (pl.col("seed") >= 2))
    extra = table.filter(pl.col("run") == "mqa-True-5").with_columns(
        run=pl.lit("mqa-True-9"), seed=pl.lit(9, dtype=pl.Int64)
    )
    pl.concat([table, extra]).write_csv(tmp_path / "runs.csv")
    study = tmp_path / "study"
    code, out, err = harness(
        capsys,
        "import-runs",
        "csv",
        str(tmp_path / "runs.csv"),
        "-o",
        str(study),
        "--baseline",
        "mha",
    )
    assert code == 0, err
    assert "unpaired: mqa seed(s) 9: the baseline lacks them" in out
    assert "unpaired: mha seed(s) 0 1: no other variant has them" in out
    result = compare_json(capsys, study)
    (comparison,) = result["comparisons"]
    # the pair shares seeds 2-5: tested on them alone (issue 32: its own noise, paired)
    assert comparison["design"] == "paired"
    assert comparison["verdict"] == "worse"
