"""The built-in run's configuration: ``[base.model]``, ``[base.data]``, ``[base.train]``.

Frozen, keyword-only dataclasses that import no torch, built by ``harness.schema.from_mapping``
(unknown keys and bad values fail at the door, naming the dotted key).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from harness.limits import DurationError, timeout_seconds
from harness.schema import require
from models.config import ModelConfig


@dataclass(frozen=True, kw_only=True)
class DataConfig:
    """Where sequences come from (see ``harness.training.data``).

    Attributes:
        kind: "default" (the embedded variable-tracking + phrase language, generated on the fly),
            "text" (a file read as bytes, vocabulary 256), or "tokens" (a folder with
            nanoGPT-style ``train.bin`` / ``val.bin`` uint16 files; set ``model.vocab_size``).
        path: the text file or the token folder; unused for "default".
        seed: fixes the validation set, independent of the run seed: every variant and seed is
            scored on the same sequences.
        val_sequences: validation sequences of ``block_size`` tokens each.
        val_fraction: "text" only: the tail of the file held out for validation.
        variables: "default" only: distinct variables (fewer: more overwrites per document).
        values: "default" only: distinct values a variable can take.
        topics: "default" only: distinct topics (each with its own word preferences).
    """

    kind: Literal["default", "text", "tokens"] = "default"
    path: str = ""
    seed: int = 0
    val_sequences: int = 256
    val_fraction: float = 0.1
    variables: int = 8
    values: int = 8
    topics: int = 8

    def __post_init__(self) -> None:
        require(self.kind == "default" or bool(self.path), "path", f"needed for kind '{self.kind}'")
        require(self.val_sequences >= 1, "val_sequences", "must be >= 1")
        require(0.0 < self.val_fraction < 1.0, "val_fraction", "must be in (0, 1)")
        require(self.variables >= 1, "variables", "must be >= 1")
        require(self.values >= 2, "values", "must be >= 2")
        require(self.topics >= 1, "topics", "must be >= 1")


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """The training loop (``harness.training.loop``).

    Attributes:
        steps: optimizer steps.
        batch_size: sequences per micro-batch.
        grad_accum_steps: micro-batches per optimizer step.
        lr: peak learning rate of AdamW (each parameter group's base LR; the schedule scales it).
        warmup_steps: linear warmup from 0 to the peak.
        decay: "cosine" or "linear" decay after warmup, down to ``min_lr_ratio`` × peak at the
            last step; "constant" keeps the peak.
        min_lr_ratio: the final LR as a fraction of the peak.
        weight_decay: AdamW weight decay, on matrices and embeddings only (not norms, biases).
        beta1, beta2: AdamW betas.
        grad_clip: clip the global gradient norm to this; 0 turns clipping off (the norm is
            still logged).
        eval_interval: validate every this many steps (and always at the end); 0: only at the
            end.
        eval_batch_size: validation sequences per forward pass (does not change the result).
        smooth_window: K, the last steps averaged into ``train_loss_smoothed``.
        memory_budgets: selective attention's memory-budget evaluation: for each K, the final
            validation loss when every query keeps only its K least-masked keys, reported as
            ``val_loss_budget_K``.
        compile: ``torch.compile`` the model.
        save_checkpoint: write ``checkpoint.pt`` (weights and model config) to the run folder.
        init_from: a checkpoint written by ``save_checkpoint`` to start from (loaded with
            ``weights_only=True``); weights the model has and the checkpoint lacks (the head
            that ``model.add_a_head`` adds) keep their fresh init.
    """

    steps: int = 300
    batch_size: int = 16
    grad_accum_steps: int = 1
    lr: float = 3e-3
    warmup_steps: int = 30
    decay: Literal["cosine", "linear", "constant"] = "cosine"
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    eval_interval: int = 0
    eval_batch_size: int = 64
    smooth_window: int = 20
    memory_budgets: tuple[int, ...] = ()
    compile: bool = False
    save_checkpoint: bool = False
    init_from: str = ""

    def __post_init__(self) -> None:
        require(self.steps >= 1, "steps", "must be >= 1")
        require(self.batch_size >= 1, "batch_size", "must be >= 1")
        require(self.grad_accum_steps >= 1, "grad_accum_steps", "must be >= 1")
        require(self.lr > 0.0, "lr", "must be > 0")
        require(self.warmup_steps >= 0, "warmup_steps", "must be >= 0")
        require(0.0 <= self.min_lr_ratio <= 1.0, "min_lr_ratio", "must be in [0, 1]")
        require(self.weight_decay >= 0.0, "weight_decay", "must be >= 0")
        require(0.0 <= self.beta1 < 1.0, "beta1", "must be in [0, 1)")
        require(0.0 <= self.beta2 < 1.0, "beta2", "must be in [0, 1)")
        require(self.grad_clip >= 0.0, "grad_clip", "must be >= 0 (0: no clipping)")
        require(self.eval_interval >= 0, "eval_interval", "must be >= 0 (0: only at the end)")
        require(self.eval_batch_size >= 1, "eval_batch_size", "must be >= 1")
        require(self.smooth_window >= 1, "smooth_window", "must be >= 1")
        require(all(k >= 1 for k in self.memory_budgets), "memory_budgets", "each must be >= 1")


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """A built-in run: the model, its data and its training.

    Attributes:
        timeout: a time limit (seconds, or a duration such as "2h"; ``harness.limits``)
            after which the run is stopped and recorded failed; None: no limit.
    """

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    timeout: float | str | None = None

    def __post_init__(self) -> None:
        if self.timeout is not None:
            try:
                timeout_seconds(self.timeout)
            except DurationError as error:
                require(False, "timeout", str(error))
        require(
            self.data.kind != "tokens" or self.model.vocab_size > 0,
            "model",
            "data.kind = 'tokens' needs model.vocab_size (e.g. 50304 for GPT-2 tokens)",
        )
