"""Choosing between the PyTorch reference and the Triton implementation of an op."""

from __future__ import annotations

import os
from typing import Literal

import torch

Backend = Literal["auto", "reference", "triton"]
BACKENDS = ("auto", "reference", "triton")


def triton_interpreting() -> bool:
    """Whether Triton runs kernels in its numpy interpreter (``TRITON_INTERPRET=1``).

    Triton reads the variable when it is first imported, so it must be set before that.
    """
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def use_triton(backend: str, *tensors: torch.Tensor) -> bool:
    """Resolve ``backend`` for these inputs: True for the Triton path, False for the reference.

    "auto" takes Triton for CUDA tensors and the reference otherwise; "triton" on CPU tensors
    needs the interpreter (tests only: it is slow).
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    on_cuda = all(t.is_cuda for t in tensors)
    if backend == "reference":
        return False
    if backend == "auto":
        return on_cuda
    if not on_cuda and not triton_interpreting():
        raise RuntimeError(
            "backend='triton' needs CUDA tensors, or TRITON_INTERPRET=1 set before triton is "
            "imported (Triton's CPU interpreter, for tests)"
        )
    return True
