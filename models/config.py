"""The GPT's configuration: a frozen dataclass that imports no torch.

Built from a study's ``[base.model]`` table by ``harness.schema.from_mapping``; every field name
is the TOML key. Range checks live in ``__post_init__`` (``harness.schema.require``), choices in
``Literal`` types, so a bad value fails at the door with the dotted key named.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from harness.schema import require

AttentionKind = Literal["selective", "mha"]
NewHeadInit = Literal["normal", "ko_zero", "k_zero", "o_zero"]


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """A nanoGPT-style decoder: token + learned position embeddings, pre-norm blocks, tied head.

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
        attention: "mha" (causal multi-head attention through SDPA) or "selective". Later
            attention kinds extend this Literal.
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
        kernel_backend: which implementation of ``kernels.selection_cumsum`` computes F:
            "reference" (plain PyTorch), "triton", or "auto" (the kernel's own choice).
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

    def __post_init__(self) -> None:
        require(self.vocab_size >= 0, "vocab_size", "must be >= 0 (0: the data's vocabulary)")
        require(self.block_size >= 2, "block_size", "must be >= 2")
        require(self.n_layer >= 1, "n_layer", "must be >= 1")
        require(self.n_head >= 1, "n_head", "must be >= 1")
        require(
            self.n_embd >= 1 and self.n_embd % self.n_head == 0,
            "n_embd",
            f"must be a positive multiple of n_head ({self.n_head})",
        )
        require(0.0 <= self.dropout < 1.0, "dropout", "must be in [0, 1)")
        require(
            0 <= self.selection_head < self.total_heads,
            "selection_head",
            f"must be a head index in [0, {self.total_heads})",
        )
        require(self.memory_penalty_epsilon >= 0.0, "memory_penalty_epsilon", "must be >= 0")
        require(
            self.memory_penalty_epsilon == 0.0 or self.attention == "selective",
            "memory_penalty_epsilon",
            "the memory loss needs attention = 'selective' (there is no F to penalise)",
        )
        require(self.memory_penalty_tau > 0.0, "memory_penalty_tau", "must be > 0")

    @property
    def head_size(self) -> int:
        return self.n_embd // self.n_head

    @property
    def total_heads(self) -> int:
        """Heads per layer including the added one."""
        return self.n_head + int(self.add_a_head)
