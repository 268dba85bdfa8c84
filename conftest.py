"""Every test leaves Ctrl-C as it found it: a SIGINT left blocked or ignored in the test process
is inherited by every process a later test starts, whose Ctrl-C then silently does nothing."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _ctrl_c_left_as_found() -> Iterator[None]:
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    handler = signal.getsignal(signal.SIGINT)
    yield
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == blocked, "the test left signals blocked"
    assert signal.getsignal(signal.SIGINT) == handler, "the test left a SIGINT handler changed"
