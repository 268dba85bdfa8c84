"""muP (maximal-update parametrization) for the built-in GPT, as practised for GPTs.

``ModelConfig.parametrization = "mup"`` changes four things against the standard
parametrization ("sp"), all relative to a base model of width ``mup_base_width`` (the base shapes:
width b, heads b / head_size, MLP 4b; the head size stays fixed as the width grows, so heads and
MLP width scale together with the residual width n). With ``width_mult = n / b``:

================================  ==========================  ================================
what                              sp                          mup
================================  ==========================  ================================
hidden matrices' init std         σ                           σ / √width_mult
hidden matrices' Adam LR          η                           η / width_mult
embeddings (wte, wpe), norms      σ, η                        unchanged
output logits                     h · Wᵀ                      h · Wᵀ × output_mult / width_mult
attention logits                  q·k / √d_head               q·k × attn_mult / d_head
================================  ==========================  ================================

"Hidden" matrices are those whose fan-in *and* fan-out grow with width: every attention and MLP
projection. Embeddings have a fixed fan-in (the vocabulary, the positions), so their init and
Adam LR stay Θ(1). The readout has a fixed fan-out; with tied weights it *is* the token
embedding, so its init and LR stay the embedding's and the whole readout correction is the
forward multiplier 1 / width_mult (microsoft/mup's ``MuSharedReadout``). Untied, the readout
may start at zero (``mup_zero_init_readout``), and so may the query projection
(``mup_zero_init_query``): both remove a width-dependent part of the initial function that the
infinite-width limit does not have. At ``width_mult = 1`` muP and SP build the same function
(except for the attention scale, 1/d_head against 1/√d_head, and the optional zero inits).

The attention scale 1 / d_head matters when the head size grows with width (q and k become
correlated by training, so q·k grows like d_head, not √d_head). With the head size fixed it is
just a constant; ``harness coordcheck --n-head`` grows the head size to check it.

Every function here is looked up through this module at call time (``mup.attention_scale``),
so a test can replace one with a broken version and watch ``harness coordcheck`` fail.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from models.config import ModelConfig

# Parameter names (suffixes) of the hidden matrices: fan-in and fan-out both scale with width.
HIDDEN_WEIGHTS = (
    "attn.c_attn.weight",
    "attn.c_proj.weight",
    "mlp.c_fc.weight",
    "mlp.c_proj.weight",
)


def width_mult(config: ModelConfig) -> float:
    """n_embd / mup_base_width under muP; 1 under SP."""
    if config.parametrization != "mup":
        return 1.0
    return config.n_embd / config.mup_base_width


def is_hidden(name: str) -> bool:
    """Whether parameter ``name`` is a hidden matrix (the added head's projections included)."""
    return name.endswith(HIDDEN_WEIGHTS) or (
        ".new_head." in name and name.endswith(("c_attn.weight", "c_proj.weight"))
    )


def init_std_multiplier(config: ModelConfig) -> float:
    """Factor on the SP init std of hidden matrices: 1 / √width_mult."""
    return 1.0 / math.sqrt(width_mult(config))


def hidden_lr_multiplier(config: ModelConfig) -> float:
    """Factor on the base LR of hidden matrices under Adam: 1 / width_mult."""
    return 1.0 / width_mult(config)


def output_multiplier(config: ModelConfig) -> float:
    """Factor on the logits: output_mult / width_mult under muP, 1 under SP."""
    if config.parametrization != "mup":
        return 1.0
    return config.mup_output_mult / width_mult(config)


def attention_scale(config: ModelConfig) -> float:
    """Factor on q·k: attn_mult / d_head under muP, 1 / √d_head under SP."""
    if config.parametrization != "mup":
        return 1.0 / math.sqrt(config.head_size)
    return config.mup_attn_mult / config.head_size


@torch.no_grad()
def apply_init(model: nn.Module, config: ModelConfig) -> None:
    """Rescale an SP-initialised model to muP's init, in place (a no-op under SP).

    Hidden matrices are multiplied by ``init_std_multiplier`` (zero-mean normal weights scale
    exactly with their std); then the optional zero inits are applied.
    """
    if config.parametrization != "mup":
        return
    factor = init_std_multiplier(config)
    for name, param in model.named_parameters():
        if is_hidden(name):
            param.mul_(factor)
    if config.mup_zero_init_query:
        for name, param in model.named_parameters():
            if name.endswith("attn.c_attn.weight") or name.endswith("new_head.c_attn.weight"):
                rows = param.shape[0] // 3
                param[:rows] = 0.0  # the query rows: q·k = 0 at init
            elif name.endswith(("attn.c_attn.bias", "new_head.c_attn.bias")):
                param[: param.shape[0] // 3] = 0.0
    if config.mup_zero_init_readout:
        readout = model.get_parameter("lm_head.weight")
        readout.zero_()


def param_groups(model: nn.Module, *, lr: float, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW parameter groups, each with its own base ``lr``.

    Under muP three groups: "matrices" that are not hidden — the embeddings and an untied
    readout — (LR unchanged, decayed), "vectors": norm gains and biases (LR unchanged, not
    decayed), and "hidden" matrices (LR × ``hidden_lr_multiplier``, decayed). Under SP the
    hidden matrices join "matrices": two groups, one LR. A schedule must
    scale each group's own base LR (``LambdaLR`` does), never set one LR for all groups.
    """
    config = model.config
    if not isinstance(config, ModelConfig):  # nn.Module types its attributes as Tensor | Module
        raise TypeError(f"param_groups needs a model with a ModelConfig, got {type(config)}")
    hidden, matrices, vectors = [], [], []
    for name, param in model.named_parameters():  # the tied readout appears once, as wte
        if is_hidden(name):
            hidden.append(param)
        elif param.dim() >= 2:
            matrices.append(param)
        else:
            vectors.append(param)
    if config.parametrization != "mup":  # one LR: the hidden matrices are just matrices
        matrices, hidden = matrices + hidden, []
    hidden_lr = lr * hidden_lr_multiplier(config)
    groups = [  # the first group has the base LR: the trainer logs its "lr"
        {"name": "matrices", "params": matrices, "weight_decay": weight_decay, "lr": lr},
        {"name": "vectors", "params": vectors, "weight_decay": 0.0, "lr": lr},
        {"name": "hidden", "params": hidden, "weight_decay": weight_decay, "lr": hidden_lr},
    ]
    return [group for group in groups if group["params"]]
