"""The store against both backends: the embedded PersistentClient and a real Chroma server (``chroma run``).

Store-level tests use random unit vectors (the store never embeds); the indexing and retrieval tests use the real
model. Two :class:`ChromaStore` objects on one server have separate clients, as two processes would.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from ingest.models import Chunk, Document
from service import store as store_module
from service.answer.retrieval import BM25Index
from service.errors import NotFound, StoreUnavailable
from service.settings import Settings
from service.store import ChromaStore
from tests.conftest import SEED_QUESTION, SEEDS, make_parts, make_settings
from tests.servers import ChromaServer, free_port

pytestmark = pytest.mark.slow  # real processes, servers or the model


@pytest.fixture(params=["embedded", "server"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "embedded":
        return make_settings(tmp_path / "store")
    return request.getfixturevalue("server_settings")


def vectors(n: int, seed: int = 0) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(n, 8)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def document(doc_id: str, sentences: list[str], root: str = "root") -> tuple[Document, list[Chunk]]:
    text = " ".join(sentences)
    doc = Document(id=doc_id, title=doc_id.title(), source=f"{doc_id}.txt", text=text, root=root)
    chunks, start = [], 0
    for index, sentence in enumerate(sentences):
        start = text.index(sentence, start)
        chunks.append(Chunk(id=f"{doc_id}:{index}", doc_id=doc_id, index=index, start=start,
                            end=start + len(sentence), text=sentence, title=doc.title, source=doc.source))
    return doc, chunks


def put(store: ChromaStore, doc: Document, chunks: list[Chunk], seed: int = 0) -> np.ndarray:
    embeddings = vectors(len(chunks), seed)
    store.upsert_chunks(chunks, embeddings)
    store.put_document(doc, len(chunks))
    return embeddings


def test_chunks_and_documents_round_trip(backend: Settings) -> None:
    store = ChromaStore(backend)
    assert store.heartbeat() > 0 and store.count_chunks() == 0
    doc, chunks = document("alpha", ["Alpha one.", "Alpha two.", "Alpha three."])
    embeddings = put(store, doc, chunks)
    assert store.count_chunks() == 3
    assert sorted(c.id for c in store.all_chunks()) == [c.id for c in chunks]
    hit = store.query(embeddings[1], 1)[0]
    assert hit.chunk == chunks[1] and hit.score == pytest.approx(1.0, abs=1e-4)
    record, text = store.get_document("alpha")
    assert text == doc.text and record.chunks == 3 and record.hash == doc.hash and record.root == "root"
    assert text[hit.chunk.start : hit.chunk.end] == hit.chunk.text
    with pytest.raises(NotFound):
        store.get_document("nope")


def test_filters_roots_and_delete(backend: Settings) -> None:
    store = ChromaStore(backend)
    a, a_chunks = document("alpha", ["Alpha one.", "Alpha two."], root="r1")
    b, b_chunks = document("beta", ["Beta one.", "Beta two."], root="r2")
    put(store, a, a_chunks, seed=1)
    b_vectors = put(store, b, b_chunks, seed=2)
    assert {h.chunk.doc_id for h in store.query(b_vectors[0], 4, doc_ids=["alpha"])} == {"alpha"}
    assert {h.chunk.doc_id for h in store.query(b_vectors[0], 4, doc_ids=["alpha", "beta"])} == {"alpha", "beta"}
    assert [r.id for r in store.documents(root="r2")] == ["beta"]
    assert store.delete_document("alpha") == 2
    assert [r.id for r in store.documents()] == ["beta"] and store.count_chunks() == 2
    assert store.chunk_ids("alpha") == []


def test_reads_page_through_everything(backend: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "PAGE", 3)
    store = ChromaStore(backend)
    for i in range(4):
        doc, chunks = document(f"doc{i}", [f"Doc {i} sentence {j}." for j in range(2)])
        put(store, doc, chunks, seed=i)
    assert len(store.all_chunks()) == 8 and len(store.documents()) == 4


def test_every_write_changes_the_revision_seen_by_another_client(backend: Settings) -> None:
    writer, reader = ChromaStore(backend), ChromaStore(backend)  # two clients, as two replicas have
    doc, chunks = document("alpha", ["Alpha one.", "Alpha two."])
    seen = reader.revision()
    assert reader.revision() == seen  # reads do not change it
    put(writer, doc, chunks)
    after_upsert = reader.revision()
    assert after_upsert != seen
    writer.upsert_chunks(chunks, vectors(2, seed=9))  # same ids, same count: only the revision tells
    after_rewrite = reader.revision()
    assert after_rewrite != after_upsert
    writer.delete_chunks([chunks[0].id])
    assert reader.revision() not in (seen, after_upsert, after_rewrite)


def test_bm25_index_follows_writes_made_through_another_client(backend: Settings) -> None:
    writer, reader = ChromaStore(backend), ChromaStore(backend)
    index = BM25Index(reader)
    assert index.search("zebra stripes", 5) == []
    doc, chunks = document("zebra", ["Zebras have stripes.", "They live in herds."])
    put(writer, doc, chunks)
    assert {c.doc_id for c, _ in index.search("zebra stripes", 5)} == {"zebra"}
    writer.delete_document("zebra")
    assert index.search("zebra stripes", 5) == []


def test_ingest_and_answer_against_the_server(server_settings: Settings, embedder, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(SEEDS, docs)
    parts = make_parts(server_settings, embedder)
    assert parts.store.location == server_settings.chroma_url
    first = parts.indexer.ingest(docs, progress=False)
    assert len(first.added) == 1 and first.chunks_embedded > 0
    again = parts.indexer.ingest(docs, progress=False)
    assert again.chunks_embedded == 0 and again.unchanged == first.added
    result = parts.pipeline.ask(SEED_QUESTION)
    assert not result.refused and any("unclassified" in c.quote for c in result.citations)
    other = make_parts(server_settings, embedder)  # a second "replica": its own client and BM25 index
    assert other.pipeline.ask(SEED_QUESTION).answer == result.answer


def test_no_server_is_store_unavailable(tmp_path: Path) -> None:
    store = ChromaStore(make_settings(tmp_path, chroma_url=f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(StoreUnavailable):
        store.heartbeat()
    with pytest.raises(StoreUnavailable):
        store.count_chunks()


def test_the_store_recovers_when_the_server_comes_back(tmp_path: Path) -> None:
    with ChromaServer(tmp_path / "chroma") as server:
        store = ChromaStore(make_settings(tmp_path, chroma_url=server.url))
        doc, chunks = document("alpha", ["Alpha one.", "Alpha two."])
        put(store, doc, chunks)
        server.stop()
        with pytest.raises(StoreUnavailable):
            store.count_chunks()
        server.start()
        assert store.count_chunks() == 2  # the same store object reconnects; the data survived
