"""A training script that writes its final metrics to a results file (README: "Your own
training script").

    python studies/examples/train_results.py --seed 0 --dropout 0.1 --out_dir /tmp/out

It writes OUT_DIR/results.json, nested as many scripts write it:
{"val": {"loss": ..., "accuracy": ...}, "train": {"loss": ...}, "steps": ...}; harness reads
it when the script has ended, joining nested keys with "/" (val/loss, val/accuracy, ...).
"""

import argparse
import json
import os
import random

parser = argparse.ArgumentParser()
parser.add_argument("--seed", type=int, default=1337)
parser.add_argument("--dropout", type=float, default=0.0)
parser.add_argument("--out_dir", default=".")
args = parser.parse_args()

rng = random.Random(f"{args.seed}/{args.dropout}")  # run-to-run noise
val_loss = 2.3 - 0.4 * args.dropout + rng.gauss(0, 0.02)
results = {
    "val": {"loss": round(val_loss, 6), "accuracy": round(0.62 + 0.1 * (2.3 - val_loss), 6)},
    "train": {"loss": round(val_loss - 0.08 + 0.3 * args.dropout, 6)},
    "steps": 1000,
    "note": "strings and other non-numbers are left out",
}
os.makedirs(args.out_dir, exist_ok=True)
with open(os.path.join(args.out_dir, "results.json"), "w") as f:
    json.dump(results, f, indent=2)
print(f"wrote {args.out_dir}/results.json")
