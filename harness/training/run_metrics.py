"""End-of-run metrics beyond the losses: model cost and training stability.

Pure functions of the model config and the per-step history, so the trainer's summary stays a
few lines. Stability metrics follow the ablation guide of seed 002: gradient-norm statistics and
the smoothness of the loss curve.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from models.config import ModelConfig


def model_cost(config: ModelConfig) -> dict[str, float]:
    """KV-cache size from the config (see ``models.kv_cache``).

    Returns:
        ``kv_cache_bytes_per_token``: bytes an autoregressive decoder caches per token, over all
        layers, at 2 bytes per value (a bf16 cache); ``kv_cache_bytes_at_block_size``: the whole
        cache for one ``block_size``-token sequence (a sliding window bounds it).
    """
    from models.kv_cache import kv_cache_bytes, kv_cache_bytes_per_token

    return {
        "kv_cache_bytes_per_token": float(kv_cache_bytes_per_token(config)),
        "kv_cache_bytes_at_block_size": float(kv_cache_bytes(config, config.block_size)),
    }


def stability(train_losses: Sequence[float], grad_norms: Sequence[float]) -> dict[str, float]:
    """Gradient-norm statistics and loss-curve roughness over a run.

    Args:
        train_losses: the training loss of every step, in order.
        grad_norms: the global gradient norm (before clipping) of every step.

    Returns:
        ``grad_norm_mean``, ``grad_norm_max``, ``grad_norm_sd`` over all steps;
        ``train_loss_roughness``: the SD of the step-to-step change of the training loss over
        the second half of the run (where the trend is flat enough that the change is mostly
        noise): lower is smoother. 0 when the half has fewer than 3 steps.
    """
    norms = np.asarray(grad_norms, dtype=float)
    second_half = np.asarray(train_losses[len(train_losses) // 2 :], dtype=float)
    steps = np.diff(second_half)
    return {
        "grad_norm_mean": float(norms.mean()),
        "grad_norm_max": float(norms.max()),
        "grad_norm_sd": float(norms.std(ddof=1)) if len(norms) > 1 else 0.0,
        "train_loss_roughness": float(steps.std(ddof=1)) if len(steps) > 1 else 0.0,
    }
