"""Attention variants, norm placement, head mixing, nanoheads, KV-cache accounting, and the
fused selective-attention path of the GPT: shapes, causality and equivalences, on CPU."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
import torch

import kernels
from harness.errors import SpecError
from harness.schema import from_mapping
from models.attention_variants import VariantAttention, sliding_window_mask
from models.config import ModelConfig
from models.gpt import GPT, CausalSelfAttention, fused_selective, init_parameters
from models.kv_cache import kv_cache_bytes, kv_cache_bytes_per_token
from models.nanoheads import NanoheadAttention, nanohead_layout

VOCAB, T = 40, 16
BASE = ModelConfig(vocab_size=VOCAB, block_size=T, n_layer=2, n_head=4, n_embd=32)
ATTENTIONS = {
    "mha": {},
    "selective": {"attention": "selective"},
    "gqa": {"attention": "gqa", "num_kv_heads": 2},
    "mla": {"attention": "mla", "latent_dim": 16},
    "window": {"window_size": 4},
    "qk_norm": {"qk_norm": True},
    "nanoheads": {"n_head": 8, "nanohead_proportion": 0.4, "nanohead_dim": 2},
    **{f"mix_{m}": {"head_mixing": m} for m in ("wsum", "perhead", "inputw", "sum")},
}
PLACEMENTS = ("pre", "post", "sandwich")


def config(**fields) -> ModelConfig:  # type: ignore[no-untyped-def]
    return dataclasses.replace(BASE, **fields)


def model(cfg: ModelConfig, seed: int = 0) -> GPT:
    net = GPT(cfg)
    init_parameters(net, seed)
    return net.eval()


def tokens(batch: int = 2, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, VOCAB, (batch, T), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(
    ("kind", "placement"), list(itertools.product(ATTENTIONS, PLACEMENTS)), ids=str
)
def test_every_attention_and_norm_placement_is_causal_and_trains(kind, placement) -> None:
    net = model(config(**ATTENTIONS[kind], norm_placement=placement))
    idx = tokens()
    out = net(idx, idx)
    assert out.logits.shape == (2, T, VOCAB)
    assert torch.isfinite(out.loss)
    out.loss.backward()
    assert all(p.grad is not None for p in net.parameters())
    # changing token t changes no prediction before t
    t = T // 2
    changed = idx.clone()
    changed[:, t] = (changed[:, t] + 1) % VOCAB
    with torch.no_grad():
        before, after = net(idx).logits, net(changed).logits
    torch.testing.assert_close(before[:, :t], after[:, :t], rtol=0, atol=1e-6)
    assert not torch.allclose(before[:, t:], after[:, t:])


def test_variant_switches_build_the_variant_module_and_defaults_the_plain_one() -> None:
    assert isinstance(GPT(BASE).transformer.h[0].attn, CausalSelfAttention)
    assert isinstance(GPT(config(qk_norm=True)).transformer.h[0].attn, VariantAttention)
    nano = GPT(config(n_head=8, nanohead_proportion=0.2))
    assert isinstance(nano.transformer.h[0].attn, NanoheadAttention)


def test_norm_placements_have_the_norms_they_name() -> None:
    def norms(placement: str) -> set[str]:
        block = GPT(config(norm_placement=placement)).transformer.h[0]
        names = ("ln_1", "ln_1_post", "ln_2", "ln_2_post")
        return {n for n in names if not isinstance(getattr(block, n), torch.nn.Identity)}

    assert norms("pre") == {"ln_1", "ln_2"}
    assert norms("post") == {"ln_1_post", "ln_2_post"}
    assert norms("sandwich") == {"ln_1", "ln_2", "ln_1_post", "ln_2_post"}


# -- equivalences ----------------------------------------------------------------------------


def test_gqa_with_as_many_kv_heads_as_heads_is_mha() -> None:
    mha = model(BASE)
    gqa = GPT(config(attention="gqa", num_kv_heads=BASE.n_head)).eval()
    gqa.load_state_dict(mha.state_dict())  # strict: the same names and shapes
    idx = tokens()
    torch.testing.assert_close(gqa(idx).logits, mha(idx).logits, rtol=1e-5, atol=1e-5)
    # and the paired init gives it those weights anyway
    fresh = model(config(attention="gqa", num_kv_heads=BASE.n_head))
    torch.testing.assert_close(fresh(idx).logits, mha(idx).logits, rtol=1e-5, atol=1e-5)


def test_gqa_shares_key_value_heads() -> None:
    attn = GPT(config(attention="gqa", num_kv_heads=1)).transformer.h[0].attn
    hs = BASE.head_size
    assert attn.c_attn.weight.shape == ((BASE.n_head + 2) * hs, BASE.n_embd)


def test_a_window_as_long_as_the_context_is_full_attention() -> None:
    assert torch.equal(sliding_window_mask(T, T), torch.ones(T, T, dtype=torch.bool).tril())
    assert torch.equal(sliding_window_mask(T, 10 * T), sliding_window_mask(T, T))
    idx = tokens()
    full = model(config(qk_norm=True))(idx).logits
    windowed = model(config(qk_norm=True, window_size=T))(idx).logits
    torch.testing.assert_close(windowed, full, rtol=1e-5, atol=1e-5)


def test_variants_take_the_mup_attention_scale() -> None:
    mup = config(parametrization="mup", mup_attn_mult=3.0)
    idx = tokens()
    torch.testing.assert_close(
        model(dataclasses.replace(mup, window_size=T))(idx).logits,
        model(mup)(idx).logits,
        rtol=1e-5,
        atol=1e-5,
    )


def test_a_window_reads_only_the_last_window_keys() -> None:
    window = 3
    net = model(config(n_layer=1, window_size=window))
    idx = tokens()
    changed = idx.clone()
    changed[:, 2] = (changed[:, 2] + 1) % VOCAB
    with torch.no_grad():
        before, after = net(idx).logits, net(changed).logits
    reach = 2 + window  # positions 2 .. 4 see key 2, position 5 no longer does
    assert not torch.allclose(before[:, 2:reach], after[:, 2:reach])
    torch.testing.assert_close(before[:, reach:], after[:, reach:], rtol=0, atol=1e-6)


def test_a_memory_budget_on_a_variant_is_a_sliding_window() -> None:
    idx = tokens()
    budgeted = model(config(qk_norm=True))(idx, memory_budget=4).logits
    windowed = model(config(qk_norm=True, window_size=4))(idx).logits
    torch.testing.assert_close(budgeted, windowed, rtol=1e-5, atol=1e-5)


def test_qk_norm_bounds_the_queries_and_keys() -> None:
    attn = model(config(qk_norm=True)).transformer.h[0].attn
    q = torch.randn(2, 4, T, 8) * 50
    assert torch.allclose(attn.q_norm(q).pow(2).mean(-1), torch.ones(2, 4, T), atol=1e-3)


# -- head mixing -----------------------------------------------------------------------------

MIXINGS = ("concat", "wsum", "perhead", "inputw", "sum")


def test_head_mixing_strategies_run_and_differ() -> None:
    idx = tokens()
    nets = {m: model(config(head_mixing=m, qk_norm=True)) for m in MIXINGS}
    logits = {m: net(idx).logits for m, net in nets.items()}
    for a, b in itertools.combinations(MIXINGS, 2):
        if {a, b} != {"wsum", "sum"}:  # wsum starts as the sum (below), then learns its gains
            assert not torch.allclose(logits[a], logits[b]), (a, b)
    nets["wsum"](idx, idx).loss.backward()
    gains = [p for n, p in nets["wsum"].named_parameters() if n.endswith("head_gain.weight")]
    assert len(gains) == BASE.n_layer and all(g.grad.abs().min() > 0 for g in gains)


def test_wsum_starts_as_the_plain_sum() -> None:
    wsum, plain_sum = model(config(head_mixing="wsum")), GPT(config(head_mixing="sum")).eval()
    state = {k: v for k, v in wsum.state_dict().items() if "head_gain" not in k}
    plain_sum.load_state_dict(state)
    assert all(
        torch.equal(p, torch.ones_like(p)) for n, p in wsum.named_parameters() if "gain" in n
    )
    idx = tokens()
    torch.testing.assert_close(wsum(idx).logits, plain_sum(idx).logits)


def test_perhead_is_concat_reparameterised() -> None:
    concat = model(config(head_mixing="concat", qk_norm=True))
    perhead = GPT(config(head_mixing="perhead", qk_norm=True)).eval()
    H, hs, C = BASE.n_head, BASE.head_size, BASE.n_embd
    state = dict(concat.state_dict())
    for name, value in concat.state_dict().items():
        if name.endswith("attn.c_proj.weight"):  # (C, H * hs) -> per head (H, hs, C)
            state[name] = value.view(C, H, hs).permute(1, 2, 0).contiguous()
    perhead.load_state_dict(state)
    idx = tokens()
    torch.testing.assert_close(perhead(idx).logits, concat(idx).logits, rtol=1e-5, atol=1e-5)


def test_smaller_output_projections_for_the_summing_strategies() -> None:
    for mixing in ("wsum", "inputw", "sum"):
        attn = GPT(config(head_mixing=mixing)).transformer.h[0].attn
        assert attn.c_proj.weight.shape == (BASE.n_embd, BASE.head_size)


# -- nanoheads -------------------------------------------------------------------------------


def attention_params(net: GPT) -> int:
    return sum(p.numel() for n, p in net.named_parameters() if ".attn." in n)


def test_nanoheads_keep_the_attention_parameters() -> None:
    base = config(n_head=8, n_embd=64)  # head size 8
    mha = attention_params(GPT(base))
    for proportion in (0.2, 0.4, 0.6, 0.8):
        cfg = dataclasses.replace(base, nanohead_proportion=proportion, nanohead_dim=2)
        layout = nanohead_layout(cfg)
        width = layout.regular_heads * 8 + layout.nanoheads * 2
        assert attention_params(GPT(cfg)) == mha == BASE.n_layer * 4 * 64 * width
    # a nanohead size that does not divide the head size loses the remainder
    cfg = dataclasses.replace(base, nanohead_proportion=0.2, nanohead_dim=3)
    layout = nanohead_layout(cfg)  # 2 heads (16 dims) replaced: 5 nanoheads of 3
    assert (layout.regular_heads, layout.nanoheads) == (6, 5)
    assert attention_params(GPT(cfg)) == BASE.n_layer * 4 * 64 * (6 * 8 + 5 * 3) < mha


def test_nanohead_proportions_of_the_study_give_distinct_layouts() -> None:
    layouts = [
        nanohead_layout(config(n_head=8, n_embd=128, nanohead_proportion=p, nanohead_dim=4))
        for p in (0.0, 0.2, 0.4, 0.6, 0.8)
    ]
    assert [x.regular_heads for x in layouts] == [8, 6, 5, 3, 2]
    assert [x.nanoheads for x in layouts] == [0, 8, 12, 20, 24]
    assert [x.proportion for x in layouts] == [0.0, 0.25, 0.375, 0.625, 0.75]


def test_nanoheads_at_proportion_zero_are_mha() -> None:
    plain = model(BASE)
    attn = NanoheadAttention(BASE).eval()
    attn.load_state_dict(plain.transformer.h[0].attn.state_dict())
    x = torch.randn(2, T, BASE.n_embd)
    torch.testing.assert_close(attn(x)[0], plain.transformer.h[0].attn(x)[0])


# -- KV-cache accounting ---------------------------------------------------------------------


def test_kv_cache_bytes_per_token() -> None:
    L, H, hs = BASE.n_layer, BASE.n_head, BASE.head_size
    assert kv_cache_bytes_per_token(BASE) == L * 2 * H * hs * 2  # K and V, bf16
    assert kv_cache_bytes_per_token(config(attention="selective")) == L * 2 * H * hs * 2
    assert kv_cache_bytes_per_token(config(attention="gqa", num_kv_heads=1)) == L * 2 * hs * 2
    assert kv_cache_bytes_per_token(config(attention="mla", latent_dim=12)) == L * 12 * 2
    assert kv_cache_bytes_per_token(config(add_a_head=True)) == L * 2 * (H + 1) * hs * 2
    nano = config(n_head=8, nanohead_proportion=0.5, nanohead_dim=1)  # 4 regular + 16 of 1
    assert kv_cache_bytes_per_token(nano) == L * 2 * (4 * 4 + 16) * 2
    assert kv_cache_bytes_per_token(BASE, bytes_per_element=4) == L * 2 * H * hs * 4


def test_a_sliding_window_bounds_the_whole_cache_not_the_per_token_cost() -> None:
    windowed = config(window_size=4)
    assert kv_cache_bytes_per_token(windowed) == kv_cache_bytes_per_token(BASE)
    assert kv_cache_bytes(windowed, 1000) == 4 * kv_cache_bytes_per_token(BASE)
    assert kv_cache_bytes(BASE, 1000) == 1000 * kv_cache_bytes_per_token(BASE)


# -- config validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "key"),
    [
        ({"attention": "gqa"}, "num_kv_heads"),
        ({"attention": "gqa", "num_kv_heads": 3}, "num_kv_heads"),
        ({"num_kv_heads": 2}, "num_kv_heads"),
        ({"attention": "mla"}, "latent_dim"),
        ({"latent_dim": 8}, "latent_dim"),
        ({"attention": "selective", "window_size": 4}, "attention"),
        ({"add_a_head": True, "qk_norm": True}, "add_a_head"),
        ({"nanohead_proportion": 0.4, "head_mixing": "sum"}, "nanohead_proportion"),
        ({"nanohead_proportion": 1.0}, "nanohead_proportion"),
        ({"nanohead_proportion": 0.5, "nanohead_dim": 64}, "nanohead_dim"),
        ({"norm_placement": "middle"}, "norm_placement"),
        ({"parametrization": "mup", "attention": "gqa", "num_kv_heads": 2}, "parametrization"),
        ({"head_mixing": "max"}, "head_mixing"),
    ],
)
def test_bad_variant_settings_fail_at_the_door(fields, key) -> None:
    with pytest.raises(SpecError) as error:
        from_mapping(ModelConfig, {"n_head": 4, "n_embd": 32, **fields}, where="base.model")
    assert error.value.key == f"base.model.{key}"


# -- the fused selective-attention path ------------------------------------------------------


def test_selective_attention_takes_the_fused_kernel_when_it_can(monkeypatch) -> None:
    calls = []
    fused = kernels.selective_attention

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(kwargs)
        return fused(*args, **{**kwargs, "backend": "reference"})

    monkeypatch.setattr(kernels, "selective_attention", spy)
    cfg = config(attention="selective", allow_masking_myself=True, selection_head=1)
    idx = tokens()
    math_path = model(dataclasses.replace(cfg, kernel_backend="reference"))(idx).logits
    assert calls == []  # CPU tensors with the "reference" backend: the math path
    kernel_path = model(dataclasses.replace(cfg, kernel_backend="triton"))(idx).logits
    assert len(calls) == cfg.n_layer
    assert calls[0] == {
        "selection_head": 1,
        "protect_bos": True,
        "allow_masking_myself": True,
        "scale": pytest.approx(cfg.head_size**-0.5),
        "backend": "triton",
    }
    torch.testing.assert_close(kernel_path, math_path, rtol=1e-5, atol=1e-5)


def test_the_fused_kernel_only_where_nothing_needs_f() -> None:
    q = torch.zeros(1, 4, T, 8)
    triton = config(attention="selective", kernel_backend="triton")
    assert fused_selective(triton, q, memory_budget=None, dropout=0.0)
    assert not fused_selective(triton, q, memory_budget=4, dropout=0.0)
    assert not fused_selective(triton, q, memory_budget=None, dropout=0.1)
    for needs_math in ({"memory_penalty_epsilon": 0.1}, {"cumsum_dtype": "float64"}):
        cfg = dataclasses.replace(triton, **needs_math)
        assert not fused_selective(cfg, q, memory_budget=None, dropout=0.0)
    assert not fused_selective(config(attention="selective"), q, memory_budget=None, dropout=0.0)
    assert not fused_selective(config(), q, memory_budget=None, dropout=0.0)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_selective_attention_on_cuda_matches_the_math_path() -> None:
    cfg = config(attention="selective", block_size=64, n_embd=64)
    idx = torch.randint(0, VOCAB, (2, 64), generator=torch.Generator().manual_seed(0)).cuda()
    fused = model(cfg).cuda()
    reference = model(dataclasses.replace(cfg, kernel_backend="reference")).cuda()
    out_fused, out_ref = fused(idx, idx), reference(idx, idx)
    torch.testing.assert_close(out_fused.logits, out_ref.logits, rtol=2e-3, atol=2e-3)
    out_fused.loss.backward()
    out_ref.loss.backward()
    for (name, a), (_, b) in zip(
        fused.named_parameters(), reference.named_parameters(), strict=True
    ):
        torch.testing.assert_close(a.grad, b.grad, rtol=2e-2, atol=2e-4, msg=name)
