"""Model checkpoints: the weights plus the model config, loadable with ``weights_only=True``.

Loading is also the "add a head" surgery of continued-pretraining experiments: a checkpoint of
a model without ``add_a_head`` loads into one with it; the added head's weights (``new_head.*``)
are not in the checkpoint and keep their seeded init (``model.new_head_init``).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from harness.errors import UserError
from harness.schema import to_mapping
from models.gpt import GPT


def save_checkpoint(model: GPT, path: Path) -> None:
    """Write ``{"model": state_dict, "model_config": {...}}`` atomically to ``path``."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    payload = {"model": state, "model_config": to_mapping(model.config)}
    temporary = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, temporary)
    os.replace(temporary, path)


def load_checkpoint(model: GPT, path: Path) -> None:
    """Load the weights of ``path`` into ``model`` (safely: ``weights_only=True``).

    Raises:
        UserError: a missing file, weights the model does not have, a shape mismatch, or
            missing weights other than those of an added head.
    """
    if not path.is_file():
        raise UserError(f"train.init_from: no such checkpoint: {path}")
    payload = torch.load(path, map_location="cpu", weights_only=True)
    state = payload["model"] if isinstance(payload, dict) and "model" in payload else payload
    own = model.state_dict()
    unexpected = sorted(set(state) - set(own))
    missing = sorted(k for k in set(own) - set(state) if ".new_head." not in k)
    if unexpected or missing:
        raise UserError(
            f"train.init_from: {path} does not fit the model: "
            f"unexpected {unexpected[:5]}, missing {missing[:5]}"
        )
    for key, value in state.items():
        if value.shape != own[key].shape:
            raise UserError(
                f"train.init_from: {key} has shape {tuple(value.shape)} in {path}, "
                f"the model has {tuple(own[key].shape)}"
            )
    model.load_state_dict(state, strict=False)
