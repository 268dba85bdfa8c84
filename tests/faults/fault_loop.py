"""Fault injection in a loop: a real ``harness study``, ``harness tune`` or ``harness study
--until-decided`` is hit with kill -9, SIGTERM, SIGSTOP + SIGCONT or Ctrl-C at a random
(seeded) moment, then resumed the way a user would (the same command again, until it says the
study is complete), and then checked:

- every planned run has one ``done`` record, and no record a resume found was written again
  (a finished run is recorded exactly once);
- every verdict equals the verdict of the same study run without a fault (the commands are
  deterministic, so the same runs give the same numbers);
- no process of the study is left alive (its folder in a process's command line or
  environment).

One iteration costs a few seconds: the commands are small Python scripts that write a few
metric rows. ``tests/faults/test_fault_loops.py`` runs a few iterations (``pytest -m faults``
more of them); ``benchmarks/fault_injection.py`` runs >= 20 of each kind.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PYTHON = sys.executable
ROOT = Path(__file__).resolve().parents[2]
KINDS = ("study", "tune", "until-decided")
FAULTS = ("kill-9", "sigterm", "sigstop", "ctrl-c")
EXIT_TIMEOUT_S = 60  # a harness process that outlives a fault by this long is a defect
RUN_TIMEOUT_S = 180
RESUMES = 4  # a user reruns until the study says it is complete
GRACE_S = 5.0  # how long leftover processes get to go after the resume
# Defects found by this loop that belong to another part of issue 33 (their fix is another
# branch's): reported apart, as "known", so that a loop still fails on anything new.
KNOWN = {
    # Python itself prints this when a SIGINT lands while an import lock's weakref callback
    # runs (harness imports lazily between rounds); the interrupt is raised in the callback,
    # where nothing can catch it. Owned by the CLI's interrupt handling (harness/cli.py).
    "Exception ignored in: <function _get_module_lock": "a Ctrl-C inside an import's lock "
    "callback prints 'Exception ignored ... KeyboardInterrupt' (harness/cli.py)",
    # harness's own start-up is documented as not covered (docs/reliability.md); the warm
    # worker starts with SIGINT blocked (tests/executors/test_pool.py)
    "traceback at start-up": "a Ctrl-C while Python starts the harness command itself prints a "
    "KeyboardInterrupt traceback",
}


def _in_start_up(err: str) -> bool:
    """Whether ``err``'s tracebacks are all a KeyboardInterrupt in Python's own start-up: no
    frame of them is a harness file."""
    return "KeyboardInterrupt" in err and f"{os.sep}harness{os.sep}" not in err


# The "training": a loss fixed by (variant or trial parameter, seed), three rows, a short sleep
# between them, so a fault lands while runs are running.
TRAIN = """\
import hashlib, json, os, sys, time

def noise(*parts):  # uniform in [-0.5, 0.5), the same on every machine
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little") / 2**64 - 0.5

effect = float(sys.argv[1])
seed = int(os.environ["HARNESS_SEED"])
loss = 3.0 + effect + 0.5 * noise("seed", seed) + 0.02 * noise(effect, seed)
with open(os.path.join(os.environ["HARNESS_RUN_DIR"], "metrics.jsonl"), "a") as f:
    for step in (1, 2, 3):
        time.sleep(0.05)
        f.write(json.dumps({"step": step, "val_loss": loss + (3 - step) * 0.1}) + "\\n")
        f.flush()
"""


@dataclass(frozen=True)
class Scenario:
    """One kind of study: how to write it, run it and read its verdicts."""

    kind: str
    root: Path

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def study_dir(self) -> Path:
        return self.runs / "faults"

    def write(self) -> None:
        """The study file and its training script."""
        self.root.mkdir(parents=True, exist_ok=True)
        script = self.root / "train.py"
        script.write_text(TRAIN)
        lines = ["[study]", 'name = "faults"', 'metric = "val_loss"', 'baseline = "base"']
        lines += [f"seeds = {2 if self.kind == 'until-decided' else 3}", ""]
        if self.kind == "tune":
            lines += ["[base]", f"command = {json.dumps(f'{PYTHON} {script} {{effect}}')}"]
            lines += ["params = { effect = 0.0 }", "", "[variants.base]", ""]
            lines += textwrap.dedent(
                """\
                [search]
                trials = 4
                sampler = "random"
                top_k = 0

                [search.space]
                "params.effect" = { type = "categorical", choices = [0.0, 0.3, 0.6, 0.9] }
                """
            ).splitlines()
        else:
            effects = {"base": 0.0, "worse": 1.0}
            if self.kind == "until-decided":  # one decided at once, one until the budget
                effects["same"] = 0.0
            for name, effect in effects.items():
                command = f"{PYTHON} {script} {effect}"
                lines += [f"[variants.{name}]", f"command = {json.dumps(command)}", ""]
        (self.root / "study.toml").write_text("\n".join(lines) + "\n")

    def argv(self) -> list[str]:
        common = ["--runs-dir", str(self.runs), "--no-wandb", "--jobs", "2"]
        study = str(self.root / "study.toml")
        if self.kind == "tune":
            return [PYTHON, "-m", "harness", "tune", study, *common, "--no-plots"]
        argv = [PYTHON, "-m", "harness", "study", study, *common, "--no-progress"]
        if self.kind == "until-decided":
            argv += ["--until-decided", "--max-seeds", "5", "--design", "auto"]
        return argv

    def planned(self) -> set[tuple[str, int]]:
        """The runs a complete study has (for a search: its counted trials' runs)."""
        from harness.store import FileSystemStore

        if self.kind == "tune":
            study = self.optuna_study()
            from optuna.trial import TrialState

            return {
                (t.user_attrs["harness_variant"], seed)
                for t in study.get_trials(states=(TrialState.COMPLETE,))
                for seed in (0, 1, 2)
            }
        store = FileSystemStore(self.study_dir)
        return {(key.variant, key.seed) for key in store.run_keys()}

    def optuna_study(self) -> Any:
        import optuna
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        journal = self.study_dir / "tune" / "journal.log"
        return optuna.load_study(
            study_name="faults", storage=JournalStorage(JournalFileBackend(str(journal)))
        )

    def verdicts(self) -> Any:
        """What the study decided, as ``harness compare`` reports it; for a search, the best
        trial's parameter as Optuna holds it (its verdict) and the number of counted trials.

        A search interrupted and resumed explores other points than an uninterrupted one (the
        interrupted trial is retried under a new trial number, and each number seeds its own
        draw), so its verdict is checked against its own runs instead
        (:meth:`check_tune`: the best trial is the one whose runs' records are best)."""
        if self.kind == "tune":
            from optuna.trial import TrialState

            study = self.optuna_study()
            trials = study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
            return {"trials": len(trials), "best": study.best_trial.params["params.effect"]}
        from harness.cli import main

        args = ["--sequential"] if self.kind == "until-decided" else []
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["compare", str(self.study_dir), *args, "--format", "json"])
        if code != 0:
            return f"compare exited {code}: {err.getvalue().strip()[-300:]}"
        payload = json.loads(out.getvalue())
        return {
            row["variant"]: (row["verdict"], row.get("decided_at"), row.get("n_pairs"))
            for row in payload["comparisons"]
        }

    def check_tune(self) -> list[str]:
        """A search's own bookkeeping against the store: each counted trial has its own runs,
        whose records give the trial's value."""
        from optuna.trial import TrialState

        from harness.store import FileSystemStore, RunKey

        problems = []
        study = self.optuna_study()
        store = FileSystemStore(self.study_dir)
        counted = study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
        if len(counted) != 4:
            problems.append(f"{len(counted)} counted trials, not 4")
        variants = [t.user_attrs.get("harness_variant") for t in counted]
        if len(set(variants)) != len(variants):
            problems.append(f"two trials share runs: {variants}")
        by_records: list[tuple[float, float]] = []
        for trial in study.get_trials(states=(TrialState.COMPLETE,)):
            values = []
            for seed in (0, 1, 2):
                record = store.read_record(
                    RunKey(variant=trial.user_attrs["harness_variant"], seed=seed)
                )
                if record is None:
                    problems.append(f"trial {trial.number}: seed {seed} has no record")
                    continue
                values.append(record.final_metrics["val_loss"])
            if values and abs(sum(values) / len(values) - trial.value) > 1e-9:
                problems.append(
                    f"trial {trial.number}: value {trial.value} is not its runs' mean "
                    f"{sum(values) / len(values)}"
                )
            if len(values) == 3:
                by_records.append((sum(values) / 3, trial.params["params.effect"]))
        if by_records and min(by_records)[1] != study.best_trial.params["params.effect"]:
            problems.append(
                f"the best trial is {study.best_trial.params}, the records' best {min(by_records)}"
            )
        return problems


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.pop("HARNESS_RUNS_DIR", None)
    env.update(COLUMNS="200", NO_COLOR="1", PYTHONPATH=str(ROOT))
    return env


def run_to_end(scenario: Scenario) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        scenario.argv(),
        cwd=scenario.root,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        start_new_session=True,
    )


def records(study_dir: Path) -> dict[str, bytes]:
    """Every ``record.json`` under the study, by path: its bytes."""
    found = {}
    for path in sorted(study_dir.glob("runs/*/s*/record.json")):
        try:
            found[str(path.relative_to(study_dir))] = path.read_bytes()
        except OSError:
            continue
    return found


def processes_of(root: Path) -> list[tuple[int, str]]:
    """Live processes (not zombies) whose command line or environment names ``root``."""
    needle = str(root).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            command = (entry / "cmdline").read_bytes()
            env = (entry / "environ").read_bytes()
        except (OSError, IndexError):
            continue
        if state != "Z" and (needle in command or needle in env):
            found.append((int(entry.name), command.replace(b"\0", b" ").decode()[:120]))
    return found


@dataclass
class Iteration:
    """One fault and what the checks found."""

    kind: str
    fault: str
    delay_s: float
    landed: bool = False  # the fault hit a live harness process
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def known(self) -> list[str]:
        """The problems of a defect :data:`KNOWN` names."""
        return [p for p in self.problems if any(k in p for k in KNOWN)]

    @property
    def new(self) -> list[str]:
        """The other problems."""
        return [p for p in self.problems if p not in self.known]


def inject(process: subprocess.Popen[str], fault: str, rng: random.Random) -> bool:
    """Hit ``process`` (a harness command in a session of its own) with ``fault``; returns
    whether it was still running."""
    if process.poll() is not None:
        return False
    try:
        if fault == "kill-9":
            os.kill(process.pid, signal.SIGKILL)
        elif fault == "sigterm":
            os.kill(process.pid, signal.SIGTERM)
        elif fault == "ctrl-c":  # a terminal signals its foreground process group
            os.killpg(process.pid, signal.SIGINT)
        elif fault == "sigstop":  # Ctrl-Z, then fg
            os.killpg(process.pid, signal.SIGSTOP)
            time.sleep(rng.uniform(0.2, 2.0))
            os.killpg(process.pid, signal.SIGCONT)
        else:
            raise ValueError(fault)
    except ProcessLookupError:
        return False
    return True


def run_iteration(
    scenario: Scenario,
    fault: str,
    delay_s: float,
    expected: Any,
    rng: random.Random,
    *,
    rerun_s: float = 3.0,
) -> Iteration:
    """One fault at ``delay_s`` into a fresh run of ``scenario``, the resumes, the checks.

    An ``--until-decided`` study is then run once more, finished, and hit by the same fault at
    a moment drawn over ``rerun_s`` (how long such a rerun takes: it replays its rounds over
    the finished runs); its verdicts are checked right after, before anything resumes it
    (issue 33 item 3).
    """
    started = time.monotonic()
    result = Iteration(kind=scenario.kind, fault=fault, delay_s=delay_s)
    problems = result.problems
    scenario.write()
    result.landed = faulted_run(scenario, fault, delay_s, rng, problems)
    resume_until_complete(scenario, problems)
    if scenario.kind == "tune":
        problems += scenario.check_tune()
    check_verdicts(scenario, expected, problems)
    if scenario.kind == "until-decided":
        faulted_run(scenario, fault, rng.uniform(0.0, rerun_s), rng, problems)
        check_verdicts(scenario, expected, problems, when="after a faulted rerun")
        resume_until_complete(scenario, problems)
    check_records(scenario, problems)

    deadline = time.monotonic() + GRACE_S
    while (left := processes_of(scenario.root)) and time.monotonic() < deadline:
        time.sleep(0.2)
    if left:
        problems.append(f"processes left alive: {left}")
        for pid, _ in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    result.seconds = time.monotonic() - started
    return result


def faulted_run(
    scenario: Scenario, fault: str, delay_s: float, rng: random.Random, problems: list[str]
) -> bool:
    """Start the study's command, hit it with ``fault`` after ``delay_s``, wait for it to
    end; returns whether the fault hit it running."""
    process = subprocess.Popen(
        scenario.argv(),
        cwd=scenario.root,
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        time.sleep(delay_s)
        landed = inject(process, fault, rng)
        try:
            _, err = process.communicate(timeout=EXIT_TIMEOUT_S)
            with (scenario.root / "faulted.err").open("a") as kept:  # for a look afterwards
                kept.write(f"--- {fault} at {delay_s:.2f} s\n{err}")
            if "Traceback" in err:
                # a KeyboardInterrupt whose traceback holds no harness file: it hit a Python
                # process of the study while Python itself started it
                where = "at start-up " if _in_start_up(err) else ""
                problems.append(f"traceback {where}after {fault}: {err.strip()[-400:]}")
        except subprocess.TimeoutExpired:
            problems.append(f"harness still running {EXIT_TIMEOUT_S} s after {fault}")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    return landed


def resume_until_complete(scenario: Scenario, problems: list[str]) -> None:
    """Run the study's command again until it completes, as a user would; no record a
    resume finds may be written again."""
    for _ in range(RESUMES):
        before = records(scenario.study_dir)
        resumed = run_to_end(scenario)
        after = records(scenario.study_dir)
        rewritten = [path for path, data in before.items() if after.get(path) != data]
        if rewritten:
            problems.append(f"a resume rewrote finished records: {rewritten}")
        if "Traceback" in resumed.stdout + resumed.stderr:
            problems.append(f"traceback in a resume: {resumed.stderr.strip()[-400:]}")
        if resumed.returncode == 0 and "running in another process" not in resumed.stdout:
            return
        time.sleep(1.0)  # runs another process (an orphan worker) still holds
    problems.append(
        f"the study never completed: exit {resumed.returncode}: "
        f"{(resumed.stdout + resumed.stderr).strip()[-400:]}"
    )


def check_records(scenario: Scenario, problems: list[str]) -> None:
    """Every planned run has a ``done`` record."""
    from harness.store import FileSystemStore, RunKey

    store = FileSystemStore(scenario.study_dir)
    for variant, seed in sorted(scenario.planned()):
        record = store.read_record(RunKey(variant=variant, seed=seed))
        if record is None or record.status != "done":
            problems.append(f"{variant}-s{seed}: {record.status if record else 'no record'}")


def check_verdicts(
    scenario: Scenario, expected: Any, problems: list[str], *, when: str = "after the resume"
) -> None:
    """The study's verdicts are the uninterrupted study's (a search's: its own runs')."""
    got = scenario.verdicts()
    if scenario.kind == "tune":  # its own runs decide (see Scenario.verdicts)
        expected = {"trials": 4, "best": got.get("best") if isinstance(got, dict) else None}
    if got != expected:
        problems.append(f"verdicts {when}: {got}, not the uninterrupted study's {expected}")


@dataclass
class Baseline:
    """An uninterrupted run of a scenario: its verdicts and how long it took."""

    verdicts: Any
    seconds: float
    rerun_seconds: float = 0.0  # a rerun of the finished study (``--until-decided``)


def baseline(scenario: Scenario) -> Baseline:
    """Run ``scenario`` once without a fault."""
    scenario.write()
    started = time.monotonic()
    result = run_to_end(scenario)
    seconds = time.monotonic() - started
    if result.returncode != 0:
        raise RuntimeError(f"the uninterrupted {scenario.kind} failed: {result.stderr[-2000:]}")
    if scenario.kind == "tune":
        problems = scenario.check_tune()
        if problems:
            raise RuntimeError(f"the uninterrupted search is inconsistent: {problems}")
    rerun_seconds = 0.0
    if scenario.kind == "until-decided":
        started = time.monotonic()
        run_to_end(scenario)
        rerun_seconds = time.monotonic() - started
    return Baseline(verdicts=scenario.verdicts(), seconds=seconds, rerun_seconds=rerun_seconds)


def fault_loop(
    kind: str,
    iterations: int,
    *,
    workdir: Path,
    seed: int,
    say: Callable[[str], None] = lambda line: None,
) -> list[Iteration]:
    """``iterations`` faults of every kind in :data:`FAULTS`, in turn, at random moments of a
    ``kind`` study (uniform over the first 80 % of its uninterrupted running time, measured
    first).

    Args:
        kind: one of :data:`KINDS`.
        iterations: how many faults.
        workdir: an empty folder; each iteration gets a folder in it.
        seed: seeds the moments and the stop lengths.
        say: where a line per iteration goes.

    Returns:
        One :class:`Iteration` per fault.
    """
    rng = random.Random(f"{seed}:{kind}")
    reference = baseline(Scenario(kind=kind, root=workdir / "uninterrupted"))
    say(f"{kind}: uninterrupted in {reference.seconds:.1f} s: {reference.verdicts}")
    done = []
    for number in range(iterations):
        fault = FAULTS[number % len(FAULTS)]
        # over most of its running time: later runs are faster than the first (warm caches)
        delay = rng.uniform(0.0, 0.8 * reference.seconds)
        scenario = Scenario(kind=kind, root=workdir / f"{kind}-{number:03d}")
        outcome = run_iteration(
            scenario, fault, delay, reference.verdicts, rng, rerun_s=reference.rerun_seconds
        )
        say(
            f"{kind} #{number} {fault} at {delay:.2f} s"
            f"{'' if outcome.landed else ' (after the end)'}: "
            f"{'; '.join(outcome.problems) or 'ok'} ({outcome.seconds:.1f} s)"
        )
        done.append(outcome)
    return done
