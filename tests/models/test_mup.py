"""muP's parametrization: init, per-group LRs, schedule, multipliers — each against SP."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from harness.training.config import RunConfig, TrainConfig
from harness.training.loop import make_optimizer, make_scheduler
from models import mup
from models.config import ModelConfig
from models.gpt import GPT, init_parameters

BASE = ModelConfig(vocab_size=40, block_size=16, n_layer=2, n_head=4, n_embd=64)


def mup_config(width: int, **changes: object) -> ModelConfig:
    return dataclasses.replace(
        BASE,
        n_embd=width,
        n_head=width // 16,
        parametrization="mup",
        mup_base_width=64,
        **changes,  # type: ignore[arg-type]
    )


def built(config: ModelConfig, seed: int = 0) -> GPT:
    model = GPT(config)
    init_parameters(model, seed)
    return model


def test_width_mult_is_width_over_base_and_one_under_sp() -> None:
    assert mup.width_mult(mup_config(256)) == 4.0
    assert mup.width_mult(dataclasses.replace(mup_config(256), parametrization="sp")) == 1.0


def test_hidden_init_std_shrinks_with_sqrt_width_mult_and_embeddings_do_not() -> None:
    narrow, wide = built(mup_config(64)), built(mup_config(256))
    for name in ("transformer.h.0.mlp.c_fc.weight", "transformer.h.1.attn.c_attn.weight"):
        ratio = wide.get_parameter(name).std() / narrow.get_parameter(name).std()
        assert ratio.item() == pytest.approx(0.5, rel=0.05)  # 1 / sqrt(256 / 64)
    for name in ("transformer.wte.weight", "transformer.wpe.weight"):
        assert wide.get_parameter(name).std().item() == pytest.approx(0.02, rel=0.1)


def test_sp_init_is_unchanged_by_the_mup_code() -> None:
    config = dataclasses.replace(mup_config(256), parametrization="sp")
    weight = built(config).get_parameter("transformer.h.0.mlp.c_fc.weight")
    assert weight.std().item() == pytest.approx(0.02, rel=0.05)


def groups_by_name(optimizer: torch.optim.Optimizer) -> dict[str, dict]:
    return {group["name"]: group for group in optimizer.param_groups}


def run_config(model: ModelConfig, **train: object) -> RunConfig:
    return RunConfig(model=model, train=TrainConfig(lr=1e-2, **train))  # type: ignore[arg-type]


def test_hidden_matrices_get_the_lr_over_width_mult_and_every_parameter_one_group() -> None:
    config = mup_config(256)
    model = built(config)
    groups = groups_by_name(make_optimizer(model, run_config(config)))
    assert groups["hidden"]["lr"] == pytest.approx(1e-2 / 4)
    assert groups["matrices"]["lr"] == groups["vectors"]["lr"] == pytest.approx(1e-2)
    grouped = [p for group in groups.values() for p in group["params"]]
    assert len(grouped) == len({id(p) for p in grouped}) == len(list(model.parameters()))
    names = {id(p): n for n, p in model.named_parameters()}
    assert {names[id(p)] for p in groups["matrices"]["params"]} == {
        "transformer.wte.weight",  # the tied readout, once
        "transformer.wpe.weight",
    }


def test_sp_keeps_one_lr_for_every_matrix() -> None:
    config = dataclasses.replace(mup_config(256), parametrization="sp")
    groups = groups_by_name(make_optimizer(built(config), run_config(config)))
    assert set(groups) == {"matrices", "vectors"}
    assert groups["matrices"]["lr"] == groups["vectors"]["lr"] == pytest.approx(1e-2)


def test_the_schedule_scales_each_groups_own_lr_keeping_their_ratio() -> None:
    config = mup_config(256)
    model = built(config)
    settings = run_config(config, steps=20, warmup_steps=5, decay="cosine")
    optimizer = make_optimizer(model, settings)
    scheduler = make_scheduler(optimizer, settings)
    for _ in range(12):  # through warmup into the decay
        optimizer.step()
        scheduler.step()
        groups = groups_by_name(optimizer)
        assert groups["hidden"]["lr"] == pytest.approx(groups["matrices"]["lr"] / 4)
    assert groups["matrices"]["lr"] < 1e-2  # the schedule did move the LRs


def test_output_multiplier_divides_the_logits_by_width_mult_with_tied_weights() -> None:
    config = mup_config(256, mup_output_mult=2.0)
    model = built(config)
    assert model.lm_head.weight is model.transformer.wte.weight
    idx = torch.randint(0, 40, (2, 16), generator=torch.Generator().manual_seed(0))
    logits = model(idx).logits
    hidden = model.transformer.ln_f(_residual(model, idx))
    expected = hidden @ model.transformer.wte.weight.T * 2.0 / 4.0
    torch.testing.assert_close(logits, expected)


def _residual(model: GPT, idx: torch.Tensor) -> torch.Tensor:
    pos = torch.arange(idx.shape[1])
    x = model.transformer.wte(idx) + model.transformer.wpe(pos)
    for block in model.transformer.h:
        x, _ = block(x)
    return x


def test_attention_scale_is_attn_mult_over_d_head_under_mup() -> None:
    assert mup.attention_scale(mup_config(256, mup_attn_mult=2.0)) == pytest.approx(2.0 / 16)
    sp = dataclasses.replace(mup_config(256), parametrization="sp")
    assert mup.attention_scale(sp) == pytest.approx(1 / math.sqrt(16))


@pytest.mark.parametrize("attention", ["mha", "selective"])
def test_the_model_uses_the_mup_attention_scale_on_both_paths(attention: str) -> None:
    config = mup_config(64, attention=attention)
    model = built(config).eval()
    idx = torch.randint(0, 40, (2, 16), generator=torch.Generator().manual_seed(1))
    seen = []
    attn = model.transformer.h[0].attn
    attn.fused = False
    handle = attn.logits_tap.register_forward_hook(lambda m, i, out: seen.append(out))
    with torch.no_grad():
        math_logits = model(idx).logits
        attn_in = model.transformer.h[0].ln_1(
            model.transformer.wte(idx) + model.transformer.wpe(torch.arange(16))
        )
        q, k, _ = attn.c_attn(attn_in).split(64, dim=2)
        q = q.view(2, 16, 4, 16).transpose(1, 2)
        k = k.view(2, 16, 4, 16).transpose(1, 2)
        torch.testing.assert_close(seen[0], q @ k.transpose(-2, -1) / 16)
        attn.fused = True
        torch.testing.assert_close(model(idx).logits, math_logits)  # SDPA gets the same scale
    handle.remove()


def test_zero_init_query_and_readout() -> None:
    config = mup_config(128, mup_zero_init_query=True, tie_embeddings=False,
                        mup_zero_init_readout=True)  # fmt: skip
    model = built(config)
    c_attn = model.get_parameter("transformer.h.0.attn.c_attn.weight")
    assert torch.all(c_attn[:128] == 0) and c_attn[128:].abs().sum() > 0  # keys, values live
    assert torch.all(model.lm_head.weight == 0)
    assert model.transformer.wte.weight.abs().sum() > 0


def test_zero_init_readout_needs_untied_weights() -> None:
    with pytest.raises(ValueError, match="tie_embeddings"):
        mup_config(128, mup_zero_init_readout=True)
