"""Typos never cost a study: a misspelt placeholder or metric is caught before runs are wasted.

Real small scripts run as commands through the CLI (``--no-wandb``), as in
``test_own_scripts.py``.
"""

from __future__ import annotations

from pathlib import Path

from test_own_scripts import PYTHON, check, harness, record, study, write_study


def test_an_unknown_placeholder_stops_validate_and_study_before_any_run(tmp_path: Path) -> None:
    base = f'command = "{PYTHON} -c pass --lr {{lr_}} --seed {{seed}}"\nparams = {{ lr = 0.1 }}'
    path = write_study(tmp_path, "typo", {"a": "", "b": "params.lr = 0.2"}, base, "loss")
    validated = harness("validate", str(path))
    check(validated, 2)
    assert "unknown placeholder {lr_}" in validated.stderr
    assert "did you mean 'lr'" in validated.stderr
    assert "'{{'" in validated.stderr
    assert "Traceback" not in validated.stderr
    ran = study(path, tmp_path / "runs")
    check(ran, 2)
    assert "unknown placeholder {lr_}" in ran.stderr
    assert not (tmp_path / "runs" / "typo").exists()


LOGS_EVAL_UNDERSCORE = """\
import json, os, sys
seed = int(sys.argv[1])
with open(os.path.join(os.environ["HARNESS_RUN_DIR"], "metrics.jsonl"), "a") as out:
    out.write(json.dumps({"step": 1, "eval_loss": 1.0 + seed / 10, "train_loss": 2.0}) + "\\n")
"""


def test_a_misspelt_study_metric_stops_the_study_after_the_first_run(tmp_path: Path) -> None:
    script = tmp_path / "logs_eval.py"
    script.write_text(LOGS_EVAL_UNDERSCORE)
    base = f'command = "{PYTHON} {script} {{seed}}"'
    variants = {"a": "env = { V = 'a' }", "b": "env = { V = 'b' }"}
    path = write_study(tmp_path, "misspelt", variants, base, "eval/loss")
    path.write_text(path.read_text().replace("seeds = 2", "seeds = 4"))
    ran = study(path, tmp_path / "runs", "--jobs", "1")
    check(ran, 2)
    assert "Traceback" not in ran.stderr
    assert "never reported the study metric 'eval/loss'" in ran.stderr
    assert "eval_loss, train_loss" in ran.stderr
    assert "did you mean 'eval_loss'" in ran.stderr
    assert "--retry-failed" in ran.stderr
    records = list((tmp_path / "runs" / "misspelt" / "runs").glob("*/s*/record.json"))
    assert len(records) == 1, records  # one run spent on the typo, not all eight
    # fixed, the study resumes: the failed run again, the others for the first time
    path.write_text(path.read_text().replace('"eval/loss"', '"eval_loss"'))
    check(study(path, tmp_path / "runs", "--retry-failed"))
    assert len(list((tmp_path / "runs" / "misspelt" / "runs").glob("*/s*/record.json"))) == 8


# One metric from two sources: tests/run/test_metric_conflicts.py.


REPORTS_ON_SEED_ZERO_ONLY = """\
import json, os, sys
seed = int(sys.argv[1])
row = {"step": 1, "loss": 1.0} if seed == 0 else {"step": 1, "other": 1.0}
with open(os.path.join(os.environ["HARNESS_RUN_DIR"], "metrics.jsonl"), "a") as out:
    out.write(json.dumps(row) + "\\n")
"""


def test_a_miss_after_the_metric_arrived_is_no_typo_and_every_run_is_tried(
    tmp_path: Path,
) -> None:
    (tmp_path / "flaky.py").write_text(REPORTS_ON_SEED_ZERO_ONLY)
    base = f'command = "{PYTHON} flaky.py {{seed}}"'
    path = write_study(tmp_path, "later", {"a": ""}, base, "loss")
    check(study(path, tmp_path / "runs", "--seeds", "1", cwd=tmp_path))
    more = study(path, tmp_path / "runs", "--seeds", "3", "--jobs", "1", cwd=tmp_path)
    check(more, 1)  # s1 and s2 failed, each on its own: the study did not stop at s1
    assert "never reported the study metric" not in more.stderr
    assert [record(tmp_path / "runs" / "later", "a", s).status for s in (0, 1, 2)] == [
        "done",
        "failed",
        "failed",
    ]
