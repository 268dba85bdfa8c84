"""Which device a run trains on: ``auto`` is resolved here, once for every caller."""

from __future__ import annotations


def resolve_auto_device(requested: str) -> str:
    """``requested``, with ``auto`` made "cuda" when torch sees a GPU, else "cpu".

    Imports torch (only when asked for ``auto``).
    """
    if requested != "auto":
        return requested
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
