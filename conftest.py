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


def pytest_configure(config: pytest.Config) -> None:
    """A test run started in the background of a non-interactive shell (``pytest &``, nohup)
    starts with SIGINT ignored, and every process its tests start inherits that: the tests of
    Ctrl-C then see commands that ignore it (5 of them failed so). The run takes Python's own
    handler instead, so the processes it starts get Ctrl-C as a terminal's foreground gives
    it."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
