"""Kernel tests: Triton's CPU interpreter when there is no GPU, compiled kernels when there is.

Triton decides between interpreting and compiling when it is first imported (its own library
functions, ``tl.cumsum`` among them, are built then), so ``TRITON_INTERPRET=1`` has to be set
before that: here, at collection, and only on machines without CUDA, where an interpreter is the
only way Triton runs at all. On a GPU machine nothing is set, the small-shape tests below run the
compiled kernels on CUDA, and the ``gpu``-marked tests add real shapes. The variable is put back
as it was once this package's tests are done.
"""

from __future__ import annotations

import os
import sys

import pytest
import torch

HAS_CUDA = torch.cuda.is_available()
_previous = os.environ.get("TRITON_INTERPRET")
_imported_before = "triton" in sys.modules and _previous != "1"
if not HAS_CUDA:
    os.environ["TRITON_INTERPRET"] = "1"


@pytest.fixture(scope="package", autouse=True)
def _triton_interpreter():
    if not HAS_CUDA and _imported_before:
        pytest.fail(
            "triton was imported before tests/kernels/conftest.py could turn on its CPU "
            "interpreter; run `pytest tests/kernels` on its own or set TRITON_INTERPRET=1"
        )
    yield
    if _previous is None:
        os.environ.pop("TRITON_INTERPRET", None)
    else:
        os.environ["TRITON_INTERPRET"] = _previous


@pytest.fixture
def device() -> torch.device:
    """Where the Triton path runs: CUDA if present, else the CPU through the interpreter."""
    return torch.device("cuda" if HAS_CUDA else "cpu")
