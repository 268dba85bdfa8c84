"""Built-in models: configs (torch-free) and modules (torch).

``from models import ModelConfig`` imports no torch; ``models.GPT`` and ``models.init_parameters``
load ``models.gpt`` (and torch) on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from models.config import ModelConfig

if TYPE_CHECKING:
    from models.gpt import GPT, init_parameters

__all__ = ["GPT", "ModelConfig", "init_parameters"]


def __getattr__(name: str) -> Any:
    if name in ("GPT", "init_parameters"):
        from models import gpt

        return getattr(gpt, name)
    raise AttributeError(f"module 'models' has no attribute {name!r}")
