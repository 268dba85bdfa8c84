"""WandbSink sends every row, in order, from its own thread, and finish waits for them."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import wandb

from harness.worker.wandb_sink import WandbSink


class FakeRun:
    """Records what a wandb run is given; optionally fails at one row."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.logged: list[tuple[dict[str, Any], int | None]] = []
        self.threads: set[str] = set()
        self.finished: int | None = None
        self.fail_at = fail_at

    def log(self, values: dict[str, Any], step: int | None = None) -> None:
        if step == self.fail_at:
            raise RuntimeError("service gone")
        time.sleep(0.001)  # as wandb's round trip: the caller must not wait for it
        self.threads.add(threading.current_thread().name)
        self.logged.append((values, step))

    def finish(self, exit_code: int = 0) -> None:
        self.finished = exit_code


def make_sink(monkeypatch: pytest.MonkeyPatch, run: FakeRun, tmp_path: Path) -> WandbSink:
    monkeypatch.setattr(wandb, "init", lambda **kwargs: run)
    return WandbSink(
        {"mode": "offline"}, study="s", variant="v", seed=0, config={}, run_dir=tmp_path
    )


def test_every_row_reaches_wandb_in_order_before_finish(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run = FakeRun()
    sink = make_sink(monkeypatch, run, tmp_path)
    started = time.perf_counter()
    for step in range(1, 201):
        sink.log({"step": step, "train_loss": 1.0 / step})
    queued_in = time.perf_counter() - started
    sink.finish(failed=True)
    assert [step for _, step in run.logged] == list(range(1, 201))
    assert run.logged[-1][0] == {"train_loss": 1.0 / 200}
    assert run.threads == {"harness-wandb-log"}
    assert run.finished == 1
    assert queued_in < 0.2  # 200 rows x 1 ms were not waited for in the caller
    sink.log({"step": 201, "train_loss": 0.0})  # after finish: ignored
    assert len(run.logged) == 200


def test_a_failing_log_stops_logging_but_not_the_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = FakeRun(fail_at=3)
    sink = make_sink(monkeypatch, run, tmp_path)
    for step in range(1, 6):
        sink.log({"step": step, "x": 1.0})
    sink.finish()
    assert [step for _, step in run.logged] == [1, 2]
    assert run.finished == 0
    assert "wandb logging stopped after 2 row(s): service gone" in capsys.readouterr().err
