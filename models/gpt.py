"""A nanoGPT-style decoder with plain or selective attention. Reads top to bottom:
norm → attention → MLP → block → model → initialisation.

GQA, MLA, sliding windows, QK-norm and head mixing live in ``models/attention_variants.py``,
nanoheads in ``models/nanoheads.py``, what each caches at inference in ``models/kv_cache.py``;
``Block`` picks the attention module and places the norms.

Architecture only: no optimizer, no I/O. The trainer owns those.
"""

from __future__ import annotations

import hashlib
import math
from typing import TYPE_CHECKING, NamedTuple

import torch
import torch.nn as nn
from torch.nn import functional as F

from models import mup
from models.attention_variants import RMSNorm, VariantAttention
from models.config import ModelConfig
from models.head_mixing import HeadGains
from models.nanoheads import NanoheadAttention
from models.own_kernels import own_kernels

if TYPE_CHECKING:
    import kernels
else:  # harness's own, even where Hugging Face's ``kernels`` comes first on the path
    kernels = own_kernels()

# -- norm ------------------------------------------------------------------------------------


class LayerNorm(nn.Module):
    """LayerNorm with an optional bias (PyTorch's cannot drop only the bias)."""

    def __init__(self, ndim: int, bias: bool) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)


# -- attention -------------------------------------------------------------------------------


def selection_cumsum(selection_logits: torch.Tensor, config: ModelConfig) -> torch.Tensor:
    """F from the selection head's scaled logits (B, T, T), by ``config.kernel_backend``."""
    return kernels.selection_cumsum(
        selection_logits,
        protect_bos=config.protect_bos,
        allow_masking_myself=config.allow_masking_myself,
        accumulate_dtype=torch.float64 if config.cumsum_dtype == "float64" else torch.float32,
        backend=config.kernel_backend,
    )


class AddedHead(nn.Module):
    """The extra head of ``add_a_head``: its own Q/K/V and output weights, so a checkpoint
    without it loads into the shared weights unchanged."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.c_attn = nn.Linear(config.n_embd, 3 * config.head_size, bias=config.bias)
        self.c_proj = nn.Linear(config.head_size, config.n_embd, bias=False)


class CausalSelfAttention(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.n_head = config.n_head
        self.head_size = config.head_size
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.new_head = AddedHead(config) if config.add_a_head else None
        self.resid_dropout = nn.Dropout(config.dropout)
        # The scaled attention logits (B, H, T, T) pass through here on the math path, so a
        # forward hook can read them (``harness coordcheck``); ``fused = False`` forces that path.
        self.logits_tap = nn.Identity()
        self.fused = True

    def forward(
        self, x: torch.Tensor, *, memory_budget: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Returns the attention output (B, T, C) and F (B, T, T) for selective attention."""
        config = self.config
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(C, dim=2)
        q = q.view(B, T, self.n_head, self.head_size).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_head, self.head_size).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(B, T, self.n_head, self.head_size).transpose(1, 2)  # (B, nh, T, hs)
        if self.new_head is not None:
            q1, k1, v1 = self.new_head.c_attn(x).split(self.head_size, dim=2)
            q = torch.cat([q1.unsqueeze(1), q], dim=1)  # (B, nh + 1, T, hs), added head first
            k = torch.cat([k1.unsqueeze(1), k], dim=1)
            v = torch.cat([v1.unsqueeze(1), v], dim=1)
        dropout = config.dropout if self.training else 0.0

        scale = mup.attention_scale(config)  # 1/√d_head (sp) or attn_mult/d_head (mup)
        forget = None
        if config.attention == "mha" and memory_budget is None and self.fused:
            # fast path: fused causal attention
            y = F.scaled_dot_product_attention(
                q, k, v, is_causal=True, dropout_p=dropout, scale=scale
            )
        elif self.fused and fused_selective(
            config, q, memory_budget=memory_budget, dropout=dropout
        ):
            # fast path: the fused selective-attention kernel; F is never materialised
            y = kernels.selective_attention(
                q,
                k,
                v,
                selection_head=config.selection_head,
                protect_bos=config.protect_bos,
                allow_masking_myself=config.allow_masking_myself,
                scale=scale,
                backend=config.kernel_backend,
            )  # (B, H, T, hs)
        else:
            # the plain math path; selective attention subtracts F before the softmax
            att = self.logits_tap((q @ k.transpose(-2, -1)) * scale)  # (B, H, T, T)
            causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
            if config.attention == "selective":
                forget = selection_cumsum(att[:, config.selection_head], config)  # (B, T, T)
                att = att - forget.unsqueeze(1)  # (B, H, T, T), promoted to F's dtype
            keep = causal
            if memory_budget is not None and memory_budget < T:
                keep = causal & budget_mask(forget, causal, memory_budget).unsqueeze(1)
            att = att.masked_fill(~keep, float("-inf"))
            att = F.softmax(att, dim=-1).to(v.dtype)
            att = F.dropout(att, p=dropout, training=self.training)
            y = att @ v  # (B, H, T, hs)

        if self.new_head is not None:
            y_added = self.new_head.c_proj(y[:, 0])  # (B, T, C)
            y = y[:, 1:]
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, T, nh * hs)
        y = self.c_proj(y)
        if self.new_head is not None:
            y = y + y_added
        return self.resid_dropout(y), forget


def fused_selective(
    config: ModelConfig, q: torch.Tensor, *, memory_budget: int | None, dropout: float
) -> bool:
    """Whether ``kernels.selective_attention`` computes this call: selective attention that
    needs no F afterwards (no memory budget, no memory loss), without attention dropout, with
    F in float32, on CUDA tensors (or ``kernel_backend = "triton"``, the interpreter in tests).
    """
    return (
        config.attention == "selective"
        and memory_budget is None
        and config.memory_penalty_epsilon == 0
        and dropout == 0
        and config.cumsum_dtype == "float32"
        and (q.is_cuda or config.kernel_backend == "triton")
    )


def budget_mask(forget: torch.Tensor | None, causal: torch.Tensor, budget: int) -> torch.Tensor:
    """Which keys each query keeps under a memory budget of ``budget`` keys: the ones with the
    least F (least masked); ties go to the most recent key, so plain attention (F = 0) keeps a
    sliding window of the last ``budget`` keys.

    Args:
        forget: F (B, T, T), or None for plain attention.
        causal: (T, T) lower-triangular mask.
        budget: keys kept per query.

    Returns:
        (B, T, T) bool, True where a key is kept (only causal keys are ever kept).
    """
    T = causal.shape[0]
    score = torch.zeros(T, T, device=causal.device) if forget is None else forget.float()
    score = score.masked_fill(~causal, float("inf"))
    if score.dim() == 2:
        score = score.unsqueeze(0)
    # Sorting the key axis reversed with a stable sort puts later keys first among equal F.
    order = torch.sort(score.flip(-1), dim=-1, stable=True).indices[..., :budget]  # (B, T, K)
    keep = torch.zeros_like(score, dtype=torch.bool).scatter_(-1, order, True).flip(-1)
    return keep & causal


# -- MLP, block ------------------------------------------------------------------------------


class MLP(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x))))


class Block(nn.Module):
    """norm_placement: "pre" normalises each sublayer's input (ln_1, ln_2), "post" its output
    before the residual add (ln_1_post, ln_2_post: OLMo 2's reordered norm), "sandwich" both.
    An absent norm is the identity."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        pre = config.norm_placement in ("pre", "sandwich")
        post = config.norm_placement in ("post", "sandwich")

        def norm(wanted: bool) -> nn.Module:
            return LayerNorm(config.n_embd, bias=config.bias) if wanted else nn.Identity()

        self.ln_1, self.ln_1_post = norm(pre), norm(post)
        if config.nanohead_proportion > 0:
            self.attn: nn.Module = NanoheadAttention(config)  # models/nanoheads.py
        elif config.variant_attention:  # gqa, mla, window, qk_norm, head mixing
            self.attn = VariantAttention(config)  # models/attention_variants.py
        else:
            self.attn = CausalSelfAttention(config)
        self.ln_2, self.ln_2_post = norm(pre), norm(post)
        self.mlp = MLP(config)

    def forward(
        self, x: torch.Tensor, *, memory_budget: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        attended, forget = self.attn(self.ln_1(x), memory_budget=memory_budget)
        x = x + self.ln_1_post(attended)
        x = x + self.ln_2_post(self.mlp(self.ln_2(x)))
        return x, forget


# -- model -----------------------------------------------------------------------------------


class GPTOutput(NamedTuple):
    logits: torch.Tensor  # (B, T, vocab)
    loss: torch.Tensor | None  # mean next-token cross-entropy, when targets are given
    memory_loss: torch.Tensor | None  # the memory penalty's term before ε, when ε > 0


class Transformer(nn.Module):
    """The embeddings, blocks and final norm: nanoGPT's ``transformer`` ModuleDict as a module
    with typed attributes. The children and their order are the ModuleDict's, so parameter
    names (``transformer.wte.weight``, ``transformer.h.0.attn.c_attn.weight`` ...) and
    checkpoints are unchanged."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.block_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.h = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.ln_f = LayerNorm(config.n_embd, bias=config.bias)


class GPT(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if config.vocab_size < 1:
            raise ValueError("GPT needs a resolved vocab_size (0 means: take it from the data)")
        self.config = config
        self.transformer = Transformer(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        if config.tie_embeddings:
            self.lm_head.weight = self.transformer.wte.weight
        # muP's output_mult / width_mult (1 under SP): with tied weights the readout keeps the
        # embedding's init and LR, so the whole readout correction is this factor.
        self.output_multiplier = mup.output_multiplier(config)

    def num_params(self) -> int:
        """Parameters counted once each (the tied head is the token embedding)."""
        return sum(p.numel() for p in self.parameters())

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        *,
        memory_budget: int | None = None,
    ) -> GPTOutput:
        """Args:
        idx: (B, T) token ids, T <= block_size.
        targets: (B, T) next-token ids, or None.
        memory_budget: attend to at most this many keys per query (see ``budget_mask``).
        """
        length = idx.size(1)
        if length > self.config.block_size:
            raise ValueError(f"sequence length {length} > block_size {self.config.block_size}")
        pos = torch.arange(length, dtype=torch.long, device=idx.device)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        forgets = []
        for block in self.transformer.h:
            x, forget = block(x, memory_budget=memory_budget)
            forgets.append(forget)
        logits = self.lm_head(self.transformer.ln_f(x)) * self.output_multiplier  # (B, T, vocab)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)).float(), targets.reshape(-1))
        memory_loss = None
        if self.config.memory_penalty_epsilon > 0:
            memory_loss = torch.stack([self.memory_term(f) for f in forgets]).mean()
        return GPTOutput(logits, loss, memory_loss)

    def memory_term(self, forget: torch.Tensor | None) -> torch.Tensor:
        """max_i M_i / T averaged over the batch, M_i = (i + 1) − Σ_j min(F_ij, τ) / τ."""
        assert forget is not None, "the memory loss needs selective attention"
        tau = self.config.memory_penalty_tau
        T = forget.shape[-1]
        keys = torch.arange(1, T + 1, device=forget.device, dtype=forget.dtype)  # (T,)
        memory = keys - forget.clamp(max=tau).sum(dim=-1) / tau  # (B, T)
        return (memory.max(dim=-1).values / T).mean().float()


# -- initialisation --------------------------------------------------------------------------


def parameter_seed(seed: int, name: str) -> int:
    """A stable 63-bit seed for parameter ``name`` of a run with ``seed`` (no Python hash())."""
    digest = hashlib.sha256(f"{seed}/{name}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


@torch.no_grad()
def init_parameters(model: GPT, seed: int) -> None:
    """Initialise every parameter from its own generator seeded by (seed, parameter name).

    Parameters two variants share therefore start identical even when one variant adds modules
    (the paired design). nanoGPT's scheme: weights N(0, 0.02), residual output projections
    N(0, 0.02 / sqrt(2 n_layer)), biases 0, norm gains 1; then the added head's
    ``new_head_init`` zeroes its keys and/or output weights. Under muP the hidden matrices are
    then rescaled (``models.mup.apply_init``).
    """
    config = model.config
    residual_std = 0.02 / math.sqrt(2 * config.n_layer)
    norm_gains = {
        f"{module_name}.weight"
        for module_name, module in model.named_modules()
        if isinstance(module, LayerNorm | RMSNorm | HeadGains)
    }
    for name, param in model.named_parameters():  # the tied head appears once, as wte
        generator = torch.Generator().manual_seed(parameter_seed(seed, name))
        if name in norm_gains:
            value = torch.ones(param.shape)
        elif name.endswith(".bias"):
            value = torch.zeros(param.shape)
        else:
            std = residual_std if name.endswith("c_proj.weight") else 0.02
            value = torch.empty(param.shape).normal_(0.0, std, generator=generator)
        if ".new_head." in name:
            value = _added_head_init(name, value, config)
        param.copy_(value)
    mup.apply_init(model, config)  # muP: hidden matrices' std / √width_mult, zero inits


def _added_head_init(name: str, value: torch.Tensor, config: ModelConfig) -> torch.Tensor:
    zero_k = config.new_head_init in ("ko_zero", "k_zero")
    zero_o = config.new_head_init in ("ko_zero", "o_zero")
    hs = config.head_size
    if name.endswith("new_head.c_attn.weight") and zero_k:
        value[hs : 2 * hs] = 0.0  # rows of the key projection
    if name.endswith("new_head.c_attn.bias") and zero_k:
        value[hs : 2 * hs] = 0.0
    if name.endswith("new_head.c_proj.weight") and zero_o:
        value.zero_()
    return value
