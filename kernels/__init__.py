"""Kernels: one public function per op, a plain-PyTorch reference beside a Triton implementation.

Importing this package does not import triton; the Triton paths load lazily on CUDA.
"""

from kernels.selection_cumsum import selection_cumsum

__all__ = ["selection_cumsum"]
