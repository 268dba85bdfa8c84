"""``harness bisect`` as a user runs it: a subprocess, interrupted with Ctrl-C, then resumed.

Uses the synthetic repository of tests/bisect (12 commits, a 0.3 regression under a seed spread
of 1.0 planted at commit 7, commit 5 crashing).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bisect"))
from bisect_synthetic_repo import build, user_state, worktrees

ROOT = Path(__file__).resolve().parents[2]
CULPRIT = 7


def harness(synthetic, *args: str, sleep: float = 0.0, **popen) -> subprocess.Popen[str]:  # type: ignore[no-untyped-def]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TRAIN_SLEEP": str(sleep) if sleep else ""}
    argv = [
        sys.executable, "-m", "harness", "bisect", str(synthetic.study),
        "--good", synthetic.shas[0], "--bad", "HEAD", "--runs-dir", str(synthetic.runs), *args,
    ]  # fmt: skip
    return subprocess.Popen(
        argv, cwd=synthetic.repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, **popen,
    )  # fmt: skip


def test_ctrl_c_leaves_the_checkout_alone_and_a_rerun_resumes(tmp_path):
    synthetic = build(tmp_path, culprit=CULPRIT, crash=5)
    before = user_state(synthetic.repo)

    # Ctrl-C in a terminal signals the whole foreground process group: harness and the
    # training command it is running. Interrupt once a few measurements are done.
    process = harness(synthetic, sleep=0.3, start_new_session=True)
    deadline = time.monotonic() + 60
    while len(synthetic.calls_made()) < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, process.communicate()
    os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "interrupted" in err

    assert user_state(synthetic.repo) == before
    assert len(worktrees(synthetic.repo)) == 1
    assert not (synthetic.repo / ".git" / "harness-worktrees").exists()
    interrupted = synthetic.calls_made()

    process = harness(synthetic, "--format", "json")
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    result = json.loads(out)
    assert result["first_bad"] == synthetic.shas[CULPRIT]
    assert user_state(synthetic.repo) == before
    assert len(worktrees(synthetic.repo)) == 1
    # measurements finished before Ctrl-C were reused; at most the one cut off is repeated
    repeated = [key for key, n in Counter(synthetic.calls_made()).items() if n > 1]
    assert len(repeated) <= 1 and set(repeated) <= set(interrupted[-1:])
    assert result["measured_now"] == len(synthetic.calls_made()) - len(interrupted)


def test_exit_codes_from_the_command_line(tmp_path):
    synthetic = build(tmp_path, n_commits=3, culprit=99, crash=99)
    process = harness(synthetic, "--max-seeds", "4")
    out, err = process.communicate(timeout=120)
    assert process.returncode == 1, err  # no regression between the endpoints
    assert out.startswith("nothing to bisect: the bad endpoint")
    process = subprocess.run(
        [sys.executable, "-m", "harness", "bisect", str(synthetic.study), "--good", "HEAD~5"],
        cwd=synthetic.repo,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.returncode == 2
    assert "unknown revision 'HEAD~5'" in process.stderr
    assert "Traceback" not in process.stderr
