"""KV-cache accounting: what an autoregressive decoder of a ``ModelConfig`` caches.

Counted from the config alone (no module is built), for every attention: plain, selective,
``models.attention_variants`` (GQA, MLA, window) and ``models.nanoheads``. It sits beside
them rather than in either, so both stay free of each other's imports.
"""

from __future__ import annotations

from models.config import ModelConfig
from models.nanoheads import nanohead_layout


def kv_cache_elements_per_token(config: ModelConfig) -> int:
    """Values an autoregressive decoder caches per token, over all layers.

    Per layer: MHA and selective 2 · n_head · hs (a key and a value per head), plus 2 · hs for
    the head ``add_a_head`` adds; GQA 2 · num_kv_heads · hs; MLA latent_dim (the latent;
    keys and values are recomputed from it, and there is no decoupled RoPE key to cache);
    nanoheads 2 · (regular heads · hs + nanoheads · nanohead_dim). A sliding window caches the
    same per token but at most ``window_size`` tokens: see :func:`kv_cache_bytes`.

    Args:
        config: the model.

    Returns:
        Cached values per token, summed over the layers.
    """
    if config.attention == "mla":
        per_layer = config.latent_dim
    elif config.nanohead_proportion > 0:
        per_layer = 2 * nanohead_layout(config).attention_width
    else:
        per_layer = 2 * (config.kv_heads + int(config.add_a_head)) * config.head_size
    return config.n_layer * per_layer


def kv_cache_bytes_per_token(config: ModelConfig, bytes_per_element: int = 2) -> int:
    """KV-cache bytes per token.

    Args:
        config: the model.
        bytes_per_element: 2 for a bf16/fp16 cache, as inference keeps it, whatever the
            training precision.

    Returns:
        Bytes cached per token, over all layers.
    """
    return kv_cache_elements_per_token(config) * bytes_per_element


def kv_cache_bytes(config: ModelConfig, context: int, bytes_per_element: int = 2) -> int:
    """The whole cache for one sequence; a sliding window bounds the tokens it keeps.

    Args:
        config: the model.
        context: the sequence's length in tokens.
        bytes_per_element: as in :func:`kv_cache_bytes_per_token`.

    Returns:
        Bytes cached for the sequence.
    """
    tokens = min(context, config.window_size) if config.window_size else context
    return kv_cache_bytes_per_token(config, bytes_per_element) * tokens
