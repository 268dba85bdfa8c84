"""A training script that only prints its losses, as most do (README: "Your own training script").

    python studies/examples/train_prints.py --seed 0 --width 64

It knows nothing of harness: the study file's [base.metrics] table reads the printed lines.
The "loss" is a toy curve (no torch needed): it falls with the step, sooner for a wider model,
with seed noise on top.
"""

import argparse
import math
import random

parser = argparse.ArgumentParser()
parser.add_argument("--seed", type=int, default=1337)
parser.add_argument("--width", type=int, default=64)
parser.add_argument("--steps", type=int, default=50)
args = parser.parse_args()

rng = random.Random(f"{args.seed}/{args.width}")  # run-to-run noise, as in training
floor = 2.0 - 0.1 * math.log2(args.width / 64) + rng.gauss(0, 0.02)
print(f"model width {args.width}, seed {args.seed}")
for step in range(10, args.steps + 1, 10):
    train_loss = floor + 3.0 / math.sqrt(step) + rng.gauss(0, 0.01)
    val_loss = train_loss + 0.05 + rng.gauss(0, 0.01)
    print(f"step {step}: train loss {train_loss:.4f}, val loss {val_loss:.4f}")
print("done")
