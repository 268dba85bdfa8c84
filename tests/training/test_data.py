"""The default language and the file-backed data kinds."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from harness.errors import UserError
from harness.training.config import DataConfig
from harness.training.data import BOS, Language, load_data, stream_seed


def documents(seed: int = 0, count: int = 64, length: int = 129) -> np.ndarray:
    return Language().generate(np.random.default_rng(seed), count, length)


def test_every_document_starts_with_bos_then_a_topic() -> None:
    docs = documents()
    language = Language()
    assert np.all(docs[:, 0] == BOS)
    assert np.all((docs[:, 1] >= language.topic0) & (docs[:, 1] < language.assign0))
    assert not np.any(docs[:, 1:] == BOS)  # BOS means the document start, nothing else
    assert docs.min() >= 0 and docs.max() < language.vocab_size
    assert language.vocab_size < 128
    assert len(language.vocab) == language.vocab_size


def test_query_answers_are_the_latest_assignment() -> None:
    language = Language()
    checked = 0
    for doc in documents():
        current: dict[int, int] = {}
        for position, token in enumerate(doc[:-1].tolist()):
            if language.assign0 <= token < language.query0:
                var, val = divmod(token - language.assign0, language.values)
                current[var] = val
            elif language.query0 <= token < language.value0:
                var = token - language.query0
                assert doc[position + 1] == language.value0 + current[var]
                checked += 1
    assert checked > 100


def test_overwrites_happen() -> None:
    language = Language()
    overwritten = 0
    for doc in documents():
        seen: set[int] = set()
        for token in doc.tolist():
            if language.assign0 <= token < language.query0:
                var = (token - language.assign0) // language.values
                overwritten += var in seen
                seen.add(var)
    assert overwritten > 64  # more than one per document on average


def test_phrases_follow_the_current_topic() -> None:
    # the noun distribution after a marker is that topic's: the most frequent noun differs
    language = Language()
    docs = documents(count=400)
    favourite = {}
    for topic in range(3):
        counts = np.zeros(language.verb0 - language.noun0)
        for doc in docs:
            current = None
            for token in doc.tolist():
                if language.topic0 <= token < language.assign0:
                    current = token - language.topic0
                elif language.noun0 <= token < language.verb0 and current == topic:
                    counts[token - language.noun0] += 1
        favourite[topic] = int(counts.argmax())
    assert len(set(favourite.values())) > 1


def test_generation_is_deterministic_and_fast() -> None:
    assert np.array_equal(documents(seed=3), documents(seed=3))
    assert not np.array_equal(documents(seed=3), documents(seed=4))
    started = time.perf_counter()
    Language().generate(np.random.default_rng(0), 512, 129)
    assert time.perf_counter() - started < 1.0


def test_validation_set_depends_on_data_seed_only_and_training_on_the_run_seed() -> None:
    data = load_data(DataConfig(val_sequences=8), block_size=32)
    again = load_data(DataConfig(val_sequences=8), block_size=32)
    other = load_data(DataConfig(val_sequences=8, seed=1), block_size=32)
    assert data.val.shape == (8, 33)
    assert np.array_equal(data.val, again.val)
    assert not np.array_equal(data.val, other.val)
    first = next(data.train(seed=0, batch_size=4))
    assert np.array_equal(first, next(again.train(seed=0, batch_size=4)))
    assert np.array_equal(first, next(other.train(seed=0, batch_size=4)))  # data.seed: val only
    assert not np.array_equal(first, next(data.train(seed=1, batch_size=4)))


def test_text_file_is_read_as_bytes(tmp_path: Path) -> None:
    path = tmp_path / "corpus.txt"
    path.write_bytes(bytes(range(256)) * 8)
    data = load_data(DataConfig(kind="text", path=str(path), val_sequences=4), block_size=16)
    assert data.vocab_size == 256
    batch = next(data.train(seed=0, batch_size=3))
    assert batch.shape == (3, 17)
    assert np.all(np.diff(batch, axis=1) % 256 == 1)  # consecutive bytes of the file


def test_token_memmaps(tmp_path: Path) -> None:
    np.arange(1000, dtype=np.uint16).tofile(tmp_path / "train.bin")
    (np.arange(100, dtype=np.uint16) + 5000).tofile(tmp_path / "val.bin")
    data = load_data(DataConfig(kind="tokens", path=str(tmp_path), val_sequences=4), 16)
    assert data.vocab_size is None
    assert np.all(data.val >= 5000)
    batch = next(data.train(seed=0, batch_size=2))
    assert np.all(np.diff(batch, axis=1) == 1) and batch.max() < 1000


def test_missing_files_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such text file"):
        load_data(DataConfig(kind="text", path=str(tmp_path / "nope.txt")), 16)
    with pytest.raises(UserError, match=r"train\.bin"):
        load_data(DataConfig(kind="tokens", path=str(tmp_path)), 16)
    (tmp_path / "short.txt").write_bytes(b"abc")
    with pytest.raises(UserError, match="need >"):
        load_data(DataConfig(kind="text", path=str(tmp_path / "short.txt")), 16)


# -- set-up built once per process (issue 21) ----------------------------------------------------


def test_the_default_validation_set_is_built_once_per_config_and_is_the_same() -> None:
    from harness.training.data import default_language_data

    default_language_data.cache_clear()
    config = DataConfig(val_sequences=8, seed=3)
    first = load_data(config, block_size=16)
    second = load_data(DataConfig(val_sequences=8, seed=3), block_size=16)  # equal content
    info = default_language_data.cache_info()
    assert (info.misses, info.hits) == (1, 1)
    # the same sequences as drawn without the cache, bit for bit
    fresh = Language().generate(np.random.default_rng(stream_seed(3, "val")), 8, 17)
    np.testing.assert_array_equal(first.val, fresh)
    np.testing.assert_array_equal(second.val, fresh)
    first.val[:] = 0  # a run's copy: what it does to it never reaches the next run
    np.testing.assert_array_equal(load_data(config, block_size=16).val, fresh)
    load_data(DataConfig(val_sequences=8, seed=4), block_size=16)  # another config: built anew
    assert default_language_data.cache_info().misses == 2
