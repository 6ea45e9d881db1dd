"""The encoders' caches of recent vectors (ingest.embedding.RecentVectors), without a model: a fake encoder."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ingest.embedding import LocalEmbedder, RecentVectors, TokenStates

DIM = 4


class CountingEncoder(LocalEmbedder):
    """Each word a one-hot row; counts the texts sent to the encoder."""

    def __init__(self, query_cache_size: int = 16384) -> None:
        super().__init__(query_cache_size=query_cache_size)  # the packaged model's folder is only located
        self.encoded: list[str] = []

    @property
    def dimension(self) -> int:
        return DIM

    def token_states(self, texts: Sequence[str]) -> list[TokenStates]:
        self.encoded.extend(texts)
        states = []
        for text in texts:
            words, offsets, start = [], [], 0
            for word in text.split():
                start = text.index(word, start)
                row = np.zeros(DIM, dtype=np.float32)
                row[len(word) % DIM] = 1.0
                words.append(row)
                offsets.append((start, start + len(word)))
                start += len(word)
            states.append((np.vstack(words), offsets))
        return states

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return np.vstack([hidden.mean(axis=0) for hidden, _ in self.token_states(texts)]) if texts else \
            np.zeros((0, DIM), dtype=np.float32)


def row(value: float) -> np.ndarray:
    return np.full(2, value, dtype=np.float32)


def test_the_most_recently_stored_or_read_are_kept() -> None:
    cache: RecentVectors[str] = RecentVectors(2)
    cache.remember([("a", row(1)), ("b", row(2))])
    assert set(cache.known(["a"])) == {"a"}  # a read: "a" is now the most recent
    cache.remember([("c", row(3))])
    assert set(cache.known("abc")) == {"a", "c"} and len(cache) == 2
    cache.remember([("a", row(4))])  # stored again: replaced, still one entry
    assert cache.known(["a"])["a"][0] == 4 and len(cache) == 2


def test_a_cache_of_size_zero_keeps_nothing_and_a_resize_keeps_the_most_recent() -> None:
    nothing: RecentVectors[str] = RecentVectors(0)
    nothing.remember([("a", row(1))])
    assert nothing.known(["a"]) == {} and len(nothing) == 0
    cache: RecentVectors[str] = RecentVectors(4)
    cache.remember((key, row(i)) for i, key in enumerate("abcd"))
    cache.maxsize = 2
    assert set(cache.known("abcd")) == {"c", "d"}
    cache.maxsize = 3
    cache.remember([("e", row(5))])
    assert set(cache.known("abcde")) == {"c", "d", "e"}


def test_embed_cached_encodes_each_text_once_within_the_size() -> None:
    encoder = CountingEncoder(query_cache_size=2)
    first = encoder.embed_cached(["one two", "three", "one two"])
    assert encoder.encoded == ["one two", "three"] and first.shape == (3, DIM)
    np.testing.assert_array_equal(encoder.embed_cached(["three", "one two"]), first[[1, 0]])
    assert encoder.encoded == ["one two", "three"]  # both from the cache
    encoder.embed_cached(["four"])  # the least recent ("three") goes
    encoder.embed_cached(["three"])
    assert encoder.encoded == ["one two", "three", "four", "three"]


def test_the_text_cache_size_can_be_raised_after_construction() -> None:
    """``citeqa eval`` (service/evaluation/targets.py) raises ``_cache_size`` on the embedder it builds."""
    encoder = CountingEncoder(query_cache_size=1)
    encoder._cache_size = max(encoder._cache_size, 3)
    encoder.embed_cached(["a", "bb", "ccc"])
    encoder.embed_cached(["a", "bb", "ccc"])
    assert encoder.encoded == ["a", "bb", "ccc"] and encoder._cache_size == 3


def test_a_passage_whose_text_vector_was_forgotten_is_encoded_again() -> None:
    encoder = CountingEncoder(query_cache_size=16)  # texts: 16, passages' spans: 1
    passage, spans = "Bees make honey. Hives hum.", [(0, 16), (17, 27)]
    vectors, pooled = encoder.embed_with_spans_cached([passage], [spans])
    assert encoder.encoded == [passage] and pooled[0].shape == (2, DIM)
    encoder.embed_with_spans_cached([passage], [spans])
    assert encoder.encoded == [passage]  # both caches knew it
    encoder.embed_cached([f"question {i}" for i in range(16)])  # the busier text cache forgets the passage
    again, again_pooled = encoder.embed_with_spans_cached([passage], [spans])
    assert encoder.encoded.count(passage) == 2
    np.testing.assert_allclose(again, vectors)
    np.testing.assert_array_equal(again_pooled[0], pooled[0])  # the cached (float16) sentence vectors
