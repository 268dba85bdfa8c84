"""``harness coordcheck`` end to end on CPU: muP passes, SP fails, and each known muP bug,
planted by replacing one function for the test, fails.

The bugs are the ones behind the notebook's broken muP: a schedule that overwrote the per-group
LRs, a skipped init rescaling, an inverted attention multiplier. Most runs use three widths and
four steps (the statistics are the same; ~8 s each); one runs the full defaults.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import torch

import harness.training.loop as loop
from harness.cli import main
from models import mup

QUICK = ["--widths", "64,128,256", "--steps", "4", "--seeds", "3"]


def coordcheck(tmp_path: Path, *options: str) -> int:
    return main(["coordcheck", *options, "--out", str(tmp_path / "out")])


@pytest.mark.parametrize("attention", ["selective", "mha"])
def test_mup_passes(attention: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert coordcheck(tmp_path, *QUICK, "--attention", attention) == 0
    assert "PASS" in capsys.readouterr().out
    records = pl.read_csv(tmp_path / "out" / "coordcheck.csv")
    assert set(records["activation"].unique()) >= {"q", "attn_logits", "mlp_out", "logits"}
    assert (tmp_path / "out" / "coordcheck.png").stat().st_size > 10_000
    assert (tmp_path / "out" / "slopes.csv").exists()


def test_sp_fails_naming_what_grows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # plain attention here; the planted-bug runs below fail with selective attention
    code = coordcheck(tmp_path, *QUICK, "--attention", "mha", "--parametrization", "sp")
    assert code == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "mlp_out (layer 1) grows with width" in out


class OverwritingSchedule(torch.optim.lr_scheduler.LambdaLR):
    """The bug: every group's LR set from the one peak LR (nanoGPT's ``for param_group in
    optimizer.param_groups: param_group["lr"] = lr``), undoing muP's hidden LR / width_mult."""

    peak = 0.0

    def get_lr(self) -> list[float]:
        factor = self.lr_lambdas[0](self.last_epoch)
        return [self.peak * factor for _ in self.optimizer.param_groups]


def overwriting_scheduler(optimizer: torch.optim.Optimizer, config: object) -> OverwritingSchedule:
    OverwritingSchedule.peak = config.train.lr  # type: ignore[attr-defined]
    return OverwritingSchedule(optimizer, lambda step: 1.0)


def test_a_schedule_that_overwrites_group_lrs_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(loop, "make_scheduler", overwriting_scheduler)
    assert coordcheck(tmp_path, *QUICK) == 1
    assert "grows with width" in capsys.readouterr().out


def test_missing_init_scaling_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(mup, "init_std_multiplier", lambda config: 1.0)
    assert coordcheck(tmp_path, *QUICK) == 1
    assert "grows with width" in capsys.readouterr().out


# The attention scale only depends on width when the head size does: these two runs grow the
# head size (--n-head fixed), where muP's 1/d_head is what keeps the attention logits flat.
HEAD_DIM_SCALING = [*QUICK, "--n-head", "2", "--zero-init-query"]


def test_mup_passes_when_the_head_size_grows(tmp_path: Path) -> None:
    assert coordcheck(tmp_path, *HEAD_DIM_SCALING) == 0


def test_an_inverted_attention_multiplier_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(
        mup, "attention_scale", lambda config: config.mup_attn_mult * config.head_size
    )
    assert coordcheck(tmp_path, *HEAD_DIM_SCALING) == 1
    out = capsys.readouterr().out
    assert "attn_logits (layer 0) grows with width" in out
    assert "attn_logits (layer 1) grows with width" in out


@pytest.mark.slow
def test_the_defaults_pass_under_mup(tmp_path: Path) -> None:
    assert coordcheck(tmp_path) == 0


@pytest.mark.slow
def test_wider_is_better_passes_under_mup(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    options = ["--widths", "64,128,256", "--steps", "20", "--seeds", "2"]
    code = coordcheck(tmp_path, "--wider-is-better", *options)
    assert code == 0, capsys.readouterr().out
    losses = pl.read_csv(tmp_path / "out" / "wider_is_better.csv")
    assert losses.shape == (6, 3)


def test_bad_widths_are_a_user_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["coordcheck", "--widths", "64,128"]) == 2
    assert "at least three" in capsys.readouterr().err
