"""``harness coordcheck --model``: the check on models the researcher writes.

The muP models are built the way microsoft/mup's README and examples build them: a
``MuReadout`` head, ``set_base_shapes(model, base, delta=...)`` against narrower copies, and
``MuAdam``; their SP twins use ``nn.Linear`` and plain Adam. A plain model written here (no
mup) checks that nothing depends on the mup package. The factories below are found by
``--model test_coordcheck_user_model:NAME`` (pytest puts this folder on ``sys.path``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import polars as pl
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from harness.cli import main

mup = pytest.importorskip("mup")

LR = 3e-3
FEATURES, CLASSES = 64, 10
VOCAB, BASE = 96, 32


# -- an MLP on a fixed classification batch -----------------------------------------------


class MLP(nn.Module):
    """Two hidden layers of ``width``; the readout is mup's ``MuReadout`` or a plain Linear."""

    def __init__(self, width: int, *, mup_readout: bool) -> None:
        super().__init__()
        self.fc_in = nn.Linear(FEATURES, width)
        self.fc_hidden = nn.Linear(width, width)
        # mup's examples start the readout at zero (readout_zero_init): its random part at init
        # shrinks with width, a transient the check would otherwise see for many steps
        self.readout = (
            mup.MuReadout(width, CLASSES, readout_zero_init=True)
            if mup_readout
            else nn.Linear(width, CLASSES)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.fc_in(x))
        x = F.relu(self.fc_hidden(x))
        return self.readout(x)


def classification_batch(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(32, FEATURES, generator=generator)
    return inputs, torch.randint(0, CLASSES, (32,), generator=generator)


def mup_mlp(width: int) -> tuple[nn.Module, torch.optim.Optimizer]:
    model = MLP(width, mup_readout=True)
    mup.set_base_shapes(model, MLP(BASE, mup_readout=True), delta=MLP(2 * BASE, mup_readout=True))
    return model, mup.MuAdam(model.parameters(), lr=LR)


def sp_mlp(width: int) -> nn.Module:
    return MLP(width, mup_readout=False)  # harness builds Adam at --lr


BARE_MODELS = ("sp_mlp", "sp_transformer")  # factories that return no optimizer
SGD_LR = 0.3  # SGD needs a larger LR than Adam for the updates to dominate in a few steps


def mup_sgd_mlp(width: int) -> tuple[nn.Module, torch.optim.Optimizer]:
    """The MLP under ``mup.MuSGD`` (input weights' LR x width_mult, the readout's / width_mult)."""
    model = MLP(width, mup_readout=True)
    mup.set_base_shapes(model, MLP(BASE, mup_readout=True), delta=MLP(2 * BASE, mup_readout=True))
    return model, mup.MuSGD(model.parameters(), lr=SGD_LR)


def sp_sgd_mlp(width: int) -> tuple[nn.Module, torch.optim.Optimizer]:
    model = MLP(width, mup_readout=False)
    return model, torch.optim.SGD(model.parameters(), lr=SGD_LR)


# -- a small transformer on the default token batch ----------------------------------------


class Block(nn.Module):
    """Pre-norm attention and MLP; ``attn_scale`` is 1/d_head (muP) or 1/sqrt(d_head) (SP)."""

    def __init__(self, width: int, n_head: int, *, mup_attention: bool) -> None:
        super().__init__()
        self.n_head = n_head
        head = width // n_head
        self.scale = 1.0 / head if mup_attention else 1.0 / math.sqrt(head)
        self.ln_1 = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.ln_2 = nn.LayerNorm(width)
        self.fc = nn.Linear(width, 4 * width)
        self.fc_out = nn.Linear(4 * width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln_1(x)).split(C, dim=-1)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=self.scale)
        x = x + self.proj(y.transpose(1, 2).reshape(B, T, C))  # (B, T, C)
        return x + self.fc_out(F.gelu(self.fc(self.ln_2(x))))


class TinyTransformer(nn.Module):
    def __init__(self, width: int, *, parametrization: str) -> None:
        super().__init__()
        is_mup = parametrization == "mup"
        self.embed = nn.Embedding(VOCAB, width)
        self.blocks = nn.Sequential(
            *(Block(width, n_head=2, mup_attention=is_mup) for _ in range(2))
        )
        self.ln_f = nn.LayerNorm(width)
        self.head = (
            mup.MuReadout(width, VOCAB, readout_zero_init=True)
            if is_mup
            else nn.Linear(width, VOCAB)
        )

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.ln_f(self.blocks(self.embed(tokens))))


def _zero_queries(model: TinyTransformer) -> None:
    """muP's zero init of the query projections (the first third of each qkv)."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, Block):
                rows = module.qkv.weight.shape[0] // 3
                module.qkv.weight[:rows] = 0.0
                module.qkv.bias[:rows] = 0.0


def mup_transformer(width: int) -> tuple[nn.Module, torch.optim.Optimizer]:
    model = TinyTransformer(width, parametrization="mup")
    base = TinyTransformer(BASE, parametrization="mup")
    delta = TinyTransformer(2 * BASE, parametrization="mup")
    mup.set_base_shapes(model, base, delta=delta)
    _zero_queries(model)
    return model, mup.MuAdam(model.parameters(), lr=LR)


def sp_transformer(width: int) -> nn.Module:
    return TinyTransformer(width, parametrization="sp")


class KeywordForward(nn.Module):
    """A model called as Hugging Face models are, ``model(input_ids=..., attention_mask=...)``,
    returning an output object with ``.logits`` (and ``.loss`` None: no labels were given)."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> Any:
        assert attention_mask.shape == input_ids.shape
        return SimpleNamespace(logits=self.inner(input_ids), loss=None)


def keyword_mup_transformer(width: int) -> tuple[nn.Module, torch.optim.Optimizer]:
    model, optimizer = mup_transformer(width)
    return KeywordForward(model), optimizer


def keyword_batch(seed: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, VOCAB, (8, 33), generator=generator)
    inputs = {"input_ids": tokens[:, :-1], "attention_mask": torch.ones(8, 32, dtype=torch.long)}
    return inputs, tokens[:, 1:]


# -- a plain muP written by hand, no mup package -------------------------------------------


class ScaledReadout(nn.Linear):
    """A readout that applies its own 1 / width_mult: the check sees each module's output, so
    a multiplier applied by the parent (``self.readout(x) / m``) would leave the readout's
    own output growing with width in the table."""

    def __init__(self, width: int, out: int, width_mult: float) -> None:
        super().__init__(width, out)
        self.width_mult = width_mult
        nn.init.zeros_(self.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x) / self.width_mult


class HandMuPMLP(nn.Module):
    """muP by hand: hidden LR / width_mult (its own param group), readout × 1 / width_mult."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.width_mult = width / BASE
        self.fc_in = nn.Linear(FEATURES, width)
        self.fc_hidden = nn.Linear(width, width)
        self.readout = ScaledReadout(width, CLASSES, self.width_mult)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(F.relu(self.fc_hidden(F.relu(self.fc_in(x)))))


def hand_mup_mlp(width: int) -> tuple[nn.Module, torch.optim.Optimizer]:
    model = HandMuPMLP(width)
    hidden = [model.fc_hidden.weight]
    readout = [model.readout.weight]
    rest = [p for p in model.parameters() if all(p is not q for q in hidden + readout)]
    groups = [
        {"params": rest, "lr": LR},
        {"params": hidden, "lr": LR / model.width_mult},
        {"params": readout, "lr": LR},
    ]
    return model, torch.optim.Adam(groups)


# -- the tests -----------------------------------------------------------------------------


def check(tmp_path: Path, model: str, *options: str) -> int:
    args = ["coordcheck", "--model", f"test_coordcheck_user_model:{model}", *options]
    return main([*args, "--out", str(tmp_path / model)])


@pytest.mark.parametrize(
    ("model", "batch", "expected"),
    [
        ("mup_mlp", "test_coordcheck_user_model:classification_batch", 0),
        ("sp_mlp", "test_coordcheck_user_model:classification_batch", 1),
        ("hand_mup_mlp", "test_coordcheck_user_model:classification_batch", 0),
        ("mup_sgd_mlp", "test_coordcheck_user_model:classification_batch", 0),
        ("sp_sgd_mlp", "test_coordcheck_user_model:classification_batch", 1),
        ("mup_transformer", None, 0),
        ("keyword_mup_transformer", "test_coordcheck_user_model:keyword_batch", 0),
        ("sp_transformer", None, 1),
    ],
)
def test_mup_models_pass_and_their_sp_twins_fail(
    model: str, batch: str | None, expected: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    options = ["--batch", batch] if batch else ["--vocab-size", str(VOCAB)]
    code = check(tmp_path, model, *options, "--format", "json")
    payload = json.loads(capsys.readouterr().out)
    assert code == expected, payload
    # what trained it: Adam at --lr, built by harness for a bare model, or the factory's own
    # (mup.MuAdam and MuSGD return torch's Adam and SGD over muP's param groups)
    own = "the factory's SGD" if "sgd" in model else "the factory's Adam"
    assert payload["optimizer"] == ("Adam at lr 0.003" if model in BARE_MODELS else own)
    records = pl.read_csv(tmp_path / model / "coordcheck.csv")
    assert "output" in set(records["activation"].to_list())


@pytest.mark.gpu
@pytest.mark.parametrize(("model", "expected"), [("mup_transformer", 0), ("sp_transformer", 1)])
def test_a_user_model_on_cuda(
    model: str, expected: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The model, its optimizer's state and the CPU-made default batch all go to the GPU."""
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    options = ["--vocab-size", str(VOCAB), "--device", "cuda", "--format", "json", "--no-wandb"]
    assert check(tmp_path, model, *options) == expected
    assert json.loads(capsys.readouterr().out)["device"] == "cuda"


def test_sp_transformer_names_the_growing_modules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert check(tmp_path, "sp_transformer", "--vocab-size", str(VOCAB)) == 1
    out = capsys.readouterr().out
    assert "blocks.0.fc_out grows with width" in out


def test_modules_restricts_the_taps(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    options = ["--batch", "test_coordcheck_user_model:classification_batch", "--modules", "readout"]
    assert check(tmp_path, "mup_mlp", *options) == 0
    records = pl.read_csv(tmp_path / "mup_mlp" / "coordcheck.csv")
    assert set(records["activation"].to_list()) == {"readout", "loss"}


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("no_such_factory", "has no callable 'no_such_factory'"),
        ("FEATURES", "has no callable 'FEATURES'"),
    ],
)
def test_a_bad_model_spec_is_one_line(
    model: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert check(tmp_path, model) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_an_unimportable_module_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["coordcheck", "--model", "no_such_module_here:build"]) == 2
    assert "cannot import 'no_such_module_here'" in capsys.readouterr().err


def test_a_module_that_raises_while_importing_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "raises_on_import.py").write_text("raise RuntimeError('no GPU here')\n")
    monkeypatch.chdir(tmp_path)
    assert main(["coordcheck", "--model", "raises_on_import:build"]) == 2
    err = capsys.readouterr().err
    assert "importing 'raises_on_import' raised RuntimeError('no GPU here')" in err
    assert "Traceback" not in err


def test_the_built_in_model_gives_the_same_verdict_through_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The built-in GPT passed to --model (built by the trainer's own prepare): PASS like
    ``harness coordcheck``, and SP FAILs like ``--parametrization sp``. The GPT multiplies
    ``lm_head``'s output by muP's 1 / width_mult in its own forward, so ``lm_head`` alone grows
    like the width (the multiplier is outside it); the model's output ("output") is what is
    judged, with every module under ``transformer``."""
    batch = [
        "--batch",
        "test_coordcheck_user_model:builtin_batch",
        "--modules",
        "transformer,output",
    ]
    assert check(tmp_path, "builtin_mup", *batch) == 0
    assert check(tmp_path, "builtin_sp", *batch) == 1


def builtin_batch(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The built-in check's batch: the default data's first training batch for ``seed``."""
    from harness.coordcheck.settings import CoordCheckSettings, width_config
    from harness.training.loop import prepare

    settings = CoordCheckSettings()
    setup = prepare(width_config(settings, 64), seed=seed, device="cpu")
    tokens = torch.from_numpy(next(setup.data.train(seed, settings.batch_size)))
    return tokens[:, :-1], tokens[:, 1:]


def _builtin(width: int, parametrization: str) -> tuple[nn.Module, torch.optim.Optimizer]:
    from harness.coordcheck.settings import CoordCheckSettings, width_config
    from harness.training.loop import prepare

    settings = CoordCheckSettings(parametrization=parametrization)  # type: ignore[arg-type]
    setup = prepare(width_config(settings, width), seed=torch.initial_seed(), device="cpu")
    return setup.raw_model, setup.optimizer


def builtin_mup(width: int) -> tuple[nn.Module, torch.optim.Optimizer]:
    return _builtin(width, "mup")


def builtin_sp(width: int) -> tuple[nn.Module, torch.optim.Optimizer]:
    return _builtin(width, "sp")
