"""What a coordinate check runs: widths, steps, seeds and the fixed training settings.

Torch-free: the CLI builds these before anything heavy is imported.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from typing import Literal

from harness.errors import UserError
from harness.training.config import DataConfig, RunConfig, TrainConfig
from models.config import ModelConfig

# Tapped activations, in the order of the forward pass. "embedding" and "logits" are
# model-level (no layer); the rest are recorded for every block, never averaged across layers.
ACTIVATIONS = (
    "embedding",  # token + position embedding, the residual stream's input
    "q",
    "k",
    "v",
    "attn_logits",  # the scaled q·k on causal positions, before softmax (and before F)
    "attn_out",  # the attention block's output (after c_proj), added to the residual
    "mlp_out",  # the MLP's output, added to the residual
    "block_out",  # the residual stream after the block
    "logits",  # the model's output logits (after any output multiplier)
)


@dataclass(frozen=True, kw_only=True)
class CoordCheckSettings:
    """One coordinate check (the defaults and why: docs/coordcheck.md).

    Attributes:
        widths: residual widths n_embd, at least three, increasing.
        steps: training steps; the activations of the forward pass before each update are
            recorded (step 0 is the initial model), so ``steps`` steps give steps 0..steps-1.
        seeds: the most seeds per width; seeds are added ``seeds_per_look`` at a time while
            the verdict is undecided (each seed fixes the init and the fixed batch).
        first_seeds: seeds measured before the first look at the data.
        seeds_per_look: seeds added between looks.
        parametrization: "mup" or "sp".
        attention: "selective" or "mha" (whose batch and steps differ by default:
            ``default_settings``).
        lr: Adam's base LR, deliberately high so updates dominate the init within a few steps.
        n_head: a fixed number of heads whose size grows with width (the default: the scheme
            in which muP's 1/d_head attention scale matters, as in microsoft/mup's examples);
            0: use ``head_size``.
        head_size: instead, a fixed head dim (heads = width / head_size): heads and MLP width
            grow together with the residual width, and the attention scale is a constant.
        n_layer: transformer blocks.
        block_size: tokens per sequence.
        batch_size: sequences in the fixed batch.
        base_width: muP's base width; 0: the smallest width.
        zero_init_query: muP's zero init of the query projections (recommended by muP; removes
            the random q·k part whose 1/√d_head decay would otherwise dominate the attention
            logits at these widths).
        device: "cpu" or "cuda".
    """

    widths: tuple[int, ...] = (64, 128, 256, 512)
    steps: int = 7
    seeds: int = 24
    first_seeds: int = 4
    seeds_per_look: int = 4
    parametrization: Literal["sp", "mup"] = "mup"
    attention: Literal["selective", "mha"] = "selective"
    lr: float = 3e-3
    n_head: int = 2
    head_size: int = 0
    n_layer: int = 2
    block_size: int = 32
    batch_size: int = 8
    base_width: int = 0
    zero_init_query: bool = True
    device: str = "cpu"

    def __post_init__(self) -> None:
        widths = self.widths
        if len(widths) < 3 or any(b <= a for a, b in itertools.pairwise(widths)):
            raise UserError(f"--widths needs at least three increasing widths, got {widths}")
        if self.steps < 2:
            raise UserError(
                "--steps must be >= 2 (the verdict judges steps after the first update)"
            )
        if self.first_seeds < 2 or self.seeds < self.first_seeds:
            raise UserError(
                f"--seeds must be >= {max(self.first_seeds, 2)} (the first look uses "
                f"{self.first_seeds} seeds; the spread across seeds is part of the verdict)"
            )
        if self.seeds_per_look < 1:
            raise UserError("--seeds-per-look must be >= 1")
        if self.lr <= 0:
            raise UserError("--lr must be > 0")
        if (self.n_head > 0) == (self.head_size > 0):
            raise UserError("give exactly one of --n-head and --head-size")
        for width in widths:
            divisor = self.n_head or self.head_size
            if width % divisor:
                what = "--n-head" if self.n_head else "--head-size"
                raise UserError(f"width {width} is not a multiple of {what} {divisor}")

    @property
    def first_step(self) -> int:
        """The first judged step: the second half of the steps, after the init's transient."""
        return max(1, self.steps // 2)

    @property
    def looks(self) -> int:
        """How many times the verdict may look at the data (``look_schedule``)."""
        return len(look_schedule(self.first_seeds, self.seeds, self.seeds_per_look))


# The fixed batch and steps of the built-in check, per attention, where they differ from
# CoordCheckSettings' (measured in docs/coordcheck.md, "Plain attention"). After a few steps
# plain attention's logits are still tiny, and a finite-width excess dominates them at narrow
# widths: q·k picks up the overlaps of the embeddings of the batch's distinct tokens and
# positions, random vectors far from orthogonal while the width is not well above their number
# (about 100 in 8 x 32 tokens). A correct muP's layer-0 logits then shrink with width (exponent
# -0.30 at 8 x 32 tokens, as in microsoft/mup's own implementation of the same GPT), and the
# check cannot PASS it. Two sequences of 8 tokens (about 20 distinct tokens and positions) bring
# the exponents to -0.06 (layer 0) and -0.11 (layer 1) on steps 2..4; later steps drift again.
ATTENTION_DEFAULTS: dict[str, dict[str, int]] = {
    "selective": {},
    "mha": {"steps": 5, "batch_size": 2, "block_size": 8},
}


def default_settings(attention: str = "selective", **changes: object) -> CoordCheckSettings:
    """The built-in check's defaults for ``attention`` (``ATTENTION_DEFAULTS``), with ``changes``.

    Args:
        attention: "selective" or "mha".
        changes: fields to set instead of the defaults.

    Returns:
        The settings.
    """
    if attention not in ATTENTION_DEFAULTS:
        raise UserError(f"--attention must be one of {', '.join(ATTENTION_DEFAULTS)}")
    fields = {"attention": attention, **ATTENTION_DEFAULTS[attention], **changes}
    return CoordCheckSettings(**fields)  # type: ignore[arg-type]


def width_config(settings: CoordCheckSettings, width: int) -> RunConfig:
    """The run at ``width``: the model at that width, a constant LR and no clipping.

    Gradient clipping is off because the global gradient norm changes with width, so clipping
    would rescale updates differently at each width and hide (or fake) a scaling error; weight
    decay is off so the check sees the parametrization alone.
    """
    n_head = settings.n_head or width // settings.head_size
    base = settings.base_width or min(settings.widths)
    model = ModelConfig(
        attention=settings.attention,
        block_size=settings.block_size,
        n_layer=settings.n_layer,
        n_head=n_head,
        n_embd=width,
        parametrization=settings.parametrization,
        mup_base_width=base,
        mup_zero_init_query=settings.zero_init_query and settings.parametrization == "mup",
    )
    train = TrainConfig(
        steps=settings.steps,
        batch_size=settings.batch_size,
        lr=settings.lr,
        warmup_steps=0,
        decay="constant",
        weight_decay=0.0,
        grad_clip=0.0,
    )
    return RunConfig(model=model, data=DataConfig(val_sequences=8), train=train)


def replace(settings: CoordCheckSettings, **changes: object) -> CoordCheckSettings:
    """A copy of ``settings`` with ``changes``."""
    return dataclasses.replace(settings, **changes)  # type: ignore[arg-type]


def look_schedule(first_seeds: int, max_seeds: int, seeds_per_look: int) -> tuple[int, ...]:
    """The seed counts at which the check looks: ``first_seeds``, then every
    ``seeds_per_look`` more, and ``max_seeds`` last (e.g. 4, 8, 12, 16 for 4, 16, 4).

    Args:
        first_seeds: seeds before the first look.
        max_seeds: the most seeds.
        seeds_per_look: seeds added between looks (>= 1).

    Returns:
        The increasing seed counts, ``max_seeds`` last.
    """
    step = max(1, seeds_per_look)
    counts = list(range(first_seeds, max_seeds + 1, step))
    if counts[-1] != max_seeds:
        counts.append(max_seeds)
    return tuple(counts)
