"""The results-store interface; every implementation passes the store conformance suite."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.store.meta import StudyMeta
from harness.store.records import RunRecord, Status


@dataclass(frozen=True, kw_only=True)
class RunKey:
    """The identity of a run within a study."""

    variant: str
    seed: int

    def __str__(self) -> str:
        return f"{self.variant}-s{self.seed}"


@dataclass(frozen=True, kw_only=True)
class RunConfigFile:
    """What the runner writes before a run starts (``config.json``)."""

    study: str
    variant: str
    seed: int
    kind: str
    config: dict[str, Any]
    config_hash: str

    @classmethod
    def from_dict(cls, data: Any) -> RunConfigFile:
        """Read a ``config.json``.

        Raises:
            ValueError: a field is missing or of the wrong kind, named in the message.
        """
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object, found {type(data).__name__}")
        kinds = {
            "study": str,
            "variant": str,
            "seed": int,
            "kind": str,
            "config": dict,
            "config_hash": str,
        }
        missing = [name for name in kinds if name not in data]
        if missing:
            raise ValueError(f"missing {', '.join(repr(name) for name in missing)}")
        for name, kind in kinds.items():
            value = data[name]
            if not isinstance(value, kind) or isinstance(value, bool):
                raise ValueError(f"'{name}' is {value!r:.60}, expected {kind.__name__}")
        return cls(**{name: data[name] for name in kinds})


class Store(ABC):
    """Where a study's runs live. The store, not wandb, is the source of truth.

    Writers on several processes (and hosts, on a shared filesystem) may use one store at
    once: a run is claimed exclusively before it starts, and its record appears atomically.
    """

    @abstractmethod
    def write_study_meta(self, meta: StudyMeta) -> None:
        """Store the study's description, replacing the one stored."""

    @abstractmethod
    def read_study_meta(self) -> StudyMeta | None:
        """The stored study description; None when the study has none yet."""

    @abstractmethod
    def run_dir(self, key: RunKey) -> Path:
        """The directory a run writes its files into."""

    @abstractmethod
    def write_config(self, config: RunConfigFile) -> None:
        """Store a run's resolved config before it starts."""

    @abstractmethod
    def read_config(self, key: RunKey) -> RunConfigFile | None:
        """A run's stored config, or None when it was never planned."""

    @abstractmethod
    def try_claim(self, key: RunKey, owner: dict[str, Any]) -> bool:
        """Claim a run for execution. False when a live claim by someone else exists."""

    @abstractmethod
    def release(self, key: RunKey, token: str | None = None) -> None:
        """Drop a run's claim (after its record is written, or on cancellation); with
        ``token``, only while the claim still carries it (``harness.store.claims``)."""

    def end_abandoned_command(self, key: RunKey, token: str) -> None:  # noqa: B027 - optional
        """End what the command of a run whose worker died left running, while the claim
        still carries ``token``. Stores whose runs leave no local processes do nothing."""

    @abstractmethod
    def write_record(self, record: RunRecord) -> None:
        """Store a finished run's record, atomically."""

    @abstractmethod
    def read_record(self, key: RunKey) -> RunRecord | None:
        """A finished run's record; None while the run is unfinished."""

    @abstractmethod
    def status(self, key: RunKey) -> Status:
        """pending, running, done, failed or diverged."""

    @abstractmethod
    def run_keys(self) -> Iterator[RunKey]:
        """Every run the store knows of (planned, running or finished)."""
