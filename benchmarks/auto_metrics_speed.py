"""What ``metrics = "auto"`` costs on output of any kind (issue 31: at least 50,000 lines/s on
varied text on a 2-core CPU; megabytes of binary garbage on stdout under 1 s extra).

The parser alone, in this process, fed as the worker feeds it (``TextStream`` in 64 KiB
chunks, then ``finish``): the cost a command's output adds to its run beside writing
``output.log``. ``benchmarks/parse_output_speed.py`` times whole studies on one line shape
repeated; this one times the text that made "auto" slow:

* ``varied``: ``--lines`` lines mixing, in equal parts, the real library output of
  ``tests/fixtures/script_outputs`` (Trainer, Lightning, nanoGPT, tqdm), step lines of a few
  shapes, timestamped log lines whose words change, generated text with numbers (every line
  its own shape, as samples are) and tqdm bars with a postfix;
* ``garbage``: ``--garbage-mb`` megabytes of random bytes (seeded), newlines included.

Usage::

    python benchmarks/auto_metrics_speed.py [--lines 100000] [--garbage-mb 8] [--repeats 3]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import random
import statistics
import time
from pathlib import Path

from harness.worker.metric_sources import LineParser, TextStream

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "script_outputs"
CHUNK = 1 << 16
TARGET_LINES_PER_S = 50_000
TARGET_GARBAGE_S = 1.0
WORDS = [
    "the",
    "model",
    "of",
    "a",
    "king",
    "counts",
    "ships",
    "lost",
    "and",
    "come",
    "home",
    "with",
    "players",
    "boys",
    "houses",
    "page",
    "line",
    "act",
    "scene",
    "lords",
    "servants",
    "week",
    "year",
    "earned",
    "shard",
    "worker",
    "batch",
    "queue",
    "done",
    "loading",
]


def varied_text(lines: int, seed: int = 0) -> bytes:
    """``lines`` lines of the five kinds, interleaved."""
    rng = random.Random(seed)
    real = [
        line
        for path in sorted(FIXTURES.glob("*.txt"))
        for line in path.read_bytes().decode("utf-8", errors="replace").splitlines()
    ]
    out: list[str] = []
    for i in range(lines):
        kind = i % 5
        if kind == 0:
            out.append(real[i // 5 % len(real)])
        elif kind == 1:
            shape = i % 3
            loss = 3 * rng.random()
            out.append(
                f"step {i}: train loss {loss:.4f}, val loss {loss + 0.1:.4f}"
                if shape == 0
                else f"iter {i}: loss {loss:.4f}, time {rng.random() * 100:.2f}ms, mfu 3.1%"
                if shape == 1
                else f"{{'loss': '{loss:.4g}', 'grad_norm': '{rng.random():.4g}', 'epoch': '{i}'}}"
            )
        elif kind == 2:
            words = " ".join(rng.choices(WORDS, k=3))
            out.append(
                f"2026-12-07 13:{i % 60:02d}:{i % 59:02d},{i % 1000:03d} - INFO - {words} "
                f"{rng.randint(0, 99)} of {rng.randint(100, 999)}"
            )
        elif kind == 3:
            parts = [
                f"{rng.choice(WORDS)} {rng.randint(0, 3000)}"
                if rng.random() < 0.3
                else rng.choice(WORDS)
                for _ in range(rng.randint(4, 16))
            ]
            out.append(" ".join(parts))
        else:
            n = i % 500 + 1
            fill = "█" * (n * 10 // 500)
            out.append(
                f"train: {n * 100 // 500:3d}%|{fill:<10}| {n}/500 [00:{n % 60:02d}<00:10, "
                f"{rng.random() * 50:.2f}it/s, loss={rng.random():.3f}, acc={rng.random():.3f}]"
            )
    return ("\n".join(out) + "\n").encode()


def parse_seconds(data: bytes) -> tuple[float, float, int]:
    """Wall-clock and CPU seconds to parse ``data`` as the worker does, and the rows it gave
    (on a loaded machine the CPU time is the parser's own cost; the wall time also counts
    the waits for a core)."""
    stream = TextStream(LineParser("auto"))
    start, cpu = time.perf_counter(), time.process_time()
    rows = 0
    for offset in range(0, len(data), CHUNK):
        rows += len(stream.feed(data[offset : offset + CHUNK]))
    rows += len(stream.finish())
    return time.perf_counter() - start, time.process_time() - cpu, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--garbage-mb", type=float, default=8.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    varied = varied_text(args.lines)
    garbage = random.Random(1).randbytes(int(args.garbage_mb * 1e6))
    print(
        f"date: {datetime.date.today()}  machine: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}"
    )
    print(f"repeats: {args.repeats} (medians; wall-clock / CPU seconds)")
    for case, data, unit in (("varied", varied, "lines"), ("garbage", garbage, "MB")):
        times = [parse_seconds(data) for _ in range(args.repeats)]
        wall = statistics.median(t[0] for t in times)
        cpu = statistics.median(t[1] for t in times)
        size = (
            f"{args.lines:,} lines, {len(data) / 1e6:.1f} MB"
            if unit == "lines"
            else (f"{len(data) / 1e6:.1f} MB of random bytes")
        )
        if unit == "lines":
            rates = args.lines / wall, args.lines / cpu
            verdict = "at least" if rates[1] >= TARGET_LINES_PER_S else "UNDER"
            figure = f"{rates[0]:,.0f} / {rates[1]:,.0f} lines/s ({verdict} {TARGET_LINES_PER_S:,})"
        else:
            verdict = "under" if cpu < TARGET_GARBAGE_S else "OVER"
            figure = f"({verdict} {TARGET_GARBAGE_S:.0f} s)"
        print(f"{case}: {size}, {times[0][2]:,} rows: {wall:.2f} / {cpu:.2f} s, {figure}")


if __name__ == "__main__":
    main()
