"""Print a study's final val_loss of every run, bit for bit (``float.hex``), as JSON.

    python benchmarks/headline_values.py RUNS_DIR/bos_protection > values.json

Two runs of ``studies/bos_protection.toml`` give the same values when the harness's cost was
cut without touching what it computes (issue 21): compare the two files with ``cmp``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(study_dir: str) -> None:
    values = {}
    for record_path in sorted(Path(study_dir).glob("runs/*/s*/record.json")):
        record = json.loads(record_path.read_text())
        name = f"{record['variant']}-s{record['seed']}"
        values[name] = float(record["final_metrics"]["val_loss"]).hex()
    print(json.dumps(values, indent=2, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1])
