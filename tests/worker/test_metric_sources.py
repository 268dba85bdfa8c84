"""The metric sources of a command run: the ``metrics`` table at the door, and the parsers that
turn printed lines, results files and wandb's files into ``metrics.jsonl`` rows."""

from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.errors import SpecError
from harness.store.metrics_file import encode_row, parse_rows
from harness.study.checks import receives_seed
from harness.study.metrics import (
    AUTO,
    MetricsConfig,
    declared_metric_names,
    parse_metrics,
)
from harness.worker.auto_metrics import AUTO_EXAMPLES, SIGHTINGS_FOR_A_REGEX
from harness.worker.metric_sources import (
    LineParser,
    MetricSourceError,
    TextStream,
    read_results_file,
)
from harness.worker.wandb_source import (
    find_run_dir,
    read_finished_wandb_run,
    read_wandb_run,
    wandb_env,
    wandb_run_id,
)

REGEX = r"step (?P<step>\d+): train loss (?P<train_loss>[0-9.]+), val loss (?P<val_loss>[0-9.]+)"

# -- the metrics table, at the door ----------------------------------------------------------


def test_a_full_table_is_typed() -> None:
    config = parse_metrics(
        {
            "stdout": [REGEX],
            "log": "{run_dir}/train.log",
            "file": ["{run_dir}/r.json", "{run_dir}/{variant}-{seed}-{lr}.csv"],
            "wandb": True,
        },
        where="base.metrics",
        params={"lr": 0.1},
    )
    assert config == MetricsConfig(
        stdout=(REGEX,),
        log=("{run_dir}/train.log",),
        file=("{run_dir}/r.json", "{run_dir}/{variant}-{seed}-{lr}.csv"),
        wandb=True,
    )
    assert not config.parses_output  # a log takes the patterns instead of the output
    assert parse_metrics({"log": "x.log"}, where="m").line_patterns == AUTO


@pytest.mark.parametrize(
    ("table", "key", "words"),
    [
        ({"stdout": ["loss (?P<loss>[0-9.]+"]}, "base.metrics.stdout", "not a valid regex"),
        ({"stdout": ["loss ([0-9.]+)"]}, "base.metrics.stdout", "no named group"),
        ({"stdout": [r"step (?P<step>\d+)"]}, "base.metrics.stdout", "no named group"),
        ({"stdout": []}, "base.metrics.stdout", "auto"),
        ({"stdout": "loss (?P<loss>"}, "base.metrics.stdout", "not a valid regex"),
        ({"file": "{run_dir}/results.txt"}, "base.metrics.file", ".json, .jsonl and .csv"),
        ({"file": "{out}/results.json"}, "base.metrics.file", "unknown placeholder {out}"),
        ({"log": "{run_dir/train.log"}, "base.metrics.log", "literal brace"),
        ({"log": 3}, "base.metrics.log", "a path"),
        ({"wandb": "yes"}, "base.metrics.wandb", "true or false"),
        ({"stdot": "auto"}, "base.metrics.stdot", "unknown metrics source"),
        ({}, "base.metrics", "at least one source"),
    ],
)
def test_bad_tables_name_the_key(table: dict[str, object], key: str, words: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_metrics(table, where="base.metrics")
    assert caught.value.key == key
    assert words in str(caught.value)


def test_a_misspelt_source_gets_a_suggestion() -> None:
    with pytest.raises(SpecError) as caught:
        parse_metrics({"fille": "r.json"}, where="base.metrics")
    assert caught.value.suggestion == "base.metrics.file"


def test_declared_names_for_the_validate_warning() -> None:
    names = declared_metric_names(parse_metrics({"stdout": [REGEX]}, where="m"))
    assert names == {"train_loss", "val_loss"}
    slashed = parse_metrics({"stdout": [r"loss (?P<val__loss>\S+)"]}, where="m")
    assert declared_metric_names(slashed) == {"val/loss"}
    for table in ({"stdout": "auto"}, {"file": "r.json"}, {"wandb": True}):
        assert declared_metric_names(parse_metrics(table, where="m")) is None


def test_receives_seed() -> None:
    assert receives_seed({"command": "python t.py --seed {seed}"})
    assert receives_seed({"command": "python t.py --seed={seed:03d}"})
    assert receives_seed({"command": "python t.py {s}", "params": {"s": "{seed}"}})
    assert receives_seed({"command": "python t.py $HARNESS_SEED", "shell": True})
    assert not receives_seed({"command": "python t.py --seed 42"})


# -- printed lines ---------------------------------------------------------------------------


def test_a_regex_line_is_a_row() -> None:
    parser = LineParser([REGEX])
    assert parser.parse("step 100: train loss 2.31, val loss 2.40") == [
        {"step": 100, "train_loss": 2.31, "val_loss": 2.4}
    ]
    assert parser.parse("loading data ...") == []


def test_without_a_step_group_the_step_is_the_lines_own_else_its_number() -> None:
    parser = LineParser([r"train loss (?P<train_loss>\S+)", r"val loss (?P<val__loss>\S+)"])
    lines = ["train loss 3", "noise", "train loss 2", "val loss 2.5", "train loss nan"]
    rows = parser.parse_lines(lines)
    assert rows[:3] == [
        {"step": 1, "train_loss": 3.0},  # the number of the output line: no step printed
        {"step": 3, "train_loss": 2.0},
        {"step": 4, "val/loss": 2.5},
    ]
    assert rows[3]["step"] == 5 and math.isnan(rows[3]["train_loss"])
    printed = [
        "iter 200: train loss 1.5",
        "[step: 300] val loss 1.25",
        "'global_step': 400 val loss 1",
    ]
    assert [row["step"] for row in parser.parse_lines(printed)] == [200, 300, 400]
    assert parser.parse_lines(["steps 7 train loss 1"]) == [{"step": 9, "train_loss": 1.0}]
    assert not parser.numbered_only(8)  # three rows printed their steps


def test_a_parser_says_when_no_line_printed_a_step() -> None:
    regex = LineParser([r"loss (?P<loss>\S+)"])
    rows = regex.parse_lines(["loss 3", "loss 2"])
    assert regex.numbered_only(len(rows)) and not regex.numbered_only(0)
    auto = LineParser(AUTO)
    rows = auto.parse_lines(["{'loss': 3}", "{'loss': 2}"])
    assert auto.numbered_only(len(rows))
    rows += auto.parse_lines(["step 7: loss 1"])
    assert not auto.numbered_only(len(rows))


def test_a_captured_word_that_is_no_number_is_left_out() -> None:
    parser = LineParser([r"loss (?P<loss>\S+) acc (?P<acc>\S+)"])
    assert parser.parse("loss abc acc 0.5") == [{"step": 1, "acc": 0.5}]
    assert parser.parse("loss abc acc def") == []


@pytest.mark.parametrize(("text", "rows"), list(AUTO_EXAMPLES.items()))
def test_auto_reads_the_documented_examples(text: str, rows: list[dict[str, float]]) -> None:
    parser = LineParser(AUTO)
    assert parser.parse_lines(text.splitlines()) + parser.finish() == rows


@pytest.mark.parametrize(
    "line",
    [
        "Loading model info",
        "version v2.0-beta",
        "at 12:30:01 done",
        "=====",
        "",
        "model info",
        "seed 1337",  # names the run: the table's own column, not a metric
        "variant: 3",
    ],
)
def test_auto_ignores_lines_without_pairs(line: str) -> None:
    assert LineParser(AUTO).parse(line) == []


def test_auto_keeps_metrics_beside_a_seed() -> None:
    assert LineParser(AUTO).parse("seed 3 step 5 loss 2.5") == [{"step": 5, "loss": 2.5}]


def test_auto_reads_nan_as_divergence_and_timestamps_as_nothing() -> None:
    [row] = LineParser(AUTO).parse("2024-01-01 12:00:00,123 - INFO - step 7 loss nan")
    assert row["step"] == 7 and math.isnan(row["loss"])


# Lines for the shape cache: a fixed corpus, then generated ones. Several lines share a shape
# (the same text but for the digits) with other values, steps and digit counts.
SHAPED_LINES = [
    *AUTO_EXAMPLES,
    "step 100: train loss 2.31, val loss 2.40",
    "step 101: train loss 2.3, val loss 12.405",
    "step 99999999999999999999: loss 2.0 step 4",  # a step too large for int64: the next one
    "step 1e400: loss 3 iter 8",
    "iter 3 step 4 loss 1",  # the first step counts
    "step 9007199254740993: loss 1",  # 2**53 + 1: the step is the float's, as uncached
    "step 900719925474099: loss 1",
    "step nan: loss 2.5",
    "step 7: loss nan, acc inf%, grad -Infinity",
    "step 8: loss 1.5, acc 12.5%, grad -3e-05",
    "iter 200: loss 2.1043, time 35.21ms, mfu 12.50%",
    "iter 201: loss 2., time .5ms, mfu 1e2%",
    "top5 acc 0.91 top1 acc 0.72",
    "top50 acc 0.97 top10 acc 0.8",  # the same shape, other names
    "layer0/loss=1.5 layer12/loss=2.5 layer3/loss: 3",
    "seed 1337 step 5 loss 2.5",
    "2024-01-01 12:00:00,123 - INFO - step 7 loss nan",
    "2024-01-02 13:01:09,004 - INFO - step 8 loss 2.25",
    "version v2.0-beta",
    "at 12:30:01 done",
    "epoch 3 | val/loss=2.118 | val/acc=0.41",
    "epoch 4 | val/loss=2.5e+3 | val/acc=-0.41",
    "{'loss': 1.93, 'learning_rate': 5e-05, 'epoch': 0.5}",
    "loss 1.5 loss 2.5",
    "x" * 1200 + " loss 2.5",  # too long to cache: parsed as it comes
    "٣ loss ٣",
    "loss 3\nacc 4",
]


def _same_rows(lines: list[str]) -> None:
    uncached = LineParser(AUTO, cache_shapes=False).parse_lines(lines)
    one_by_one = LineParser(AUTO)
    rows = [row for line in lines for row in one_by_one.parse(line)]
    assert json.dumps(LineParser(AUTO).parse_lines(lines)) == json.dumps(uncached)
    assert json.dumps(rows) == json.dumps(uncached)  # nan compares equal as text


def test_the_shape_cache_gives_the_rows_of_the_parser_without_it() -> None:
    _same_rows(SHAPED_LINES)
    _same_rows(SHAPED_LINES[::-1] + SHAPED_LINES)
    _same_rows(SHAPED_LINES * (SIGHTINGS_FOR_A_REGEX + 2))  # every shape read by its regex too
    lines = ["step 1: loss 2.5", "step 2: loss 2.25", "step 3 top5 acc 1", "step 4 top50 acc 0.5"]
    assert LineParser(AUTO).parse_lines(lines) == [
        {"step": 1, "loss": 2.5},
        {"step": 2, "loss": 2.25},
        {"step": 3, "top5_acc": 1},
        {"step": 4, "top50_acc": 0.5},  # the same shape, the name read from the line
    ]


_TOKENS = st.one_of(
    st.sampled_from(
        ["step", "iter", "seed", "loss", "val loss", "val/acc", "top5", "lr", "'loss'", "nan",
         "-inf", "Infinity", "ms", "%", "e", "."]
    ),
    st.integers(min_value=-(10**25), max_value=10**25).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.from_regex(r"[0-9]{1,3}(\.[0-9]{0,3})?(e-?[0-9]{1,2})?[a-z%]{0,2}", fullmatch=True),
)  # fmt: skip
_SEPARATORS = st.sampled_from([" ", ": ", "=", ", ", " | ", ":", "-", "", "\t", "/", "("])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(_TOKENS, _SEPARATORS), min_size=1, max_size=12),
    st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=4),
)
def test_lines_of_one_shape_give_the_rows_of_the_parser_without_cache(
    tokens: list[tuple[str, str]], renumbers: list[int]
) -> None:
    line = "".join(token + separator for token, separator in tokens)
    # the same shape with other numbers: every digit run replaced by another one
    lines = [line] + [
        re.sub(r"[0-9]+", lambda run, k=k: str(k + run.start()), line) for k in renumbers
    ]
    _same_rows((lines + lines[::-1]) * SIGHTINGS_FOR_A_REGEX)  # past the sightings for a regex


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(max_size=60), max_size=6))
def test_any_lines_give_the_rows_of_the_parser_without_cache(lines: list[str]) -> None:
    _same_rows(lines + lines)


def test_a_stream_in_any_chunks_gives_the_same_rows() -> None:
    text = b"step 10: train loss 3.0, val loss 3.1\r\nnoise\rstep 20: train loss 2.0, val loss 2.1"
    whole = TextStream(LineParser([REGEX]))
    expected = whole.feed(text) + whole.finish()
    assert [r["step"] for r in expected] == [10, 20]
    assert whole.feed(b"") == [] and whole.feed(b"step 30: train loss 1, val loss 1\r") == []
    assert whole.feed(b"\n") == [{"step": 30, "train_loss": 1.0, "val_loss": 1.0}]
    for size in (1, 2, 7):
        stream = TextStream(LineParser([REGEX]))
        rows = []
        for start in range(0, len(text), size):
            rows += stream.feed(text[start : start + size])
        assert rows + stream.finish() == expected


def test_a_followed_log_is_read_in_batches_that_give_every_row(tmp_path: Path) -> None:
    from harness.worker.command import READ_SIZE, _FileFollower

    path = tmp_path / "train.log"
    lines = [
        f"step {step}: train loss {1 / step:.6f}, val loss {2 / step:.6f}"
        for step in range(1, 6001)
    ]
    text = "\n".join(lines) + "\n"
    assert len(text) > 3 * READ_SIZE  # several reads, lines cut across them
    path.write_text(text[:-30])
    follower = _FileFollower(path, TextStream(LineParser(AUTO)))
    batches = list(follower.poll())
    assert len(batches) > 3
    with path.open("a") as f:
        f.write(text[-30:])
    rows = [row for batch in batches + list(follower.poll()) for row in batch]
    assert rows == LineParser(AUTO, cache_shapes=False).parse_lines(lines)
    path.write_text("step 1: loss 9\n")  # rewritten from the start
    assert [row for batch in follower.poll() for row in batch] == [{"step": 1, "loss": 9.0}]


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400), st.integers(min_value=1, max_value=64))
def test_any_bytes_give_rows_never_an_exception(data: bytes, size: int) -> None:
    for patterns in (AUTO, [REGEX], [r"(?P<x>\S+)"]):
        stream = TextStream(LineParser(patterns))
        rows = []
        for start in range(0, len(data), size):
            rows += stream.feed(data[start : start + size])
        rows += stream.finish()
        for row in rows:
            assert isinstance(row["step"], int)
            assert all(isinstance(v, float) for k, v in row.items() if k != "step")


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_any_line_gives_rows_that_survive_metrics_jsonl(line: str) -> None:
    rows = LineParser(AUTO).parse(line) + LineParser([r"(?P<v>\S+)"]).parse(line)
    encoded = "".join(encode_row(row) for row in rows).encode()
    back = parse_rows(encoded.splitlines())
    assert len(back) == len(rows)
    for got, want in zip(back, rows, strict=True):
        assert json.dumps(got) == json.dumps(want)  # nan compares equal as text


def test_encode_row_writes_what_json_dumps_writes() -> None:
    for row in (
        {"step": 3, "val/loss": 2.5, 'a"b': 1e-300},
        {"step": 1, "loss": float("nan")},
        {"step": 2, "loss": float("-inf"), "x": 1.0},
    ):
        assert encode_row(row) == json.dumps(row) + "\n"


def test_numpy_and_bool_values_are_written_as_readable_json() -> None:
    # %r spells np.float64(0.5) as "np.float64(0.5)" under numpy 2 and True as "True": such a
    # line is not JSON, and the run's curves silently lost it.
    row = {"step": np.int64(3), "loss": np.float64(0.5), "acc": np.float32(0.25), "ok": True}
    assert parse_rows([encode_row(row).encode()]) == [
        {"step": 3, "loss": 0.5, "acc": 0.25, "ok": True}
    ]


# -- results files ---------------------------------------------------------------------------


def test_json_nested_keys_are_joined_with_a_slash(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text('{"val": {"loss": 2.3, "acc": 0.5}, "name": "x", "ok": true, "n": [1]}')
    assert read_results_file(path, last_step=40) == [{"step": 40, "val/loss": 2.3, "val/acc": 0.5}]
    path.write_text('{"step": 7, "loss": NaN}')
    [row] = read_results_file(path)
    assert row["step"] == 7 and math.isnan(row["loss"])


def test_jsonl_rows_and_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text('{"step": 5, "loss": 3}\n\n{"loss": 2}\n{"step": 9, "lo')
    assert read_results_file(path) == [{"step": 5, "loss": 3.0}, {"step": 2, "loss": 2.0}]


def test_csv_with_and_without_a_step_column(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("step,loss,note\n10,2.5,warm\n20,,x\n30,2.0,\n")
    assert read_results_file(path) == [{"step": 10, "loss": 2.5}, {"step": 30, "loss": 2.0}]
    path.write_text("epoch,val/loss\n1,3.0\n2,2.5\n")
    assert read_results_file(path) == [
        {"step": 1, "epoch": 1.0, "val/loss": 3.0},
        {"step": 2, "epoch": 2.0, "val/loss": 2.5},
    ]


@pytest.mark.parametrize(
    ("name", "text", "words"),
    [
        ("r.json", "{not json", "is not valid JSON"),
        ("r.json", "[1, 2]", "not an object"),
        ("r.jsonl", '{"a": 1}\n{oops\n{"a": 2}\n', "r.jsonl:2 is not valid JSON"),
        ("r.csv", "", "no header row"),
        ("r.csv", "a,b\n1,2,3\n", "3 cells under a header of 2"),
        ("r.csv", 'a,b\n"1,2\n', "not valid CSV"),
    ],
)
def test_bad_results_files_say_why(tmp_path: Path, name: str, text: str, words: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(MetricSourceError, match=re.escape(words)):
        read_results_file(path)


def test_a_missing_results_file(tmp_path: Path) -> None:
    with pytest.raises(MetricSourceError, match="was not written"):
        read_results_file(tmp_path / "results.json")


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(["r.json", "r.jsonl", "r.csv"]))
def test_any_file_gives_rows_or_a_clear_error(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, name: str
) -> None:
    path = tmp_path_factory.mktemp("any") / name
    path.write_bytes(data)
    try:
        rows = read_results_file(path)
    except MetricSourceError as error:
        assert str(path) in str(error)
    else:
        assert all(isinstance(row["step"], int) for row in rows)


# -- wandb -----------------------------------------------------------------------------------


def test_wandb_env_and_a_stable_id(tmp_path: Path) -> None:
    run_id = wandb_run_id(study="s", variant="a", seed=1, config_hash="abc")
    assert run_id == wandb_run_id(study="s", variant="a", seed=1, config_hash="abc")
    assert run_id != wandb_run_id(study="s", variant="a", seed=2, config_hash="abc")
    assert re.fullmatch(r"[a-z0-9]{16}", run_id)
    env = wandb_env(
        study="s", variant="a", seed=1, run_dir=tmp_path, run_id=run_id, mode="disabled"
    )
    assert env["WANDB_MODE"] == "offline"  # harness reads the values back from the files
    assert env["WANDB_RUN_GROUP"] == "s" and env["WANDB_NAME"] == "a-s1"
    assert env["WANDB_DIR"] == str(tmp_path) and env["WANDB_RUN_ID"] == run_id
    assert env["WANDB_RESUME"] == "allow"
    # as for built-in runs (issue 20): the command is the job type, study and variant the tags
    assert env["WANDB_JOB_TYPE"] == "study" and env["WANDB_TAGS"] == "s,a"
    tune = wandb_env(
        study="s", variant="a", seed=1, run_dir=tmp_path, run_id=run_id, mode="offline",
        job_type="tune",
    )  # fmt: skip
    assert tune["WANDB_JOB_TYPE"] == "tune"


def test_wandb_reads_the_summary_file_and_the_latest_attempt(tmp_path: Path) -> None:
    for stamp, loss in (("20240101_100000", 3.0), ("20240101_110000", 2.0)):
        files = tmp_path / "wandb" / f"run-{stamp}-abc" / "files"
        files.mkdir(parents=True)
        summary = {"val": {"loss": loss}, "_step": 4, "_wandb": {"runtime": 3}, "name": "x"}
        (files / "wandb-summary.json").write_text(json.dumps(summary))
    run = read_wandb_run(tmp_path, "abc")
    assert run.path.name == "run-20240101_110000-abc"
    assert run.rows == [{"step": 0, "val/loss": 2.0}]


def test_no_wandb_run_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MetricSourceError, match="left no wandb run"):
        find_run_dir(tmp_path, "abc")
    (tmp_path / "wandb" / "offline-run-20240101_100000-abc").mkdir(parents=True)
    with pytest.raises(MetricSourceError):  # a directory with nothing to read
        read_wandb_run(tmp_path, "abc")


def test_a_wandb_log_of_an_unknown_format_version_is_named_not_waited_for(
    tmp_path: Path,
) -> None:
    """A newer wandb's log (format version 1, say) is said to be one, with what to do; the
    summary's final values are still read, at once (no wait for an exit record that this
    reader could never see)."""
    run_dir = tmp_path / "wandb" / "offline-run-20240101_100000-abc"
    (run_dir / "files").mkdir(parents=True)
    (run_dir / "run-abc.wandb").write_bytes(b":W&B\xe1\xbe\x01" + bytes(64))
    with pytest.raises(MetricSourceError) as error:
        read_wandb_run(tmp_path, "abc")
    message = str(error.value)
    assert "run-abc.wandb: written in wandb's log format version 1" in message
    assert "upgrade wandb in harness's environment" in message
    (run_dir / "files" / "wandb-summary.json").write_text(json.dumps({"loss": 2.5}))
    started = time.monotonic()
    run, unfinished = read_finished_wandb_run(tmp_path, "abc", wait_s=30.0)
    assert time.monotonic() - started < 5.0
    assert unfinished is None
    assert run.rows == [{"step": 0, "loss": 2.5}]
    assert run.undecodable is not None and "format version 1" in run.undecodable


# -- live progress -----------------------------------------------------------------------------


def test_progress_follows_the_study_metric_whatever_its_name(tmp_path: Path) -> None:
    from harness.report.progress import RunFollower

    path = tmp_path / "metrics.jsonl"
    follower = RunFollower(path, "val/acc")
    path.write_text(encode_row({"step": 10, "loss": 2.0, "val/acc": 0.4}))
    follower.poll()
    with path.open("a") as f:
        f.write(encode_row({"step": 20, "loss": 1.5}))
    follower.poll()
    assert (follower.step, follower.loss) == (20, ("val/acc", 0.4))
    plain = RunFollower(path)  # no study metric: the first loss a row has
    plain.poll()
    assert plain.loss == ("loss", 1.5)
