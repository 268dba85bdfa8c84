"""Processes: is one still there (live owners of claims, of worktrees), ending a whole process
group (or the members of one that prove theirs), SIGTERM handled like Ctrl-C, and the time a
process has run, less the time it spent stopped."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# The exit status of a command stopped by SIGTERM (128 + 15), as a shell reports it.
TERMINATED_EXIT_CODE = 128 + signal.SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM received: unwinds like Ctrl-C (workers stopped, claims released), so every
    ``except KeyboardInterrupt`` that cleans up after Ctrl-C cleans up after SIGTERM too."""


def raise_on_sigterm() -> None:
    """Make SIGTERM raise :class:`Terminated` in the main thread (call from the main thread)."""

    def handler(signum: int, frame: object) -> None:
        raise Terminated

    signal.signal(signal.SIGTERM, handler)


def group_alive(pgid: int) -> bool:
    """Whether any process of process group ``pgid`` is left (zombies count: see callers)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def end_process_group(pgid: int, *, grace_s: float = 1.0, settle_s: float = 2.0) -> None:
    """Stop every process of group ``pgid``: SIGTERM, then SIGKILL to what is left after
    ``grace_s``, then wait up to ``settle_s`` for the group to be gone.

    ``grace_s = 0`` sends SIGKILL at once (the run is abandoned: nothing to save). Waiting is
    bounded: a killed process whose parent does not reap it stays a zombie in the group.
    """
    if pgid <= 1 or pgid == os.getpgid(0):  # never our own group, never init's
        return
    for signum, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, settle_s)):
        if signum == signal.SIGTERM and grace_s <= 0:
            continue
        try:
            os.killpg(pgid, signum)
        except ProcessLookupError:
            return
        except PermissionError:  # not ours to stop
            return
        if _gone_within(wait_s, lambda: not _group_has_live_member(pgid)):
            return


def _gone_within(seconds: float, gone: Callable[[], bool]) -> bool:
    """Poll ``gone`` every 20 ms for up to ``seconds``; whether it came true in that time."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if gone():
            return True
        time.sleep(0.02)
    return False


def _group_has_live_member(pgid: int) -> bool:
    """Whether group ``pgid`` has a member that is not a zombie (Linux: scans /proc)."""
    if not group_alive(pgid):
        return False
    if not Path("/proc").is_dir():
        return True
    return any(True for _ in group_members(pgid))


def group_members(pgid: int) -> Iterator[int]:
    """The pids of group ``pgid``'s members that are not zombies (Linux: scans /proc; none
    elsewhere)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
            yield int(entry.name)


def end_members(pgid: int, belongs: Callable[[int], bool], *, settle_s: float = 2.0) -> list[int]:
    """SIGKILL every member of group ``pgid`` that ``belongs`` accepts, and no other; then wait
    up to ``settle_s`` for them to be gone.

    For a group that cannot be proved someone's as a whole (its leader is gone): each member
    is judged on its own. A SIGKILL takes effect when its target next runs, so the wait is what
    makes "ended" mean ended before a new attempt at the run starts (as in
    :func:`end_process_group`).

    Returns:
        The pids signalled.
    """
    ended = []
    for pid in list(group_members(pgid)):
        if pid == os.getpid() or not belongs(pid):
            continue
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
            ended.append(pid)
    _gone_within(settle_s, lambda: not any(pid_alive(pid) for pid in ended))
    return ended


def environment_value(pid: int, name: str) -> str | None:
    """The value ``name`` had in the environment process ``pid`` was started with (Linux:
    ``/proc/<pid>/environ``); None when unset or unreadable."""
    try:
        data = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    prefix = name.encode() + b"="
    for entry in data.split(b"\0"):
        if entry.startswith(prefix):
            return entry[len(prefix) :].decode(errors="replace")
    return None


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (killed, not yet reaped) is not a live owner.
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():
        with contextlib.suppress(OSError, IndexError):
            if stat.read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return False
    return True


def process_start_time(pid: int) -> int | None:
    """The process start time in clock ticks since boot (Linux), to tell reused pids apart."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def same_process_alive(pid: int, start_time: int | None) -> bool:
    """Whether ``pid`` is alive and is the process that started at ``start_time`` (if known)."""
    if not pid_alive(pid):
        return False
    return start_time is None or start_time == process_start_time(pid)


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) and SIGTERM back until the block ends, then raise them
    (:class:`Terminated` for SIGTERM, when its handler is :func:`raise_on_sigterm`'s).

    For the few lines between claiming a run and recording that it was claimed: a
    KeyboardInterrupt between the two would leave a claim nobody releases.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous_int = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    previous_term = signal.getsignal(signal.SIGTERM)
    defer_term = callable(previous_term)  # only a Python handler can be held back and replayed
    if defer_term:
        signal.signal(signal.SIGTERM, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous_int)
        if defer_term:
            signal.signal(signal.SIGTERM, previous_term)
    if signal.SIGTERM in received and callable(previous_term):
        previous_term(signal.SIGTERM, None)
    if received:
        raise KeyboardInterrupt


@contextlib.contextmanager
def sigint_held_for_children() -> Iterator[None]:
    """Start processes in this block with Ctrl-C (SIGINT) blocked: a Ctrl-C that lands while
    such a child's Python is still starting stays pending instead of printing a
    KeyboardInterrupt traceback from its start-up imports. The child must ignore SIGINT and
    then unblock it (:data:`harness.worker.launch.IGNORE_CTRL_C`); a Ctrl-C meant for this
    process waits until the block ends (it is per thread: the mask of this thread only).
    """
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class RunningClock:
    """The seconds since the clock started, less the time this process spent stopped
    (SIGSTOP, or Ctrl-Z's SIGTSTP, then SIGCONT): a run's time limit counts running time.

    A stopped worker cannot watch its run, so a study paused longer than a run's time limit
    would otherwise find every run past its limit when it continues, and stop runs that were
    about to finish. Read it at least every ``tick_s``. An interval in which a SIGCONT arrived
    counts as one tick at most. A longer interval without one (a long step in C, or a stop
    whose SIGCONT this process handles only after the reader: Python runs a SIGALRM handler
    before a SIGCONT one) is held back, and counted at the next reading unless a SIGCONT
    came. The handler is installed while the clock is entered, from the main thread only;
    elsewhere the clock is wall time.

    Args:
        tick_s: how often it is read.
    """

    def __init__(self, tick_s: float) -> None:
        self.tick_s = tick_s
        self._counted = 0.0
        self._held = 0.0
        self._last = time.monotonic()
        self._continued = False
        self._previous: Any = None

    def __enter__(self) -> RunningClock:
        self._last = time.monotonic()
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGCONT, self._on_continue)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGCONT, self._previous)
            self._previous = None

    def _on_continue(self, signum: int, frame: object) -> None:
        self._continued = True

    def running_s(self) -> float:
        """The running seconds counted so far."""
        now = time.monotonic()
        elapsed, self._last = now - self._last, now
        if self._continued:  # stopped in this interval, or in the one held back
            self._continued = False
            self._held = 0.0
            elapsed = min(elapsed, self.tick_s)
        else:
            self._counted += self._held  # no stop after all
            self._held = 0.0
            if elapsed > 2 * self.tick_s + 1.0:
                self._held, elapsed = elapsed, 0.0
        self._counted += elapsed
        return self._counted
