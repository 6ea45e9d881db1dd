"""Sentence vectors: pooled from their chunk's forward pass, kept in the store at ingest (settings.sentence_vectors,
on by default), read back at query time so that a question encodes only itself."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from ingest.chunking import split_sentences
from ingest.embedding import LocalEmbedder, TokenStates
from tests.conftest import SEED_QUESTION, SEEDS, UNANSWERABLE, make_parts, make_settings

pytestmark = pytest.mark.slow


class CountingEmbedder(LocalEmbedder):
    """The real model (the session's), counting the texts it is asked to run through the encoder."""

    def __init__(self, model: LocalEmbedder) -> None:
        super().__init__()
        self.model = model
        self.name = model.name
        self.encoded: list[str] = []

    @property
    def dimension(self) -> int:
        return self.model.dimension

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.encoded.extend(texts)
        return self.model.embed(texts)

    def token_states(self, texts: Sequence[str]) -> list[TokenStates]:
        self.encoded.extend(texts)
        return self.model.token_states(texts)


@pytest.fixture
def counting(embedder: LocalEmbedder) -> CountingEmbedder:
    return CountingEmbedder(embedder)


def test_ingest_stores_every_sentence_vector_at_no_extra_encoder_work(tmp_path: Path,
                                                                     counting: CountingEmbedder) -> None:
    parts = make_parts(make_settings(tmp_path / "store"), counting)
    assert parts.settings.sentence_vectors  # the default
    parts.indexer.ingest(SEEDS, progress=False)
    chunks = parts.store.all_chunks()
    assert sorted(counting.encoded) == sorted(chunk.text for chunk in chunks)  # each chunk once, no sentence
    stored = parts.store.sentence_vectors([chunk.id for chunk in chunks])
    assert set(stored) == {chunk.id for chunk in chunks}
    for chunk in chunks[:2]:
        spans = split_sentences(chunk.text)
        vectors, pooled = counting.model.embed_with_spans([chunk.text], [spans])
        assert stored[chunk.id].shape == (len(spans), 384)
        np.testing.assert_allclose(stored[chunk.id], pooled[0], atol=2e-3)  # float16 in the store
        _, chunk_vectors = parts.store.chunks_by_id([chunk.id], vectors=True)
        np.testing.assert_allclose(chunk_vectors[chunk.id], vectors[0], atol=1e-5)


def test_answers_are_the_same_and_need_no_passage_encoding(tmp_path: Path, counting: CountingEmbedder,
                                                           embedder: LocalEmbedder) -> None:
    plain = make_parts(make_settings(tmp_path / "plain", sentence_vectors=False), embedder)
    plain.indexer.ingest(SEEDS, progress=False)
    fast = make_parts(make_settings(tmp_path / "fast"), counting)
    fast.indexer.ingest(SEEDS, progress=False)
    for question in (SEED_QUESTION, UNANSWERABLE, "Who corrected Altman?"):
        counting.encoded.clear()
        expected, got = plain.pipeline.ask(question), fast.pipeline.ask(question)
        assert counting.encoded == [question]  # the question only: passages and sentences came from the store
        assert (got.answer, got.refused) == (expected.answer, expected.refused)
        assert [(c.chunk_id, c.start, c.end) for c in got.citations] == [
            (c.chunk_id, c.start, c.end) for c in expected.citations
        ]


def test_without_them_passages_are_encoded_once_then_cached(tmp_path: Path, counting: CountingEmbedder) -> None:
    parts = make_parts(make_settings(tmp_path / "store", sentence_vectors=False), counting)
    parts.indexer.ingest(SEEDS, progress=False)
    assert parts.store.sentence_vectors([chunk.id for chunk in parts.store.all_chunks()]) == {}
    counting.encoded.clear()
    first = parts.pipeline.ask(SEED_QUESTION)
    passages = {passage.chunk.text for passage in first.passages}
    encoded = Counter(counting.encoded)
    assert all(encoded[text] == 1 for text in passages)  # once each, for their sentences' vectors
    assert set(encoded) == passages | {SEED_QUESTION}  # never a sentence on its own
    counting.encoded.clear()
    again = parts.pipeline.ask(SEED_QUESTION)
    assert counting.encoded == [] and again.answer == first.answer


def test_removed_chunks_lose_their_sentence_vectors(tmp_path: Path, embedder: LocalEmbedder) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("Zebras have black and white stripes. Each zebra has its own pattern of stripes.")
    parts = make_parts(make_settings(tmp_path / "store"), embedder)
    parts.indexer.ingest(folder, progress=False)
    ids = [chunk.id for chunk in parts.store.all_chunks()]
    assert len(parts.store.sentence_vectors(ids)) == len(ids) == 1
    (folder / "a.txt").unlink()
    parts.indexer.ingest(folder, progress=False)
    assert parts.store.sentence_vectors(ids) == {}


def test_a_store_without_them_still_answers(tmp_path: Path, embedder: LocalEmbedder) -> None:
    old = make_parts(make_settings(tmp_path / "store", sentence_vectors=False), embedder)
    old.indexer.ingest(SEEDS, progress=False)
    parts = make_parts(make_settings(tmp_path / "store"), embedder)
    result = parts.pipeline.ask(SEED_QUESTION)
    assert not result.refused and result.citations


def test_a_passage_scores_the_same_on_its_first_and_later_requests(tmp_path: Path, embedder: LocalEmbedder,
                                                                   torch_embedder: LocalEmbedder) -> None:
    """A store ingested by another encoder, without sentence vectors: the stored passage vector is used on the
    first request (when the passage is encoded for its sentences) as on every later one."""
    old = make_parts(make_settings(tmp_path / "store", encoder="torch", sentence_vectors=False), torch_embedder)
    old.indexer.ingest(SEEDS, progress=False)
    parts = make_parts(make_settings(tmp_path / "store"), CountingEmbedder(embedder))  # empty caches

    def scored() -> tuple[float, list[tuple[float, float]]]:
        retrieval = parts.retriever.retrieve(SEED_QUESTION, 5)
        assert retrieval.query_embedding is not None
        judgement = parts.judge.score(SEED_QUESTION, retrieval.query_embedding, retrieval.passages)
        return judgement.confidence, [(c.cosine, c.probability) for c in judgement.candidates]

    first = scored()
    assert scored() == first and scored() == first


def test_sentence_vectors_made_another_way_are_not_used(tmp_path: Path, embedder: LocalEmbedder) -> None:
    parts = make_parts(make_settings(tmp_path / "store"), embedder)
    parts.indexer.ingest(SEEDS, progress=False)
    ids = [chunk.id for chunk in parts.store.all_chunks()]
    assert set(parts.store.sentence_vectors(ids)) == set(ids)
    collection = parts.store._sentences()
    page = collection.get(ids=[ids[0]], include=["metadatas", "embeddings"])
    meta = {key: value for key, value in page["metadatas"][0].items() if key != "pooling"}  # as before pooling
    collection.delete(ids=[ids[0]])
    collection.add(ids=[ids[0]], embeddings=[list(page["embeddings"][0])], metadatas=[meta])
    assert set(parts.store.sentence_vectors(ids)) == set(ids[1:])
    result = parts.pipeline.ask(SEED_QUESTION)  # the unmarked passage's sentences are computed, not read
    assert not result.refused and result.citations


def test_turning_sentence_vectors_on_re_embeds_what_lacks_them(tmp_path: Path, counting: CountingEmbedder) -> None:
    old = make_parts(make_settings(tmp_path / "store", sentence_vectors=False), counting)
    old.indexer.ingest(SEEDS, progress=False)
    parts = make_parts(make_settings(tmp_path / "store"), counting)
    report = parts.indexer.ingest(SEEDS, progress=False)
    assert report.updated and not report.unchanged and report.chunks_embedded  # indexed another way: again
    ids = [chunk.id for chunk in parts.store.all_chunks()]
    assert set(parts.store.sentence_vectors(ids)) == set(ids)
    assert {record.recipe for record in parts.store.documents()} == {parts.indexer.recipe}
    again = parts.indexer.ingest(SEEDS, progress=False)
    assert again.unchanged and again.chunks_embedded == 0
