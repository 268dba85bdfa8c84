"""A built-in run's time limit counts the time its worker ran, not the time it spent stopped
(issue 33 item 7). A real process under the worker's own limit, real SIGSTOP and SIGCONT."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from command_studies import env

# The worker's time limit around a loop of short steps, as the trainer's loop is: it ends
# after {steps} steps of 0.05 s (time stopped adds no steps).
UNDER_LIMIT = """
import time
from harness.worker.execute import _time_limit, _TimedOut
try:
    with _time_limit({limit}):
        print("started", flush=True)
        for _ in range({steps}):
            time.sleep(0.05)
    print("finished", flush=True)
except _TimedOut as error:
    print(error, flush=True)
"""


def _run(limit: float, steps: int, stopped_s: float) -> str:
    """What the loop said: "finished" or "timed out after ...", stopped ``stopped_s`` early on."""
    process = subprocess.Popen(
        [sys.executable, "-c", UNDER_LIMIT.format(limit=limit, steps=steps)],
        stdout=subprocess.PIPE,
        text=True,
        env=env(),
    )
    try:
        assert process.stdout is not None and process.stdout.readline() == "started\n"
        if stopped_s:
            time.sleep(0.3)
            process.send_signal(signal.SIGSTOP)
            time.sleep(stopped_s)
            process.send_signal(signal.SIGCONT)
        out, _ = process.communicate(timeout=60)
        return out.strip()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_time_a_built_in_run_spends_stopped_does_not_count_toward_its_limit() -> None:
    # 1.5 s of steps under a 3 s limit, stopped for 5 s on the way
    assert _run(limit=3, steps=30, stopped_s=5.0) == "finished"


def test_a_built_in_run_past_its_limit_is_still_stopped() -> None:  # companion
    assert _run(limit=1, steps=200, stopped_s=0) == "timed out after 1s"
