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
# A PASS must show every slope inside the tolerance: a correct muP drifts to -0.38 here
# (attn_out, layer 1, step 3), so 3 seeds' intervals reach past 0.5 and 8 seeds' do not.
SHOWN_FLAT = ["--widths", "64,128,256", "--steps", "4", "--seeds", "8"]


def coordcheck(tmp_path: Path, *options: str) -> int:
    return main(["coordcheck", *options, "--out", str(tmp_path / "out")])


@pytest.mark.parametrize("attention", ["selective", "mha"])
def test_mup_passes(attention: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert coordcheck(tmp_path, *SHOWN_FLAT, "--attention", attention) == 0
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


def test_mup_does_not_fail_when_the_head_size_grows_but_3_seeds_cannot_show_it_flat(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """At three widths the step-1 attention logits of a correct muP drift to about -0.44 (a
    random q·k part shrinking like 1/sqrt(d_head)); 3 seeds cannot put that inside the
    tolerance 0.5, so the verdict is INCONCLUSIVE (exit 3), never FAIL."""
    assert coordcheck(tmp_path, *HEAD_DIM_SCALING) == 3
    out = capsys.readouterr().out
    assert "INCONCLUSIVE" in out and "FAIL" not in out
    assert "not shown within tolerance" in out


def test_help_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["coordcheck", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "0 PASS" in out and "1 FAIL" in out and "3 INCONCLUSIVE" in out


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
def test_the_defaults_do_not_fail_under_mup(tmp_path: Path) -> None:
    """The defaults never FAIL a correct muP; they cannot PASS it either: layer 1's attn_out
    drifts to about -0.38 with a seed sd of 0.2-0.35, so neither 3 nor 8 seeds put its 90%
    interval inside 0.5 (docs/coordcheck.md). INCONCLUSIVE, exit 3."""
    assert coordcheck(tmp_path) == 3


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
