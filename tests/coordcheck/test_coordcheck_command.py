"""``harness coordcheck`` end to end on CPU: muP passes, SP fails, and each known muP bug,
planted for the test (``harness.coordcheck.planted``), fails or at least never passes.

Every run uses the default widths (64..512: with three, 64..256, the finite-width drift of a
correct muP is too large to show it flat); error rates over many seeds are the benchmark's
business (benchmarks/coordcheck_verdicts.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from harness.cli import main
from harness.coordcheck.planted import planted
from models import mup

QUICK: list[str] = []  # the default widths: three (64..256) cannot show a correct muP flat


def coordcheck(tmp_path: Path, *options: str) -> int:
    return main(["coordcheck", *options, "--out", str(tmp_path / "out")])


def test_mup_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert coordcheck(tmp_path, *QUICK) == 0
    assert "PASS" in capsys.readouterr().out
    records = pl.read_csv(tmp_path / "out" / "coordcheck.csv")
    assert set(records["activation"].unique()) >= {"q", "attn_logits", "mlp_out", "logits"}
    assert (tmp_path / "out" / "coordcheck.png").stat().st_size > 10_000
    exponents = pl.read_csv(tmp_path / "out" / "exponents.csv")
    assert set(exponents["status"].to_list()) == {"ok"}


def test_plain_attention_passes_mup_and_fails_the_sqrt_attention_scale(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Plain softmax attention at its own defaults (2 x 8 tokens, 5 steps: settings.
    ATTENTION_DEFAULTS). On the selective check's 8 x 32 tokens a correct muP's attention
    logits shrink with exponent about -0.3 at widths 64..512, a finite-width excess that left
    this check INCONCLUSIVE (24 seeds) or FAILed (docs/coordcheck.md, "Plain attention")."""
    assert coordcheck(tmp_path, *QUICK, "--attention", "mha") == 0
    assert "PASS" in capsys.readouterr().out
    with planted("sqrt_attention_scale"):
        assert coordcheck(tmp_path, *QUICK, "--attention", "mha") == 1
    out = capsys.readouterr().out
    assert "attn_logits (layer" in out and "grows with width" in out
    assert coordcheck(tmp_path, *QUICK, "--attention", "mha", "--parametrization", "sp") == 1


def test_sp_fails_naming_what_grows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = coordcheck(tmp_path, *QUICK, "--parametrization", "sp")
    assert code == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "mlp_out (layer 1) grows with width" in out


@pytest.mark.parametrize(
    ("bug", "grows"),
    [("one_lr", "mlp_out (layer 1)"), ("no_output_multiplier", "logits")],
)
def test_a_planted_bug_fails_naming_what_grows(
    bug: str, grows: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with planted(bug):
        assert coordcheck(tmp_path, *QUICK) == 1
    assert f"{grows} grows with width" in capsys.readouterr().out


def test_missing_init_scaling_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # kept from the first coordcheck: SP's init std (no 1/sqrt(width) multiplier) under muP
    monkeypatch.setattr(mup, "init_std_multiplier", lambda config: 1.0)
    assert coordcheck(tmp_path, *QUICK) == 1
    assert "grows with width" in capsys.readouterr().out


def test_an_inverted_attention_multiplier_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # kept from the first coordcheck: an attention scale that grows with the head size
    monkeypatch.setattr(
        mup, "attention_scale", lambda config: config.mup_attn_mult * config.head_size
    )
    assert coordcheck(tmp_path, *QUICK) == 1
    out = capsys.readouterr().out
    assert "attn_logits (layer 0) grows with width" in out
    assert "attn_logits (layer 1) grows with width" in out


def test_the_sqrt_attention_scale_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """1/sqrt(d_head) instead of muP's 1/d_head: the attention logits grow like d_head^0.5
    once q and k align (exponent about +0.4 at steps 3..6). FAIL, naming the attention
    logits."""
    with planted("sqrt_attention_scale"):
        code = coordcheck(tmp_path, *QUICK)
    out = capsys.readouterr().out
    assert code == 1
    assert "attn_logits (layer" in out and "grows with width" in out


def test_json_output_for_ci(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = coordcheck(tmp_path, *QUICK, "--parametrization", "sp", "--format", "json")
    payload = json.loads(capsys.readouterr().out)
    assert code == 1 and payload["exit_code"] == 1 and payload["verdict"] == "FAIL"
    assert payload["seeds"] == 4  # SP is decided at the first look
    worst = payload["worst"][0]
    assert worst["status"] == "grows" and worst["fail_low"] > payload["tolerance"]
    assert worst["ci_low"] <= worst["slope"] <= worst["ci_high"]
    assert any(line.startswith("attn_out") or "grows" in line for line in payload["failures"])


def test_help_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["coordcheck", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "0 PASS" in out and "1 FAIL" in out and "3 INCONCLUSIVE" in out


def test_cuda_without_a_gpu_is_a_user_error(capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert main(["coordcheck", "--device", "cuda"]) == 2
    assert "--device cuda" in capsys.readouterr().err


@pytest.mark.gpu
def test_mup_passes_on_cuda(tmp_path: Path) -> None:
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    assert coordcheck(tmp_path, *QUICK, "--device", "cuda") == 0
    with planted("one_lr"):
        assert coordcheck(tmp_path, *QUICK, "--device", "cuda") == 1


@pytest.mark.slow
def test_the_defaults_pass_mup_and_fail_sp(tmp_path: Path) -> None:
    assert coordcheck(tmp_path) == 0
    assert coordcheck(tmp_path, "--parametrization", "sp") == 1


@pytest.mark.slow
def test_wider_is_better_passes_under_mup(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    options = ["--widths", "64,128,256", "--steps", "20", "--seeds", "2"]
    code = coordcheck(tmp_path, "--wider-is-better", *options)
    assert code == 0, capsys.readouterr().out
    losses = pl.read_csv(tmp_path / "out" / "wider_is_better.csv")
    assert losses.shape == (6, 3)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--widths", "64,128"], "at least three"),
        (["--seeds", "1"], "--seeds must be >= 2"),
        (["--batch", "x:y"], "--batch and --modules need --model"),
    ],
)
def test_bad_input_is_a_user_error(
    options: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["coordcheck", *options]) == 2
    assert message in capsys.readouterr().err
