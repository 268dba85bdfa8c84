"""A training script that logs to Weights & Biases itself (README: "Your own training script").

    python studies/examples/train_wandb.py --seed 0 --warmup 10

It calls wandb.init() and wandb.log() as it would alone. Under harness (`wandb = true` in the
study's [base.metrics]) the WANDB_* environment puts its run in the run directory, grouped by
study and named after variant and seed, offline unless wandb is configured; harness then reads
the values back from wandb's files. No harness import, no change.
"""

import argparse
import math
import random

import wandb

parser = argparse.ArgumentParser()
parser.add_argument("--seed", type=int, default=1337)
parser.add_argument("--warmup", type=int, default=0)
args = parser.parse_args()

rng = random.Random(f"{args.seed}/{args.warmup}")  # run-to-run noise
run = wandb.init(config={"seed": args.seed, "warmup": args.warmup})
floor = 2.2 - 0.002 * args.warmup + rng.gauss(0, 0.02)
for step in range(10, 41, 10):
    loss = floor + 2.0 / math.sqrt(step)
    wandb.log({"train/loss": loss + rng.gauss(0, 0.01)}, step=step)
wandb.log({"val/loss": floor + 2.0 / math.sqrt(40) + 0.05}, step=40)
run.finish()
