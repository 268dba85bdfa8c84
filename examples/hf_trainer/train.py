"""A Hugging Face ``Trainer`` script as a researcher would write it, run unchanged by harness.

A 2-layer GPT-2 built from a config (random weights: nothing is downloaded) learns a toy
language on CPU in seconds: each sequence counts up from a random token by a stride of 1, 2
or 3 (mod the vocabulary). The ``Trainer`` prints its log dicts (``{'loss': ..., 'epoch':
...}``) and evaluations (``{'eval_loss': ...}``); harness reads them with ``metrics = "auto"``
(``study.toml`` here). Nothing in the script knows about harness: the seed and the learning
rate are ordinary flags.

    python examples/hf_trainer/train.py --seed 0 --lr 3e-3
"""

import argparse
import tempfile

import torch
import transformers
from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments

VOCAB = 61
LENGTH = 24


class CountingSequences(torch.utils.data.Dataset):
    """Sequences ``start, start + stride, start + 2 * stride, ...`` (mod ``VOCAB``)."""

    def __init__(self, n: int, seed: int) -> None:
        generator = torch.Generator().manual_seed(seed)
        start = torch.randint(0, VOCAB, (n, 1), generator=generator)
        stride = torch.randint(1, 4, (n, 1), generator=generator)
        self.ids = (start + stride * torch.arange(LENGTH)) % VOCAB

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.ids[i], "labels": self.ids[i]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--steps", type=int, default=40)
    args = parser.parse_args()

    transformers.set_seed(args.seed)  # the model's initial weights and the batch order
    config = GPT2Config(vocab_size=VOCAB, n_positions=LENGTH, n_embd=32, n_layer=2, n_head=2)
    model = GPT2LMHeadModel(config)
    with tempfile.TemporaryDirectory() as output_dir:
        training_args = TrainingArguments(
            output_dir=output_dir,
            max_steps=args.steps,
            per_device_train_batch_size=16,
            per_device_eval_batch_size=64,
            learning_rate=args.lr,
            logging_steps=10,
            eval_strategy="steps",
            eval_steps=20,
            save_strategy="no",
            report_to="none",
            use_cpu=True,
            seed=args.seed,
        )
        trainer = Trainer(
            model=model,
            args=training_args,
            train_dataset=CountingSequences(2000, seed=1),  # the same data for every run
            eval_dataset=CountingSequences(256, seed=2),
        )
        trainer.train()
        metrics = trainer.evaluate()
        trainer.log_metrics("eval", metrics)


if __name__ == "__main__":
    main()
