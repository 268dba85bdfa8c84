"""bisect and regress end to end on a synthetic git repository (in-process CLI, no torch).

The repository has 12 commits; train.py's val_loss has a seed effect of sd 1.0 (shared by all
commits), per-(commit, seed) noise of sd 0.1, a regression of 0.3 planted at commit 7, and
commit 5 crashes. See bisect_synthetic_repo.py.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path

import polars as pl
import pytest

from harness.bisect.measure import CommitMeasurements, command_variant
from harness.bisect.search import bisect_indices
from harness.bisect.worktrees import WorktreePool, commits_between, resolve_commit
from harness.cli import main
from harness.store import load_study_meta, load_table
from harness.study.spec import load_study

sys.path.insert(0, str(Path(__file__).parent))
from bisect_synthetic_repo import build, git, user_state, worktrees

CULPRIT, CRASH = 7, 5


def bisect(synthetic, capsys, *extra: str) -> tuple[int, dict]:  # type: ignore[no-untyped-def]
    argv = [
        "bisect", str(synthetic.study), "--good", synthetic.shas[0], "--bad", "HEAD",
        "--repo", str(synthetic.repo), "--runs-dir", str(synthetic.runs), "--format", "json",
        *extra,
    ]  # fmt: skip
    code = main(argv)
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):  # type: ignore[no-untyped-def]
    """The repository, its user-side state before any bisect, and the first bisect's result."""
    synthetic = build(tmp_path_factory.mktemp("bisect"), culprit=CULPRIT, crash=CRASH)
    before = user_state(synthetic.repo)
    out = io.StringIO()  # capsys is function-scoped: capture by hand
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main([
            "bisect", str(synthetic.study), "--good", synthetic.shas[0], "--bad", "HEAD",
            "--repo", str(synthetic.repo), "--runs-dir", str(synthetic.runs),
            "--format", "json",
        ])  # fmt: skip
    return synthetic, before, code, json.loads(out.getvalue()), len(synthetic.calls_made())


def test_bisect_names_the_planted_commit_through_seed_noise(first_run):
    synthetic, _, code, result, _ = first_run
    assert code == 0
    assert result["outcome"] == "found"
    assert result["first_bad"] == synthetic.shas[CULPRIT]
    assert result["first_bad_subject"] == f"change {CULPRIT}: tweak the training script"
    effect = result["effect"]
    assert 0 < effect["ci_low"] < 0.3 < effect["ci_high"]  # the planted 0.3, CI excludes 0
    tested = {t["position"]: t for t in result["tested"]}
    assert tested[CRASH]["verdict"] == "skip" and "exited with code 1" in tested[CRASH]["error"]
    assert tested[CULPRIT]["verdict"] == "bad"
    assert tested[CULPRIT - 1]["verdict"] == "good"  # the culprit is pinned from both sides
    assert tested[0]["role"] == "good endpoint" and tested[11]["role"] == "bad endpoint"
    assert not any(t["forced"] for t in result["tested"])
    assert all(t["seeds"] <= 32 for t in result["tested"])
    # the seed spread really is larger than the regression: unpaired, it would drown
    table = load_table(result["study_dir"])
    good = table.filter(pl.col("variant") == synthetic.shas[0][:12])["val_loss"]
    assert good.std() > 2 * 0.3
    print(f"\nnoisy bisect: {len(synthetic.calls_made())} measurements, seeds per tested "
          f"commit: {[(t['position'], t['seeds']) for t in result['tested']]}")  # fmt: skip


def test_the_users_working_tree_index_and_branch_are_untouched(first_run):
    synthetic, before, _, _, _ = first_run
    assert user_state(synthetic.repo) == before
    assert git(synthetic.repo, "branch", "--show-current") == "work"
    assert len(worktrees(synthetic.repo)) == 1  # the worktrees were removed
    assert not (synthetic.repo / ".git" / "harness-worktrees").exists()


def test_the_measurements_are_an_ordinary_study_directory(first_run):
    synthetic, _, _, result, _ = first_run
    study_dir = Path(result["study_dir"])
    assert study_dir == synthetic.runs / "synthetic-train-commits"
    meta = load_study_meta(study_dir)
    assert meta.baseline == synthetic.shas[0][:12]
    assert meta.commits[synthetic.shas[CULPRIT][:12]].sha == synthetic.shas[CULPRIT]
    table = load_table(study_dir, include_unfinished=True)
    failed = table.filter(pl.col("status") == "failed")["variant"].to_list()
    assert failed == [synthetic.shas[CRASH][:12]]
    record = json.loads(
        (study_dir / "runs" / synthetic.shas[CULPRIT][:12] / "s0" / "record.json").read_text()
    )
    assert record["provenance"]["git_commit"] == synthetic.shas[CULPRIT]  # measured there

    from analysis import compare

    done = table.filter(pl.col("status") == "done").filter(
        pl.col("variant").is_in([synthetic.shas[0][:12], synthetic.shas[CULPRIT][:12]])
    )
    verdicts = compare(done, metric="val_loss", baseline=synthetic.shas[0][:12]).to_dict()
    assert verdicts["comparisons"][0]["verdict"] == "worse"


def test_a_rerun_reuses_every_measurement(first_run, capsys):
    synthetic, before, _, result, _ = first_run
    calls = len(synthetic.calls_made())
    code, again = bisect(synthetic, capsys)
    assert code == 0
    assert len(synthetic.calls_made()) == calls  # not one script invocation
    assert again["measured_now"] == 0
    assert again["first_bad"] == result["first_bad"]
    assert again["tested"] == result["tested"]
    assert user_state(synthetic.repo) == before


def test_a_single_seed_bisect_is_misled_on_the_same_repository(first_run, capsys):
    """What one training run per commit gives (``git bisect run`` with a threshold halfway
    between the endpoints' values), measured through the same worktrees and cache: the seed
    effect cancels (one seed for all commits), but the per-commit noise flips decisions."""
    synthetic, before, _, _, _ = first_run
    repo = synthetic.repo
    spec = load_study(synthetic.study)
    history = commits_between(repo, resolve_commit(repo, synthetic.shas[0]),
                              resolve_commit(repo, "HEAD"))  # fmt: skip
    named = {}
    with WorktreePool(repo) as pool:
        measurer = CommitMeasurements(
            spec, variant=command_variant(spec, None), metric="val_loss",
            runs_root=synthetic.runs, repo=repo, pool=pool,
        )  # fmt: skip
        for seed in range(10):

            def value(i: int, seed: int = seed) -> float | None:
                return measurer.measure(history[i], [seed])[0].value

            low, high = value(0), value(len(history) - 1)
            assert low is not None and high is not None

            def classify(i: int, low: float = low, high: float = high) -> str:
                v = value(i)
                return "skip" if v is None else "bad" if v > (low + high) / 2 else "good"

            (named[seed],) = bisect_indices(len(history), classify)
    misled = {seed: index for seed, index in named.items() if index != CULPRIT}
    assert len(misled) >= 2
    # and the statistical bisect refuses to decide from one seed instead of guessing
    code, single = bisect(synthetic, capsys, "--seeds", "1", "--max-seeds", "1")
    assert code == 1 and single["outcome"] == "not_confirmed" and single["first_bad"] is None
    print(f"\nsingle-seed bisect names commit {named} (seed: index); misled for "
          f"{len(misled)}/10 seeds")  # fmt: skip
    assert user_state(repo) == before


def test_table_output_names_the_commit_its_effect_and_every_tested_commit(first_run, capsys):
    synthetic, _, _, _, _ = first_run
    code = main([
        "bisect", str(synthetic.study), "--good", synthetic.shas[0], "--repo",
        str(synthetic.repo), "--runs-dir", str(synthetic.runs),
    ])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith(f"first bad commit: {synthetic.shas[CULPRIT]} change {CULPRIT}")
    assert "95% CI" in out and "paired seeds" in out
    assert f"{synthetic.shas[CRASH][:12]}  skip" in out
    assert "Bonferroni" in out


def test_bad_input_exits_2(first_run, tmp_path, capsys):
    synthetic, _, _, _, _ = first_run
    common = ["--runs-dir", str(tmp_path / "runs")]
    base = ["bisect", str(synthetic.study), *common]
    assert main([*base, "--good", "nope", "--repo", str(synthetic.repo)]) == 2
    assert "unknown revision 'nope'" in capsys.readouterr().err
    assert main([*base, "--good", "HEAD~3", "--repo", str(tmp_path)]) == 2
    assert "not inside a git repository" in capsys.readouterr().err
    builtin = tmp_path / "builtin.toml"
    builtin.write_text('[study]\nname = "b"\nbaseline = "a"\n[variants.a]\n')
    assert main(["bisect", str(builtin), "--good", "HEAD~3", "--repo", str(synthetic.repo),
                 *common]) == 2  # fmt: skip
    assert "needs a `command`" in capsys.readouterr().err
    assert main([*base, "--good", "HEAD", "--bad", "HEAD~2", "--repo", str(synthetic.repo)]) == 2
    assert "not an ancestor" in capsys.readouterr().err


# -- regress -----------------------------------------------------------------------------------


def regress(synthetic, capsys, *extra: str, seeds: str = "8") -> tuple[int, dict]:  # type: ignore[no-untyped-def]
    argv = [
        "regress", str(synthetic.study), "--repo", str(synthetic.repo),
        "--runs-dir", str(synthetic.runs), "--format", "json", "--seeds", seeds, *extra,
    ]  # fmt: skip
    code = main(argv)
    return code, json.loads(capsys.readouterr().out)


def test_regress_fails_the_gate_only_for_a_significant_regression(first_run, capsys):
    synthetic, before, _, _, _ = first_run
    code, result = regress(synthetic, capsys, "--against", synthetic.shas[CULPRIT - 1])
    assert code == 1 and result["outcome"] == "regression"
    assert result["message"].startswith("REGRESSION: HEAD")
    assert result["comparison"]["ci_low"] > 0

    code, result = regress(synthetic, capsys, "--against", "HEAD~1")  # both carry it
    assert code == 0 and result["outcome"] == "no_regression"
    assert result["message"].startswith("no regression detected")

    code, result = regress(
        synthetic, capsys, "--against", synthetic.shas[CULPRIT - 1], "--tolerance", "0.6"
    )
    assert code == 0 and result["outcome"] == "equivalent"
    assert result["message"].startswith("equivalent within tolerance")

    code, result = regress(
        synthetic, capsys, "--against", synthetic.shas[CULPRIT - 1], "--tolerance", "2%"
    )
    assert result["tolerance"] == pytest.approx(0.02 * 3, rel=0.5)  # 2 % of a mean near 3
    assert code == 1
    assert user_state(synthetic.repo) == before
    assert len(worktrees(synthetic.repo)) == 1


def test_regress_against_stored_results(first_run, capsys):
    synthetic, _, _, result, _ = first_run
    code, out = regress(
        synthetic, capsys, "--baseline-results", result["study_dir"],
        "--baseline-variant", synthetic.shas[CULPRIT - 1][:12],
    )  # fmt: skip
    assert code == 1 and out["outcome"] == "regression"
    assert main(["regress", str(synthetic.study), "--repo", str(synthetic.repo)]) == 2
    assert "exactly one of" in capsys.readouterr().err


def test_regress_measures_the_working_tree_only_when_asked(tmp_path, capsys):
    synthetic = build(tmp_path, n_commits=2, culprit=99, crash=99)
    train = synthetic.repo / "train.py"
    train.write_text(train.read_text().replace("REGRESSION = 0.0", "REGRESSION = 0.5"))
    code, result = regress(synthetic, capsys, "--against", "HEAD")
    assert code == 0 and result["outcome"] == "no_regression"  # HEAD is the reference
    assert "is the reference itself" in result["message"]
    assert synthetic.calls_made() == []  # nothing to measure
    code, result = regress(synthetic, capsys, "--against", "HEAD", "--working-tree", seeds="4")
    assert code == 1 and result["outcome"] == "regression"
    assert "working tree" in result["message"]
    assert "REGRESSION = 0.5" in train.read_text()
