"""Typos never cost a study: a misspelt placeholder or metric is caught before runs are wasted.

Real small scripts run as commands through the CLI (``--no-wandb``), as in
``test_own_scripts.py``.
"""

from __future__ import annotations

from pathlib import Path

from test_own_scripts import PYTHON, check, harness, study, write_study


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
