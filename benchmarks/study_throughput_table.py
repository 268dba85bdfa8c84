"""Wall time, tokens/s and peak memory of every run of a study, read from its records on disk.

For timing a study on a new machine (``benchmarks/gpu_check.sh``): one row per run with the
device it ran on, then the mean per variant, then each run that did not finish with its error
(once per distinct error also its traceback and the tail of its logs). Reads the
``record.json`` files under the study directory with the standard library only, so it works
with nothing but Python (no harness, torch or polars import) and on a study that was cut short
(a run that never finished has no record and no row).

Usage::

    python benchmarks/study_throughput_table.py STUDY_DIR [--metric val_loss] [--log-lines 30]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

COLUMNS = ("wall_time_s", "tokens_per_s", "peak_memory_mb", "n_params")


def load_records(study_dir: Path) -> list[dict]:
    records = []
    for path in sorted(study_dir.glob("**/record.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            print(f"unreadable record {path}: {error}", file=sys.stderr)
            continue
        record["_dir"] = path.parent
        records.append(record)
    return records


def _number(value: object, digits: int) -> str:
    if isinstance(value, int | float):
        return f"{value:,.{digits}f}"
    return "-"


def _value(record: dict, column: str) -> object:
    if column == "wall_time_s":  # the record's own; the rest are the run's final metrics
        return record.get(column)
    return (record.get("final_metrics") or {}).get(column)


def _log_tail(run_dir: Path, lines: int) -> list[str]:
    out = []
    for name in ("worker.log", "output.log"):
        path = run_dir / name
        if path.is_file():
            text = path.read_text(errors="replace").splitlines()[-lines:]
            out += [f"    --- {name} (last {len(text)} lines)", *(f"    {t}" for t in text)]
    return out


def table(records: list[dict], metric: str, log_lines: int) -> list[str]:
    """The report as lines of text."""
    lines = [
        f"{'variant':<22} {'seed':>4} {'status':<9} {'device':<6} {'wall s':>8} "
        f"{'tokens/s':>12} {'peak MiB':>10} {'params':>12} {metric:>10}"
    ]
    by_variant: dict[str, list[dict]] = {}
    for record in sorted(records, key=lambda r: (str(r.get("variant")), str(r.get("seed")))):
        final = record.get("final_metrics") or {}
        device = (record.get("provenance") or {}).get("device") or "-"
        lines.append(
            f"{record.get('variant', '?')!s:<22} {record.get('seed', '?')!s:>4} "
            f"{record.get('status', '?')!s:<9} {device!s:<6} "
            f"{_number(record.get('wall_time_s'), 1):>8} "
            f"{_number(final.get('tokens_per_s'), 0):>12} "
            f"{_number(final.get('peak_memory_mb'), 0):>10} "
            f"{_number(final.get('n_params'), 0):>12} {_number(final.get(metric), 4):>10}"
        )
        if record.get("status") == "done":
            by_variant.setdefault(str(record.get("variant")), []).append(record)
    lines += ["", "mean over finished seeds"]
    for variant, done in by_variant.items():
        means = []
        for column in COLUMNS:
            values = [_value(r, column) for r in done]
            values = [v for v in values if isinstance(v, int | float)]
            means.append(f"{column} {statistics.fmean(values):,.1f}" if values else f"{column} -")
        lines.append(f"  {variant:<22} n={len(done)}  " + "  ".join(means))
    shown: set[str] = set()  # each distinct error's traceback once
    for record in (r for r in records if r.get("status") != "done"):
        error = str(record.get("error"))
        lines += [
            "",
            f"run {record.get('variant')} s{record.get('seed')}: status {record.get('status')}",
            f"    error: {error}",
        ]
        if error in shown:
            continue
        shown.add(error)
        tail = str(record.get("output_tail") or "").splitlines()[-log_lines:]
        lines += [f"    --- output tail (last {len(tail)} lines)", *(f"    {t}" for t in tail)]
        lines += _log_tail(record["_dir"], log_lines)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("study_dir", type=Path)
    parser.add_argument("--metric", default="val_loss")
    parser.add_argument("--log-lines", type=int, default=30, help="log tail per failed run")
    args = parser.parse_args(argv)
    records = load_records(args.study_dir)
    if not records:
        print(f"no records under {args.study_dir}", file=sys.stderr)
        # a run that crashed before writing its record still leaves its worker log
        for log in sorted(args.study_dir.glob("**/worker.log"))[:2]:
            print(f"--- {log}", file=sys.stderr)
            print("\n".join(_log_tail(log.parent, args.log_lines)), file=sys.stderr)
        return 1
    print("\n".join(table(records, args.metric, args.log_lines)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
