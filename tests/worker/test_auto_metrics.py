"""``metrics = "auto"`` on the real output of real libraries (``tests/fixtures/script_outputs``,
each written by the library named in its README), and on the lines its rules are about."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from harness.study.metrics import AUTO
from harness.worker.auto_metrics import AutoParser
from harness.worker.metric_sources import LineParser, TextStream

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "script_outputs"

# What a user reading each output would name as its metrics, with the last value printed
# (written by hand from the fixtures; tests/integration/test_own_scripts.py reads it too).
FINAL_VALUES: dict[str, dict[str, float]] = json.loads(
    (FIXTURES / "expected_metrics.json").read_text()
)
# The steps each metric's curve has, where the lines print them (Trainer's dicts print none:
# their rows are at their line numbers, checked below).
# fmt: off
STEPS: dict[str, dict[str, list[int]]] = {
    "lightning_rich_bar.txt": {name: [60] for name in FINAL_VALUES["lightning_rich_bar.txt"]},
    "lightning_tqdm_bar.txt": {
        # Lightning's bar counts the batches of each epoch: epoch * 20 + count; it prints each
        # refresh twice, and redraws a bar at 0 (no row) when the next epoch starts
        "train_loss": [5, 10, 10, 15, 15, 20, 20, 20, 20, 25, 25, 30, 30, 35, 35, 40, 40, 40,
                       40, 45, 45, 50, 50, 55, 55, 60, 60, 60, 60, 60],
        "val_loss": [20, 20, 25, 25, 30, 30, 35, 35, 40, 40, 40, 40, 45, 45, 50, 50, 55, 55,
                     60, 60, 60, 60, 60],
        "test_loss": [60],  # a results table: at the last step printed
    },
    "lightning_plain_table.txt": {"test_acc": [60], "test_loss": [60]},
    "nanogpt.txt": {"val_loss": [0, 20, 40, 60], "loss": list(range(0, 61, 5))},
    "mingpt.txt": {"train_loss": list(range(0, 61, 5))},
    "tqdm_postfix.txt": {"loss": sorted([*range(1, 61), *range(1, 61)])},
}
# fmt: on


def _lines(name: str) -> list[str]:
    return (FIXTURES / name).read_bytes().decode("utf-8", errors="replace").splitlines()


def _rows(name: str) -> list[dict[str, float]]:
    stream = TextStream(LineParser(AUTO))
    return stream.feed((FIXTURES / name).read_bytes()) + stream.finish()


def _finals(rows: list[dict[str, float]]) -> dict[str, float]:
    final: dict[str, float] = {}
    for row in rows:
        final.update(row)
    final.pop("step", None)
    return final


def test_every_fixture_is_checked() -> None:
    assert sorted(FINAL_VALUES) == sorted(p.name for p in FIXTURES.glob("*.txt"))


@pytest.mark.parametrize("name", sorted(FINAL_VALUES))
def test_auto_takes_exactly_the_metrics_a_user_would_name(name: str) -> None:
    assert _finals(_rows(name)) == FINAL_VALUES[name]


@pytest.mark.parametrize("name", sorted(STEPS))
def test_curves_are_at_the_steps_the_lines_print(name: str) -> None:
    rows = _rows(name)
    for metric, steps in STEPS[name].items():
        assert [row["step"] for row in rows if metric in row] == steps, metric


@pytest.mark.parametrize("name", ["transformers4_trainer.txt", "transformers5_trainer.txt"])
def test_trainer_rows_without_a_step_are_at_their_line_numbers(name: str) -> None:
    lines = _lines(name)
    rows = _rows(name)
    losses = [row for row in rows if "loss" in row]
    assert len(losses) == 8  # 40 steps, a log every 5
    for row in rows:
        line = lines[row["step"] - 1]
        for metric, value in row.items():
            if metric != "step":  # the value is on that line, as printed
                assert any(
                    f"{value:g}" in t or repr(value) in t for t in (line, line.replace(",", ""))
                )
    quoted = "'" in lines[losses[0]["step"] - 1].split("'loss': ")[1][0]
    assert quoted == (name == "transformers5_trainer.txt")  # 5.x quotes its numbers


@pytest.mark.parametrize("name", sorted(FINAL_VALUES))
def test_any_chunks_and_no_cache_give_the_same_rows(name: str) -> None:
    data = (FIXTURES / name).read_bytes()
    whole = json.dumps(_rows(name))
    for size in (1, 7, 4096):
        stream = TextStream(LineParser(AUTO))
        rows = []
        for start in range(0, len(data), size):
            rows += stream.feed(data[start : start + size])
        assert json.dumps(rows + stream.finish()) == whole
    uncached = AutoParser(cache_shapes=False)
    assert json.dumps(uncached.parse_lines(_lines(name)) + uncached.finish()) == whole


# -- the rules, line by line ------------------------------------------------------------------


def _auto(text: str) -> list[dict[str, float]]:
    parser = AutoParser()
    return parser.parse_lines(text.splitlines()) + parser.finish()


def test_a_repeated_line_is_held_until_it_shows_other_values() -> None:
    parser = AutoParser()
    assert parser.parse_lines(["epoch 1 | loss: 2.5"]) == []  # seen once: not yet a metric
    assert parser.parse_lines(["epoch 1 | loss: 2.5", "noise"]) == []  # the same values
    assert parser.parse_lines(["epoch 2 | loss: 2.25"]) == [
        {"step": 1, "epoch": 1.0, "loss": 2.5},  # the held lines come out, in order
        {"step": 2, "epoch": 1.0, "loss": 2.5},
        {"step": 4, "epoch": 2.0, "loss": 2.25},
    ]
    assert parser.parse_lines(["epoch 3 | loss: 2e-3"]) == [
        {"step": 5, "epoch": 3.0, "loss": 0.002}  # another spelling, the same line
    ]
    assert parser.finish() == []


def test_a_plain_line_of_known_metrics_is_a_row_at_once() -> None:
    rows = _auto("loss 3\nstep 5: loss 2\nloss 3\nacc 1")
    assert rows == [{"step": 5, "loss": 2.0}, {"step": 3, "loss": 3.0}]  # the last loss printed


def test_a_line_printed_once_or_always_the_same_is_no_metric() -> None:
    text = "Batch size = 8\nbatch size = 8\nI counted 3 ships and 7 boats\nBatch size = 8\n"
    assert _auto(text) == []
    assert _auto("12:00:01 INFO workers: 4\n12:00:09 INFO workers: 4") == []


@pytest.mark.parametrize(
    ("text", "rows"),
    [
        ("{'loss': '5.659', 'grad_norm': '1.23', 'epoch': '0.5'}",
         [{"step": 1, "loss": 5.659, "grad_norm": 1.23, "epoch": 0.5}]),
        ('{"step": 7, "loss": 2}', [{"step": 7, "loss": 2.0}]),
        ("\x1b[A{'eval_loss': 4.5}", [{"step": 1, "eval_loss": 4.5}]),
        ("[INFO|trainer.py:1633] 2026-12-07 13:56:05,537 >> step 3 loss 1.5",
         [{"step": 3, "loss": 1.5}]),
        ("***** eval metrics *****\n  eval_loss = 1,146.5\n  n = 1,146\n  x = 1,2",
         [{"step": 2, "eval_loss": 1146.5}, {"step": 3, "n": 1146.0}, {"step": 4, "x": 1.0}]),
        ("***** Running training *****\n  Num examples = 1,146\n  Num Epochs = 3\n"
         "  Number of trainable parameters = 29,728\n", []),
        ("=== Training ===\nloss: 2.5\nloss: 2.4", [{"step": 2, "loss": 2.5},
                                                  {"step": 3, "loss": 2.4}]),
        ("File \"train.py\", line 12, in main\nFile \"train.py\", line 40, in step", []),
        ("Epoch 1:  50%|█████     | 10/20 [00:01<00:01, 8.1it/s, v_num=3, loss=1.2]",
         [{"step": 30, "loss": 1.2}]),
        ("Validation DataLoader 0: 100%|██████████| 4/4 [00:00<00:00, 409.06it/s]", []),
        ("train:   0%|          | 0/60 [00:00<?, ?it/s, loss=1.45]", []),
        ("step 5: loss nan", [{"step": 5, "loss": math.nan}]),
        ("seed 3 step 5 loss 2.5 variant 2", [{"step": 5, "loss": 2.5}]),
    ],
)  # fmt: skip
def test_the_rules_on_lines(text: str, rows: list[dict[str, float]]) -> None:
    assert json.dumps(_auto(text)) == json.dumps(rows)


def test_binary_garbage_gives_no_row_and_ends_a_block() -> None:
    garbage = bytes(range(256)) * 64
    stream = TextStream(LineParser(AUTO))
    rows = stream.feed(b"***** eval metrics *****\n" + garbage + b"\n  loss = 2\n")
    assert rows + stream.finish() == []
