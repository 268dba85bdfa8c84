"""Kernels: one public function per op, a plain-PyTorch reference beside a Triton implementation.

Importing this package does not import triton; the Triton paths load lazily (on CUDA tensors, or
on CPU tensors under ``TRITON_INTERPRET=1`` for tests). See docs/kernels.md.
"""

from kernels.selection_cumsum import selection_cumsum
from kernels.selective_attention import selective_attention

__all__ = ["selection_cumsum", "selective_attention"]
