"""settings.sentence_vectors: sentences embedded at ingest, read back at query time instead of re-embedded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ingest.chunking import split_sentences
from ingest.embedding import SentenceTransformerEmbedder
from tests.conftest import SEED_QUESTION, SEEDS, UNANSWERABLE, make_parts, make_settings

pytestmark = pytest.mark.slow


class CountingEmbedder(SentenceTransformerEmbedder):
    """The real model, counting the texts it is asked to encode."""

    def __init__(self, model: SentenceTransformerEmbedder) -> None:
        super().__init__()
        self._model = model.model
        self.encoded: list[str] = []

    def embed(self, texts):  # noqa: ANN001, ANN201
        self.encoded.extend(texts)
        return super().embed(texts)


@pytest.fixture
def counting(embedder: SentenceTransformerEmbedder) -> CountingEmbedder:
    return CountingEmbedder(embedder)


def test_ingest_stores_every_sentence_vector(tmp_path: Path, counting: CountingEmbedder) -> None:
    parts = make_parts(make_settings(tmp_path / "store", sentence_vectors=True), counting)
    parts.indexer.ingest(SEEDS, progress=False)
    chunks = parts.store.all_chunks()
    stored = parts.store.sentence_vectors([chunk.id for chunk in chunks])
    assert set(stored) == {chunk.id for chunk in chunks}
    chunk = chunks[0]
    sentences = [chunk.text[start:end] for start, end in split_sentences(chunk.text)]
    assert stored[chunk.id].shape == (len(sentences), 384)
    np.testing.assert_allclose(stored[chunk.id], counting.embed(sentences), atol=2e-3)  # float16 in the store


def test_answers_are_the_same_and_need_no_sentence_encoding(
    tmp_path: Path, counting: CountingEmbedder, embedder: SentenceTransformerEmbedder
) -> None:
    plain = make_parts(make_settings(tmp_path / "plain"), embedder)
    plain.indexer.ingest(SEEDS, progress=False)
    fast = make_parts(make_settings(tmp_path / "fast", sentence_vectors=True), counting)
    fast.indexer.ingest(SEEDS, progress=False)
    for question in (SEED_QUESTION, UNANSWERABLE, "Who corrected Altman?"):
        counting.encoded.clear()
        expected, got = plain.pipeline.ask(question), fast.pipeline.ask(question)
        assert counting.encoded == [question]  # the question only: every sentence came from the store
        assert (got.answer, got.refused) == (expected.answer, expected.refused)
        assert [(c.chunk_id, c.start, c.end) for c in got.citations] == [
            (c.chunk_id, c.start, c.end) for c in expected.citations
        ]


def test_removed_chunks_lose_their_sentence_vectors(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("Zebras have black and white stripes. Each zebra has its own pattern of stripes.")
    parts = make_parts(make_settings(tmp_path / "store", sentence_vectors=True), embedder)
    parts.indexer.ingest(folder, progress=False)
    ids = [chunk.id for chunk in parts.store.all_chunks()]
    assert len(parts.store.sentence_vectors(ids)) == len(ids) == 1
    (folder / "a.txt").unlink()
    parts.indexer.ingest(folder, progress=False)
    assert parts.store.sentence_vectors(ids) == {}


def test_a_store_without_them_still_answers(tmp_path: Path, seeded_settings, embedder) -> None:  # noqa: ANN001
    parts = make_parts(seeded_settings.model_copy(update={"sentence_vectors": True}), embedder)
    result = parts.pipeline.ask(SEED_QUESTION)
    assert not result.refused and result.citations


def test_passage_vectors_come_from_the_store_even_without_sentence_vectors(
    tmp_path: Path, counting: CountingEmbedder
) -> None:
    parts = make_parts(make_settings(tmp_path / "store"), counting)
    parts.indexer.ingest(SEEDS, progress=False)
    counting.encoded.clear()
    result = parts.pipeline.ask(SEED_QUESTION)
    passages = {passage.chunk.text for passage in result.passages}
    assert counting.encoded and not passages & set(counting.encoded)  # sentences yes, whole passages no
