"""Fault injection at scale: kill -9, SIGTERM, SIGSTOP + SIGCONT and Ctrl-C at random (seeded)
moments of a real ``harness study``, ``harness tune`` and ``harness study --until-decided``,
each resumed and checked (every finished run recorded exactly once, every verdict the
uninterrupted study's, no process left alive). The loop is ``tests/faults/fault_loop.py``;
``pytest -m faults`` runs a few iterations of it.

    .venv/bin/python benchmarks/fault_injection.py [--iterations 20] [--kinds study,tune,...]

Prints one line per fault, then a table: iterations, faults that hit a running process,
iterations with a problem (a new one, or a known one another fix owns), seconds.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "faults"))

from fault_loop import FAULTS, KINDS, KNOWN, fault_loop


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20, help="faults per kind")
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated kinds")
    parser.add_argument("--seed", type=int, default=20261207)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="harness-faults-") as workdir:
        for kind in args.kinds.split(","):
            started = time.monotonic()
            results = fault_loop(
                kind,
                args.iterations,
                workdir=Path(workdir) / kind,
                seed=args.seed,
                say=lambda line: print(line, flush=True),
            )
            rows.append(
                (
                    kind,
                    len(results),
                    sum(r.landed for r in results),
                    sum(bool(r.new) for r in results),
                    sum(bool(r.known) for r in results),
                    time.monotonic() - started,
                )
            )
    print(f"\nfaults in turn: {', '.join(FAULTS)}; seed {args.seed}")
    print("| kind | iterations | hit a running process | new problems | known | seconds |")
    print("|---|---|---|---|---|---|")
    for kind, total, landed, new, known, seconds in rows:
        print(f"| {kind} | {total} | {landed} | {new} | {known} | {seconds:.0f} |")
    for pattern, owner in KNOWN.items():
        print(f"known: {pattern}: {owner}")
    return 1 if any(row[3] for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
