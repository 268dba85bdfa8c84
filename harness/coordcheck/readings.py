"""What both coordinate checks (the built-in GPT's and ``--model``) record: a row per reading,
and mean |x|. Imports no model, so that ``--model`` on a transformers model never loads the
built-in GPT and its ``kernels`` (see :mod:`models.own_kernels`).
"""

from __future__ import annotations

from typing import Any

import torch

Row = dict[str, Any]


def mean_abs(x: torch.Tensor) -> float:
    """mean |x| of a tensor, as a float (computed in float32 whatever x's dtype)."""
    return x.detach().abs().float().mean().item()
