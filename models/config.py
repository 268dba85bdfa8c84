"""The GPT's configuration: a frozen dataclass that imports no torch.

Built from a study's ``[base.model]`` table by ``harness.schema.from_mapping``; every field name
is the TOML key. Range checks live in ``__post_init__`` and raise :class:`ModelConfigError`
naming the field, choices in ``Literal`` types, so a bad value fails at the door with the dotted
key named (``from_mapping`` adds the table's path). Models never import harness, so the check
is this module's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

AttentionKind = Literal["selective", "mha", "gqa", "mla"]
NormPlacement = Literal["pre", "post", "sandwich"]
HeadMixingKind = Literal["concat", "wsum", "perhead", "inputw", "sum"]
NewHeadInit = Literal["normal", "ko_zero", "k_zero", "o_zero"]
Parametrization = Literal["sp", "mup"]


class ModelConfigError(ValueError):
    """A field of :class:`ModelConfig` holds a bad value.

    ``str(error)`` reads ``"field: reason"``; ``harness.schema.from_mapping`` reads the two
    attributes to name the full dotted key (``base.model.n_head``).

    Attributes:
        field: the offending field (its TOML key).
        reason: what is wrong with it.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _require(condition: bool, field: str, reason: str) -> None:
    """Raise :class:`ModelConfigError` for ``field`` unless ``condition``."""
    if not condition:
        raise ModelConfigError(field, reason)


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """A nanoGPT-style decoder: token + learned position embeddings, pre-norm blocks (by
    default, see ``norm_placement``), tied head.

    Selective attention (Leviathan, Kalman & Matias 2024): the selection head's scaled logits
    give S = ReLU(logits) on causal positions; F[i, j] = sum over queries i' < i of S[i', j]
    (shifted by one query, so a token's masking only affects later queries); F is subtracted
    from every head's logits before the softmax. See ``kernels.selection_cumsum``.

    What "BOS" means: protection applies to **key position 0 of every sequence the model sees**.
    In the default data (``harness.training.data``) every training and validation sequence is
    one document, cut to the block size, whose position 0 is the real BOS token — documents are
    not packed, so position 0 is always BOS. For the ``text`` and ``tokens`` data kinds
    sequences are windows cut from a packed stream, so position 0 is whatever token the window
    starts on; ``protect_bos`` then protects that first key, not a document boundary.

    Attributes:
        attention: "mha" (causal multi-head attention through SDPA), "selective", "gqa"
            (grouped-query: ``num_kv_heads``) or "mla" (multi-head latent: ``latent_dim``).
        vocab_size: token vocabulary; 0 takes the data's vocabulary size.
        block_size: context length (positions of the learned position embedding).
        n_layer: transformer blocks.
        n_head: attention heads per block (not counting the head ``add_a_head`` adds).
        n_embd: residual width; a multiple of ``n_head`` (head size = n_embd / n_head).
        bias: biases in the linear layers and LayerNorms.
        dropout: dropout on attention probabilities and residual branches.
        protect_bos: selective only: key position 0 is never masked (F[:, :, 0] = 0).
        allow_masking_myself: selective only: keep S's diagonal, so a token may mask itself
            for later queries (the paper masks only earlier tokens).
        selection_head: selective only: index of the head whose logits give S. Heads are
            numbered with the added head (``add_a_head``) first, so 0 then means the added one.
        add_a_head: add one extra head per layer, placed first, with its own Q/K/V and output
            weights (``new_head.*``), so a checkpoint without it loads with the new head fresh
            (the notebook's "add a head" surgery for continued pretraining).
        new_head_init: init of the added head: "normal" (like every other weight), "ko_zero"
            (its key and output weights zero: selection logits and output start at 0),
            "k_zero" (keys only), "o_zero" (output only).
        memory_penalty_epsilon: weight ε of the memory loss. Per layer, M_i = (i + 1) −
            Σ_j min(F_ij, τ) / τ counts the keys query i still attends to; the loss adds
            ε × mean over layers of (max_i M_i) / T, averaged over the batch. Selective only.
        memory_penalty_tau: τ, the amount of F that counts a key as fully masked.
        cumsum_dtype: dtype in which F is accumulated.
        tie_embeddings: the readout (``lm_head``) shares the token embedding's weights.
        parametrization: "sp" (standard: nanoGPT's init, one LR) or "mup" (maximal update
            parametrization relative to a base width, see ``models.mup`` and
            docs/coordcheck.md).
        mup_base_width: muP's base width b (base shapes: width b, heads b / head_size, MLP
            4b); width_mult = n_embd / b.
        mup_output_mult: muP's logit multiplier at the base width (logits × it / width_mult).
        mup_attn_mult: muP's attention multiplier: q·k × it / d_head.
        mup_zero_init_query: muP: the query projections start at zero.
        mup_zero_init_readout: muP: the readout starts at zero (needs tie_embeddings = false:
            a tied readout is the token embedding).
        kernel_backend: which implementation of ``kernels.selection_cumsum`` computes F:
            "reference" (plain PyTorch), "triton", or "auto" (the kernel's own choice).
        num_kv_heads: gqa only: key/value heads, a divisor of n_head (n_head is MHA); 0 with
            any other attention.
        latent_dim: mla only: the per-token latent that keys and values are read up from (all
            an inference cache keeps); 0 with any other attention.
        window_size: sliding-window attention: keys per query, its own included; 0 is full.
        qk_norm: RMS-normalise each head's queries and keys (with a learned gain) before the
            dot product.
        norm_placement: "pre" (LayerNorm on each sublayer's input: GPT-2, Llama), "post" (on
            each sublayer's output before the residual add: OLMo 2's reordered norm, not the
            2017 post-LN) or "sandwich" (both).
        head_mixing: how the heads combine: "concat", "wsum", "perhead", "inputw" or "sum"
            (see ``models.head_mixing``).
        nanohead_proportion: share of the attention parameters moved from regular heads to
            heads of ``nanohead_dim`` (see ``models.nanoheads``); 0 is plain MHA.
        nanohead_dim: the nanoheads' size.

    The switches from ``num_kv_heads`` to ``nanohead_proportion`` build
    ``models.attention_variants.VariantAttention`` (``models.nanoheads.NanoheadAttention``)
    instead of the plain attention. Selective attention, ``add_a_head`` and muP stay on the
    plain attention's shapes, so they take only the switches that keep them (window and QK-norm
    for muP).
    """

    attention: AttentionKind = "mha"
    vocab_size: int = 0
    block_size: int = 128
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    bias: bool = False
    dropout: float = 0.0
    protect_bos: bool = True
    allow_masking_myself: bool = False
    selection_head: int = 0
    add_a_head: bool = False
    new_head_init: NewHeadInit = "ko_zero"
    memory_penalty_epsilon: float = 0.0
    memory_penalty_tau: float = 1.0
    cumsum_dtype: Literal["float32", "float64"] = "float32"
    kernel_backend: Literal["auto", "reference", "triton"] = "auto"
    tie_embeddings: bool = True
    parametrization: Parametrization = "sp"
    mup_base_width: int = 64
    mup_output_mult: float = 1.0
    mup_attn_mult: float = 1.0
    mup_zero_init_query: bool = False
    mup_zero_init_readout: bool = False
    num_kv_heads: int = 0
    latent_dim: int = 0
    window_size: int = 0
    qk_norm: bool = False
    norm_placement: NormPlacement = "pre"
    head_mixing: HeadMixingKind = "concat"
    nanohead_proportion: float = 0.0
    nanohead_dim: int = 4

    def __post_init__(self) -> None:
        _require(self.vocab_size >= 0, "vocab_size", "must be >= 0 (0: the data's vocabulary)")
        _require(self.block_size >= 2, "block_size", "must be >= 2")
        _require(self.n_layer >= 1, "n_layer", "must be >= 1")
        _require(self.n_head >= 1, "n_head", "must be >= 1")
        _require(
            self.n_embd >= 1 and self.n_embd % self.n_head == 0,
            "n_embd",
            f"must be a positive multiple of n_head ({self.n_head})",
        )
        _require(0.0 <= self.dropout < 1.0, "dropout", "must be in [0, 1)")
        _require(
            0 <= self.selection_head < self.total_heads,
            "selection_head",
            f"must be a head index in [0, {self.total_heads})",
        )
        _require(self.memory_penalty_epsilon >= 0.0, "memory_penalty_epsilon", "must be >= 0")
        _require(
            self.memory_penalty_epsilon == 0.0 or self.attention == "selective",
            "memory_penalty_epsilon",
            "the memory loss needs attention = 'selective' (there is no F to penalise)",
        )
        _require(self.memory_penalty_tau > 0.0, "memory_penalty_tau", "must be > 0")
        _require(self.mup_base_width >= 1, "mup_base_width", "must be >= 1")
        _require(self.mup_output_mult > 0.0, "mup_output_mult", "must be > 0")
        _require(self.mup_attn_mult > 0.0, "mup_attn_mult", "must be > 0")
        _require(
            not self.mup_zero_init_readout or not self.tie_embeddings,
            "mup_zero_init_readout",
            "needs tie_embeddings = false (a tied readout is the token embedding)",
        )
        self._check_attention_variants()

    def _check_attention_variants(self) -> None:
        gqa, mla = self.attention == "gqa", self.attention == "mla"
        _require(
            (self.num_kv_heads == 0) != gqa,
            "num_kv_heads",
            "needs attention = 'gqa'" if self.num_kv_heads else "attention = 'gqa' needs it",
        )
        _require(
            not gqa or self.n_head % self.num_kv_heads == 0,
            "num_kv_heads",
            f"must divide n_head ({self.n_head})",
        )
        _require(
            (self.latent_dim == 0) != mla,
            "latent_dim",
            "needs attention = 'mla'" if self.latent_dim else "attention = 'mla' needs it",
        )
        _require(self.latent_dim >= 0, "latent_dim", "must be >= 0")
        _require(self.window_size >= 0, "window_size", "must be >= 0 (0: full attention)")
        _require(0.0 <= self.nanohead_proportion < 1.0, "nanohead_proportion", "must be in [0, 1)")
        _require(
            1 <= self.nanohead_dim <= self.head_size,
            "nanohead_dim",
            f"must be in [1, head size {self.head_size}]",
        )
        nanoheads = self.nanohead_proportion > 0
        _require(
            not nanoheads or (self.attention == "mha" and self.head_mixing == "concat"),
            "nanohead_proportion",
            "nanoheads need attention = 'mha' and head_mixing = 'concat'",
        )
        _require(not (nanoheads and self.qk_norm), "qk_norm", "not with nanoheads")
        _require(
            not (self.variant_attention and self.attention == "selective"),
            "attention",
            "selective attention takes none of num_kv_heads, latent_dim, window_size, "
            "qk_norm, head_mixing, nanohead_proportion",
        )
        _require(
            not (self.variant_attention and self.add_a_head),
            "add_a_head",
            "only with the plain attention (mha or selective, no attention variant switches)",
        )
        _require(
            self.parametrization == "sp"
            or not (gqa or mla or nanoheads or self.head_mixing != "concat"),
            "parametrization",
            "muP knows the shapes of MHA only: not with gqa, mla, nanoheads or head mixing",
        )

    @property
    def variant_attention(self) -> bool:
        """Whether a switch of ``models.attention_variants`` or ``models.nanoheads`` is on."""
        return (
            self.attention in ("gqa", "mla")
            or self.window_size > 0
            or self.qk_norm
            or self.head_mixing != "concat"
            or self.nanohead_proportion > 0
        )

    @property
    def kv_heads(self) -> int:
        """Key/value heads per layer (n_head except under GQA)."""
        return self.num_kv_heads if self.attention == "gqa" else self.n_head

    @property
    def head_size(self) -> int:
        return self.n_embd // self.n_head

    @property
    def total_heads(self) -> int:
        """Heads per layer including the added one."""
        return self.n_head + int(self.add_a_head)
