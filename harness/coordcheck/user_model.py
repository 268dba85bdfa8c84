"""``harness coordcheck --model MODULE:FACTORY``: the coordinate check on the researcher's model.

The contract (docs/coordcheck.md):

- ``FACTORY(width)`` builds the model at ``width`` and returns it, or ``(model, optimizer)``.
  Without an optimizer harness builds ``torch.optim.Adam(model.parameters(), lr=--lr)``; a
  model with per-group LRs (muP) returns its own optimizer (``mup.MuAdam``, or ``Adam`` over its
  param groups). The factory is called after ``torch.manual_seed(seed)``, so a seed fixes the
  init. microsoft/mup's ``set_base_shapes`` belongs inside the factory, as in mup's examples.
- A batch is ``BATCH(seed) -> (inputs, targets)`` (``--batch MODULE:FUNCTION``), else random
  token ids ``(batch_size, block_size)`` below ``--vocab-size`` with next-token targets. The
  same batch is used at every width and step.
- The loss: when ``model(inputs)`` returns a scalar tensor or an object with a ``.loss``, that;
  else cross-entropy of the output (``(..., classes)``) against ``targets``.
- Every module's output (or those named with ``--modules``, by name or name prefix) is hooked
  and its mean |x| recorded per step, under the module's name; the whole model's output is
  "output". Modules whose output is not a floating-point tensor (or a tuple starting with one)
  are skipped.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from harness.coordcheck.readings import Row, mean_abs
from harness.coordcheck.settings import CoordCheckSettings
from harness.errors import UserError

Batch = tuple[Any, torch.Tensor]


def load_callable(spec: str, *, flag: str) -> Callable[..., Any]:
    """``package.module:name`` → the object, importing the module (the current directory is
    on the path, as for ``python -m``).

    Raises:
        UserError: a malformed spec, a module that does not import, a missing name.
    """
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise UserError(f"{flag} must be MODULE:NAME (e.g. mymodels.mlp:build), got {spec!r}")
    if str(Path.cwd()) not in sys.path and "" not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    give_name_to_user_package(module_name.partition(".")[0], flag=flag)
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise UserError(f"{flag} {spec}: cannot import {module_name!r}: {error}") from None
    except Exception as error:  # the module's own code raised (or a SyntaxError): one line
        raise UserError(f"{flag} {spec}: importing {module_name!r} raised {error!r}") from None
    found = getattr(module, attribute, None)
    if not callable(found):
        raise UserError(f"{flag} {spec}: {module_name} has no callable {attribute!r}")
    return found


def give_name_to_user_package(top: str, *, flag: str) -> None:
    """Let the researcher's own top-level package ``top`` win over a module of that name that is
    already imported — in practice harness's own ``models``, ``analysis`` or ``kernels``, names
    researchers use for their own code too.

    ``--model models.transformer:build`` run in a project with a ``models/`` folder must import
    *that* package, not the built-in GPT's. When the current directory holds ``top`` and
    ``sys.modules`` holds a different module of that name, its entries are dropped from
    ``sys.modules``: the harness modules already imported keep their references, and
    ``run_coordcheck`` imports everything it needs before the researcher's module.

    Raises:
        UserError: ``top`` is ``harness`` itself (it cannot be given away).
    """
    loaded = sys.modules.get(top)
    users = importlib.machinery.PathFinder.find_spec(top, [str(Path.cwd())])
    if loaded is None or users is None or _location(loaded.__spec__) == _location(users):
        return
    if top == "harness":
        raise UserError(
            f"{flag}: the current directory has its own {top!r}, which would shadow harness "
            "itself; rename it"
        )
    for name in [name for name in sys.modules if name == top or name.startswith(f"{top}.")]:
        del sys.modules[name]


def _location(spec: importlib.machinery.ModuleSpec | None) -> tuple[object, ...]:
    if spec is None:
        return ()
    return (spec.origin, tuple(spec.submodule_search_locations or ()))


@dataclass(frozen=True)
class UserModelCheck:
    """What the check needs of a user model: its factory, its batch, the modules to tap.

    Attributes:
        factory: ``factory(width) -> model | (model, optimizer)``.
        batch: ``batch(seed) -> (inputs, targets)``.
        modules: module names (or prefixes) to tap; empty: all.
        settings: widths, steps, lr, device.
        name: the ``--model`` spec, for messages.
        optimizers: filled as models are built: which optimizer trained them (the factory's
            own, or Adam at ``--lr``), for the report's title.
    """

    factory: Callable[[int], Any]
    batch: Callable[[int], Batch]
    modules: tuple[str, ...]
    settings: CoordCheckSettings
    name: str
    optimizers: set[str] = field(default_factory=set, compare=False)

    @classmethod
    def load(
        cls,
        spec: str,
        *,
        batch: str | None,
        modules: str | None,
        vocab_size: int,
        settings: CoordCheckSettings,
    ) -> UserModelCheck:
        """Resolve ``--model``, ``--batch`` and ``--modules``.

        Args:
            spec: ``MODULE:FACTORY``.
            batch: ``MODULE:FUNCTION`` or None for the default token batch.
            modules: comma-separated names or prefixes, or None for every module.
            vocab_size: the default batch's token ids are below it.
            settings: the check's settings (widths, steps, batch and block size, lr, device).
        """
        if vocab_size < 2:
            raise UserError("--vocab-size must be >= 2")
        make_batch = (
            load_callable(batch, flag="--batch")
            if batch
            else token_batch(vocab_size, settings.batch_size, settings.block_size)
        )
        names = tuple(part.strip() for part in (modules or "").split(",") if part.strip())
        return cls(load_callable(spec, flag="--model"), make_batch, names, settings, spec)

    def build(self, width: int, seed: int) -> tuple[nn.Module, torch.optim.Optimizer]:
        """The model at ``width`` (init fixed by ``seed``) and its optimizer, on the device."""
        torch.manual_seed(seed)
        try:
            built = self.factory(width)
        except Exception as error:  # the user's code: name it, never a traceback
            raise UserError(f"--model {self.name}: factory({width}) raised {error!r}") from None
        model, optimizer = built if isinstance(built, tuple) else (built, None)
        if not isinstance(model, nn.Module):
            raise UserError(
                f"--model {self.name}: factory({width}) must return an nn.Module or "
                f"(module, optimizer), got {type(model).__name__}"
            )
        model.to(self.settings.device)  # in place: an optimizer made by the factory stays valid
        if optimizer is None:
            optimizer = torch.optim.Adam(model.parameters(), lr=self.settings.lr)
            self.optimizers.add(f"Adam at lr {self.settings.lr:g}")
        else:
            self.optimizers.add(f"the factory's {type(optimizer).__name__}")
        return model, optimizer

    def measure_seed(self, seed: int) -> list[Row]:
        """Train ``seed`` at every width; one row per (width, step, module) and per (width,
        step) for "loss"."""
        rows: list[Row] = []
        for width in self.settings.widths:
            rows += self.measure_one(width, seed)
        return rows

    def measure_one(self, width: int, seed: int) -> list[Row]:
        """``settings.steps`` steps on one fixed batch at ``width``."""
        model, optimizer = self.build(width, seed)
        inputs, targets = _to(self.batch(seed), self.settings.device)
        rows: list[Row] = []
        model.train()
        with tapped_modules(model, self.modules) as readings:
            for step in range(self.settings.steps):
                readings.clear()
                try:
                    output = call_model(model, inputs)
                    loss = user_loss(output, targets)
                except Exception as error:  # the user's forward: one line, no traceback
                    raise UserError(
                        f"--model {self.name}: the forward pass at width {width} raised {error!r}"
                    ) from None
                loss.backward()
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                for name, value in readings.items():
                    rows.append(_row(width, seed, step, name, value))
                rows.append(_row(width, seed, step, "loss", loss.item()))
        if not any(row["activation"] != "loss" for row in rows):
            raise UserError(
                f"--model {self.name}: --modules matched no module that outputs a tensor"
            )
        return rows


def token_batch(vocab_size: int, batch_size: int, block_size: int) -> Callable[[int], Batch]:
    """The default batch: random token ids (``batch_size``, ``block_size``) and their next
    tokens as targets, fixed by the seed."""

    def make(seed: int) -> Batch:
        generator = torch.Generator().manual_seed(seed)
        tokens = torch.randint(0, vocab_size, (batch_size, block_size + 1), generator=generator)
        return tokens[:, :-1], tokens[:, 1:]

    return make


def call_model(model: nn.Module, inputs: Any) -> Any:
    """The forward pass on a batch's inputs: a mapping as keyword arguments (Hugging Face's
    ``model(**batch)``), a tuple as positional ones, anything else as the one argument."""
    if isinstance(inputs, Mapping):
        return model(**inputs)
    return model(*inputs) if isinstance(inputs, tuple) else model(inputs)


def user_loss(output: Any, targets: torch.Tensor) -> torch.Tensor:
    """A scalar output, an output's ``.loss``, or cross-entropy of the output against
    ``targets``."""
    loss = getattr(output, "loss", None)
    if isinstance(loss, torch.Tensor):
        return loss
    logits = _first_tensor(output)
    if logits is None:
        raise UserError("the model's output is not a tensor, and has no .loss")
    if logits.dim() == 0:
        return logits
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1))


@contextmanager
def tapped_modules(model: nn.Module, names: tuple[str, ...]) -> Iterator[dict[str, float]]:
    """Forward hooks filling ``{module name: mean |output|}`` (the root module as "output")."""
    readings: dict[str, float] = {}
    handles = []

    def hook(name: str) -> Callable[[nn.Module, Any, Any], None]:
        def record(_module: nn.Module, _inputs: Any, output: Any) -> None:
            tensor = _first_tensor(output)
            if tensor is not None and tensor.is_floating_point():
                readings[name] = mean_abs(tensor)

        return record

    for name, module in model.named_modules():
        label = name or "output"
        if names and not any(label == n or label.startswith(n + ".") for n in names):
            continue
        handles.append(module.register_forward_hook(hook(label)))
    try:
        yield readings
    finally:
        for handle in handles:
            handle.remove()


def _first_tensor(output: Any) -> torch.Tensor | None:
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    logits = getattr(output, "logits", None)
    return logits if isinstance(logits, torch.Tensor) else None


def _to(batch: Any, device: str) -> Batch:
    try:
        inputs, targets = batch
    except (TypeError, ValueError):
        raise UserError("--batch must return (inputs, targets)") from None
    move = (lambda x: x.to(device)) if device != "cpu" else (lambda x: x)
    if isinstance(inputs, Mapping):
        inputs = {name: move(x) for name, x in inputs.items()}
    elif isinstance(inputs, tuple):
        inputs = tuple(move(x) for x in inputs)
    else:
        inputs = move(inputs)
    return inputs, move(targets)


def _row(width: int, seed: int, step: int, name: str, value: float) -> Row:
    return {
        "width": width,
        "seed": seed,
        "step": step,
        "activation": name,
        "layer": None,
        "value": float(value),
    }
