"""The GPT and selective attention: the properties the issue asks for, on CPU."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from kernels import selection_cumsum
from models.config import ModelConfig
from models.gpt import GPT, budget_mask, init_parameters

SMALL = ModelConfig(
    attention="selective", vocab_size=50, block_size=32, n_layer=2, n_head=4, n_embd=32
)


def model(config: ModelConfig = SMALL, seed: int = 0) -> GPT:
    net = GPT(config)
    init_parameters(net, seed)
    return net.eval()


def tokens(batch: int = 2, length: int = 32, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, 50, (batch, length), generator=torch.Generator().manual_seed(seed))


def random_logits(B: int = 3, T: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.randn(B, T, T, generator=torch.Generator().manual_seed(seed)) * 2


# -- F, the cumulative selection mask -----------------------------------------------------------


def test_the_first_two_query_rows_of_f_are_zero() -> None:
    forget = selection_cumsum(random_logits() + 5.0)  # every causal logit positive
    assert torch.all(forget[:, :2] == 0)
    assert torch.all(forget[:, 3:, 1] > 0)  # ... later rows are not (row 2 sees only S[1, :2])


def test_the_bos_column_is_zero_when_protected_and_not_otherwise() -> None:
    logits = random_logits() + 5.0
    assert torch.all(selection_cumsum(logits, protect_bos=True)[..., 0] == 0)
    assert torch.all(selection_cumsum(logits, protect_bos=False)[:, 2:, 0] > 0)


def test_masking_myself_only_when_allowed() -> None:
    logits = random_logits() + 5.0
    # row i + 1 holds exactly the selections of row i: (i, i) is the diagonal
    T = logits.shape[-1]
    rows, cols = torch.arange(1, T), torch.arange(0, T - 1)
    allowed = selection_cumsum(logits, allow_masking_myself=True, protect_bos=False)
    refused = selection_cumsum(logits, allow_masking_myself=False, protect_bos=False)
    assert torch.all(allowed[:, rows, cols] > 0)
    assert torch.all(refused[:, rows, cols] == 0)


def test_f_is_zero_above_the_diagonal() -> None:
    forget = selection_cumsum(random_logits() + 5.0, allow_masking_myself=True)
    assert torch.all(forget.triu(1) == 0)


def test_fp32_accumulation_matches_fp64_at_the_block_size() -> None:
    T = 1024
    logits = torch.randn(1, T, T, generator=torch.Generator().manual_seed(3))
    f32 = selection_cumsum(logits, accumulate_dtype=torch.float32)
    f64 = selection_cumsum(logits, accumulate_dtype=torch.float64)
    assert f64.dtype == torch.float64
    torch.testing.assert_close(f32.double(), f64, rtol=1e-5, atol=1e-3)


def test_fp32_and_fp64_models_agree_at_the_block_size() -> None:
    x = tokens(length=SMALL.block_size)
    f32 = model(SMALL)(x).logits
    f64 = model(dataclasses.replace(SMALL, cumsum_dtype="float64"))(x).logits
    torch.testing.assert_close(f32, f64, rtol=1e-4, atol=1e-4)


# -- the model ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "config",
    [
        SMALL,
        dataclasses.replace(SMALL, attention="mha"),
        dataclasses.replace(SMALL, protect_bos=False, allow_masking_myself=True),
        dataclasses.replace(SMALL, add_a_head=True, new_head_init="normal"),
    ],
    ids=["selective", "mha", "unprotected", "added_head"],
)
def test_causality_changing_token_t_changes_nothing_before_t(config: ModelConfig) -> None:
    net = model(config)
    x = tokens()
    t = 17
    changed = x.clone()
    changed[:, t] = (changed[:, t] + 1) % config.vocab_size
    before, after = net(x).logits, net(changed).logits
    assert torch.equal(before[:, :t], after[:, :t])
    assert not torch.allclose(before[:, t:], after[:, t:])


def test_non_positive_selection_logits_give_plain_attention() -> None:
    selective = model(SMALL)
    plain = model(dataclasses.replace(SMALL, attention="mha"))
    x = tokens()
    # different logits while the selection head still selects (a check that can fail) ...
    assert not torch.allclose(selective(x).logits, plain(x).logits, atol=1e-4)
    # ... identical once its query weights are zero, so its logits are 0 and ReLU(0) = 0
    with torch.no_grad():
        for block in selective.transformer.h:
            block.attn.c_attn.weight[: SMALL.head_size].zero_()
            block.attn.c_attn.weight[: SMALL.head_size].zero_()
        for block in plain.transformer.h:
            block.attn.c_attn.weight[: SMALL.head_size].zero_()
    torch.testing.assert_close(selective(x).logits, plain(x).logits, rtol=1e-5, atol=1e-5)


def test_negative_selection_logits_give_plain_attention() -> None:
    # strictly negative logits: scale q = -k on identical inputs, so q·k = -|k|² < 0
    config = dataclasses.replace(SMALL, n_layer=1, protect_bos=False)
    selective, plain = model(config), model(dataclasses.replace(config, attention="mha"))
    hs = config.head_size
    x = torch.full((1, 12), 7)  # every position the same token ...
    with torch.no_grad():
        for net in (selective, plain):
            net.transformer.wpe.weight.zero_()  # ... and no position signal
            w = net.transformer.h[0].attn.c_attn.weight
            w[:hs] = -w[config.n_embd : config.n_embd + hs]
    torch.testing.assert_close(selective(x).logits, plain(x).logits, rtol=1e-5, atol=1e-5)


def test_seeded_init_is_deterministic_and_shared_across_variants() -> None:
    a, b = model(SMALL, seed=5), model(SMALL, seed=5)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    other = model(SMALL, seed=6)
    assert not torch.equal(a.transformer.wte.weight, other.transformer.wte.weight)
    # adding a head leaves every shared parameter's init unchanged
    extended = dict(model(dataclasses.replace(SMALL, add_a_head=True), seed=5).named_parameters())
    for name, param in a.named_parameters():
        assert torch.equal(param, extended[name]), name


@pytest.mark.parametrize(
    ("init", "k_zero", "o_zero"),
    [
        ("normal", False, False),
        ("ko_zero", True, True),
        ("k_zero", True, False),
        ("o_zero", False, True),
    ],
)
def test_new_head_init(init: str, k_zero: bool, o_zero: bool) -> None:
    config = dataclasses.replace(SMALL, add_a_head=True, new_head_init=init)
    head = model(config).transformer.h[0].attn.new_head
    hs = config.head_size
    assert bool(torch.all(head.c_attn.weight[hs : 2 * hs] == 0)) == k_zero
    assert bool(torch.all(head.c_attn.weight[:hs] == 0)) is False
    assert bool(torch.all(head.c_proj.weight == 0)) == o_zero


def test_a_ko_zero_head_leaves_the_output_unchanged_at_init() -> None:
    x = tokens()
    base = model(SMALL)
    extended = model(dataclasses.replace(SMALL, add_a_head=True, selection_head=0))
    # selection logits 0 (k = 0) and no output (o = 0): the same function at init
    torch.testing.assert_close(base(x).logits, model(SMALL)(x).logits)
    plain_config = dataclasses.replace(SMALL, attention="mha")
    torch.testing.assert_close(
        extended(x).logits, model(plain_config)(x).logits, rtol=1e-5, atol=1e-5
    )


def test_memory_loss_counts_unmasked_keys() -> None:
    config = dataclasses.replace(SMALL, memory_penalty_epsilon=0.1, memory_penalty_tau=1.0)
    net = model(config)
    T = 8
    nothing_masked = torch.zeros(1, T, T)
    assert net.memory_term(nothing_masked).item() == pytest.approx(1.0)  # max_i (i + 1) / T
    everything_but_self = torch.ones(1, T, T).tril(-1) * 5.0
    assert net.memory_term(everything_but_self).item() == pytest.approx(1.0 / T)
    out = net(tokens(), tokens(seed=2))
    assert out.memory_loss is not None and 0 < out.memory_loss.item() <= 1.0


def test_budget_keeps_the_least_masked_keys_and_recent_ties() -> None:
    T = 5
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    window = budget_mask(None, causal, 2)[0]
    assert window[4].tolist() == [False, False, False, True, True]
    assert window[0].tolist() == [True, False, False, False, False]
    forget = torch.zeros(1, T, T)
    forget[0, 4] = torch.tensor([0.0, 3.0, 0.5, 2.0, 0.0])
    assert budget_mask(forget, causal, 3)[0, 4].tolist() == [True, False, True, False, True]


def test_memory_budget_at_least_t_changes_nothing() -> None:
    net, x = model(SMALL), tokens()
    torch.testing.assert_close(net(x, memory_budget=32).logits, net(x).logits)
    assert not torch.allclose(net(x, memory_budget=4).logits, net(x).logits)


def test_config_rejects_bad_values() -> None:
    from harness.errors import SpecError
    from harness.schema import from_mapping

    with pytest.raises(SpecError, match="n_embd"):
        from_mapping(ModelConfig, {"n_embd": 30, "n_head": 4})
    with pytest.raises(SpecError, match="selection_head"):
        from_mapping(ModelConfig, {"selection_head": 4, "n_head": 4})
    from_mapping(ModelConfig, {"selection_head": 4, "n_head": 4, "add_a_head": True})
    with pytest.raises(SpecError, match="new_head_init"):
        from_mapping(ModelConfig, {"new_head_init": "kozero"})
    with pytest.raises(SpecError, match="memory_penalty_epsilon"):
        from_mapping(ModelConfig, {"attention": "mha", "memory_penalty_epsilon": 0.1})
