"""wandb is off in these tests unless a test turns it on itself (``WANDB_MODE=offline``, as
the ``*_logged`` tests do): the commands log to wandb by default, as a study does, and a few
seconds of offline runs per command would only slow the rest down."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_wandb_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "disabled")
