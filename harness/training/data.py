"""Training and validation batches: the embedded default language, a text file read as bytes, or
nanoGPT-style ``train.bin`` / ``val.bin`` uint16 token files, chosen by ``data.kind``.

Seeding (the paired design): training batches come from a generator seeded by (run seed,
"data"), so every variant of a seed sees the same batches in the same order; the validation set
is drawn once from ``data.seed`` alone, so every variant and every seed is scored on the same
sequences.

The default language
--------------------
Each sequence is **one document**: the BOS token at position 0, a topic marker, then
statements, cut to ``block_size + 1`` tokens (inputs are the first ``block_size``, targets the
last). Documents are never packed, so key position 0 — what ``protect_bos`` protects — is
always the real BOS token, and BOS appears nowhere else. A statement is one of

* a topic switch, one token such as ``<topic3>``: the current topic becomes 3, overwriting the
  previous one;
* a phrase of three tokens such as ``the cat runs``: a determiner (Zipf-distributed), a noun
  (Zipf-distributed over the current topic's own order of the nouns) and a verb (one favoured
  verb per noun *and topic*) — natural-language-like local structure whose words are
  predictable only from the current topic, i.e. the latest marker, not the stale ones;
* an assignment, one token such as ``c=5``: variable ``c`` gets the value 5, overwriting its
  previous value;
* a query, two tokens such as ``c? 5``: the value is the variable's most recent assignment in
  the document (associative recall with overwrites; a query about a variable with no value
  yet becomes an assignment).

Both kinds of state — the topic and the variables — are overwritten within a document, which is
what selective attention is for: a new marker or assignment can mask the stale ones for all
later queries. At the sizes of ``studies/bos_protection.toml`` the models learn the topic
tracking; the variable recall needs longer training. The grammar tables are a fixed part of
the language (``GRAMMAR_SEED``), not of any run's seed.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.errors import UserError
from harness.training.config import DataConfig

# -- the default language ------------------------------------------------------------------

DETERMINERS = ("the", "a", "this", "every")
NOUNS = (
    "cat", "dog", "bird", "fish", "king", "queen", "child", "river",
    "tree", "stone", "ship", "city", "horse", "wolf", "storm", "star",
)  # fmt: skip
VERBS = (
    "runs", "sleeps", "sings", "falls", "grows", "waits",
    "burns", "shines", "swims", "flies", "speaks", "breaks",
)  # fmt: skip
ASSIGNMENT, QUERY, PHRASE, TOPIC = 0, 1, 2, 3  # statement kinds
BOS = 0
GRAMMAR_SEED = 20240101  # the language's fixed tables: part of the language, not of any seed
FAVOURED_VERB = 0.8  # probability of a noun's favoured verb under the current topic


def _p(weights: np.ndarray) -> np.ndarray:
    return weights / weights.sum(axis=-1, keepdims=True)


def _cdf(weights: np.ndarray) -> np.ndarray:
    return np.cumsum(_p(weights), axis=-1)


def _zipf(n: int) -> np.ndarray:
    return 1.0 / np.arange(1, n + 1)


@dataclass(frozen=True)
class Language:
    """The default language's sizes, token layout and generator (see the module docstring).

    Token ids: BOS, the topic markers, the assignments "v=k" (variable-major), the queries "v?",
    the values "k", then determiners, nouns and verbs.

    Attributes:
        variables: distinct variable names (fewer means more overwrites per document).
        values: distinct values.
        topics: distinct topics; each has its own noun and verb preferences.
        kind_probabilities: how often a statement is an assignment, a query, a phrase or a
            topic switch.
    """

    variables: int = 8
    values: int = 8
    topics: int = 8
    kind_probabilities: tuple[float, float, float, float] = (0.1, 0.1, 0.6, 0.2)

    @property
    def topic0(self) -> int:
        return 1

    @property
    def assign0(self) -> int:
        return self.topic0 + self.topics

    @property
    def query0(self) -> int:
        return self.assign0 + self.variables * self.values

    @property
    def value0(self) -> int:
        return self.query0 + self.variables

    @property
    def det0(self) -> int:
        return self.value0 + self.values

    @property
    def noun0(self) -> int:
        return self.det0 + len(DETERMINERS)

    @property
    def verb0(self) -> int:
        return self.noun0 + len(NOUNS)

    @property
    def vocab(self) -> tuple[str, ...]:
        names = [chr(ord("a") + i) if i < 26 else f"v{i}" for i in range(self.variables)]
        return (
            "<bos>",
            *(f"<topic{t}>" for t in range(self.topics)),
            *(f"{var}={val}" for var in names for val in range(self.values)),
            *(f"{var}?" for var in names),
            *(str(val) for val in range(self.values)),
            *DETERMINERS,
            *NOUNS,
            *VERBS,
        )

    @property
    def vocab_size(self) -> int:
        return self.verb0 + len(VERBS)

    @functools.cached_property
    def tables(self) -> tuple[np.ndarray, np.ndarray]:
        """Cumulative probabilities of the noun under each topic (topics, nouns), a Zipf law
        over the topic's own order of the nouns, and of the verb after a noun under each topic
        (topics, nouns, verbs), where one favoured verb has probability ``FAVOURED_VERB``."""
        rng = np.random.default_rng(GRAMMAR_SEED)
        nouns = np.stack(
            [_zipf(len(NOUNS))[rng.permutation(len(NOUNS))] for _ in range(self.topics)]
        )
        other = (1.0 - FAVOURED_VERB) / (len(VERBS) - 1)
        verbs = np.full((self.topics, len(NOUNS), len(VERBS)), other)
        favoured = rng.integers(len(VERBS), size=(self.topics, len(NOUNS)))
        np.put_along_axis(verbs, favoured[..., None], FAVOURED_VERB, axis=-1)
        return _cdf(nouns), _cdf(verbs)

    def generate(self, rng: np.random.Generator, count: int, length: int) -> np.ndarray:
        """``count`` documents, each ``length`` tokens: BOS, a topic marker, statements.

        The random choices are drawn in bulk; the loop only assembles the statements.

        Returns:
            (count, length) int64 token ids; column 0 is BOS.
        """
        shape = (count, length)  # at least one token per statement: enough statements
        kinds = rng.choice(4, size=shape, p=self.kind_probabilities).tolist()
        variables = rng.integers(self.variables, size=shape).tolist()
        values = rng.integers(self.values, size=shape).tolist()
        topics = rng.integers(self.topics, size=shape).tolist()
        determiners = rng.choice(len(DETERMINERS), size=shape, p=_p(_zipf(len(DETERMINERS))))
        # each phrase's noun and verb under every topic, (count, length, topics); the loop
        # picks the current topic's
        noun_table, verb_table = self.tables
        nouns = (rng.random(shape)[..., None, None] > noun_table).sum(axis=-1)
        verb_draws = rng.random(shape)[..., None]
        verbs = np.stack(
            [(verb_draws > verb_table[t, nouns[..., t]]).sum(axis=-1) for t in range(self.topics)],
            axis=-1,
        ).tolist()
        determiners, nouns = determiners.tolist(), nouns.tolist()
        out = np.empty(shape, dtype=np.int64)
        topic0, assign0, query0, value0 = self.topic0, self.assign0, self.query0, self.value0
        det0, noun0, verb0 = self.det0, self.noun0, self.verb0
        for d in range(count):
            topic = topics[d][0]
            tokens = [BOS, topic0 + topic]
            current: dict[int, int] = {}
            for s in range(1, length):
                if len(tokens) >= length:
                    break
                kind, var, val = kinds[d][s], variables[d][s], values[d][s]
                if kind == PHRASE:
                    det, noun, verb = determiners[d][s], nouns[d][s][topic], verbs[d][s][topic]
                    tokens += [det0 + det, noun0 + noun, verb0 + verb]
                elif kind == TOPIC:
                    topic = topics[d][s]
                    tokens.append(topic0 + topic)
                elif kind == QUERY and var in current:
                    tokens += [query0 + var, value0 + current[var]]
                else:
                    tokens.append(assign0 + var * self.values + val)
                    current[var] = val
            out[d] = tokens[:length]
        return out

    def decode(self, tokens: np.ndarray | list[int]) -> str:
        """Token ids as words, for reading samples."""
        vocab = self.vocab
        return " ".join(vocab[int(t)] for t in tokens)


# -- sources -----------------------------------------------------------------------------------


def stream_seed(*parts: object) -> int:
    """A stable seed from e.g. (seed, "data"); the same on every machine and Python."""
    digest = hashlib.sha256("/".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little")


@dataclass
class Batches:
    """Where a run's sequences come from.

    Attributes:
        vocab_size: tokens the data uses; None for token files (``model.vocab_size`` says).
        val: the fixed validation set, (n, block_size + 1) int64 (inputs ``[:, :-1]``, targets
            ``[:, 1:]``).
    """

    vocab_size: int | None
    val: np.ndarray
    _draw: object  # (rng, count) -> (count, block_size + 1) int64

    def train(self, seed: int, batch_size: int) -> Iterator[np.ndarray]:
        """Endless training batches (batch_size, block_size + 1), ordered by (seed, "data")."""
        rng = np.random.default_rng(stream_seed(seed, "data"))
        while True:
            yield self._draw(rng, batch_size)  # type: ignore[operator]


@functools.lru_cache(maxsize=8)
def default_language_data(config: DataConfig, block_size: int) -> tuple[Language, np.ndarray]:
    """The default language of ``config`` (its tables built) and its validation set, built
    once per process: both are fixed by the config's content (``data.seed``, the sizes), so a
    warm worker (:mod:`harness.worker.zygote`) builds them once for every run it forks.

    Returns:
        The language and the validation set, (val_sequences, block_size + 1) int64.
    """
    language = Language(variables=config.variables, values=config.values, topics=config.topics)
    val_rng = np.random.default_rng(stream_seed(config.seed, "val"))
    return language, language.generate(val_rng, config.val_sequences, block_size + 1)


def load_data(config: DataConfig, block_size: int) -> Batches:
    """The data source that ``config.kind`` names, cut to sequences of ``block_size + 1``.

    Raises:
        UserError: a missing or too-short file.
    """
    val_rng = np.random.default_rng(stream_seed(config.seed, "val"))
    length = block_size + 1
    if config.kind == "default":
        language, val = default_language_data(config, block_size)

        def draw(rng: np.random.Generator, count: int) -> np.ndarray:
            return language.generate(rng, count, length)

        # a copy: the cached set stays as drawn whatever a run does with its own
        return Batches(language.vocab_size, val.copy(), draw)

    if config.kind == "text":
        path = Path(config.path)
        if not path.is_file():
            raise UserError(f"data.path: no such text file: {path}")
        tokens = np.frombuffer(path.read_bytes(), dtype=np.uint8)
        split = int(len(tokens) * (1.0 - config.val_fraction))
        train_tokens, val_tokens, vocab = tokens[:split], tokens[split:], 256
    else:
        folder = Path(config.path)
        for name in ("train.bin", "val.bin"):
            if not (folder / name).is_file():
                raise UserError(f"data.path: {folder / name} does not exist")
        train_tokens = np.memmap(folder / "train.bin", dtype=np.uint16, mode="r")
        val_tokens = np.memmap(folder / "val.bin", dtype=np.uint16, mode="r")
        vocab = None  # not scanned (the files may be large): model.vocab_size says
    for name, part in (("training", train_tokens), ("validation", val_tokens)):
        if len(part) <= length:
            raise UserError(f"data.path: the {name} split has {len(part)} tokens, need > {length}")

    def windows(tokens: np.ndarray, rng: np.random.Generator, count: int) -> np.ndarray:
        starts = rng.integers(len(tokens) - length + 1, size=count)
        return np.stack([np.asarray(tokens[i : i + length], dtype=np.int64) for i in starts])

    def draw_train(rng: np.random.Generator, count: int) -> np.ndarray:
        return windows(train_tokens, rng, count)

    return Batches(vocab, windows(val_tokens, val_rng, config.val_sequences), draw_train)
