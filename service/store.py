"""The Chroma store: the only module that imports chromadb.

Two collections per store: ``<name>`` holds the chunks with our own embeddings (cosine space), and
``<name>_documents`` holds one record per document (its full text, title, source, root and content hash) so a
client can fetch the text to highlight a cited span, and ingestion can tell changed documents from unchanged
ones. Chroma's default embedding function is never used: every write and query passes vectors.

The embedded ``PersistentClient`` is used unless ``chroma_url`` names a Chroma server. Every chromadb failure
becomes :class:`StoreUnavailable`.

Each write bumps a ``revision`` in the chunks collection's metadata, so that in-memory indexes built from the
store (the BM25 index) can tell cheaply that they are stale, in this process or any other sharing the store.
"""

from __future__ import annotations

import base64
import functools
import logging
import threading
import uuid
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlparse

import numpy as np

from ingest.embedding import POOLING
from ingest.models import Chunk, Document
from service.errors import NotFound, StoreUnavailable
from service.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")
PAGE = 1000
CHUNK_PAGE = 10_000  # all_chunks reads whole pages by offset, and each page's cost grows with its offset


@dataclass(frozen=True)
class DocumentRecord:
    id: str
    title: str
    source: str
    root: str
    hash: str
    chunks: int
    recipe: str = ""  # how its chunks were embedded (Indexer.recipe); "" for records written before recipes


@dataclass(frozen=True)
class ScoredChunk:
    chunk: Chunk
    score: float  # cosine similarity for dense hits


def _guarded(method: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(method)
    def wrapper(self: ChromaStore, *args: Any, **kwargs: Any) -> T:
        try:
            return method(self, *args, **kwargs)
        except (NotFound, StoreUnavailable):
            raise
        except Exception as exc:
            log.warning("store call %s failed: %s: %s", method.__name__, type(exc).__name__, exc)
            self._reset()
            raise StoreUnavailable("The document store is unavailable; try again shortly.") from exc

    return wrapper


class ChromaStore:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.name = settings.collection
        self._client: Any = None
        self._chunks: Any = None
        self._docs: Any = None
        self._sentence_collection: Any = None
        self._lock = threading.Lock()

    # --- connection ----------------------------------------------------------------------------------------
    def _make_client(self) -> Any:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        if self.settings.chroma_url:
            url = urlparse(self.settings.chroma_url)
            return chromadb.HttpClient(
                host=url.hostname or "127.0.0.1",
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
        self.settings.chroma_path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(self.settings.chroma_path), settings=chroma_settings)

    def _reset(self) -> None:
        with self._lock:
            if self.settings.chroma_url:
                self._client = None
            self._chunks = self._docs = self._sentence_collection = None

    def _collections(self) -> tuple[Any, Any]:
        with self._lock:
            if self._client is None:
                self._client = self._make_client()
            if self._chunks is None:
                self._chunks = self._client.get_or_create_collection(
                    self.name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
                )
                self._docs = self._client.get_or_create_collection(
                    f"{self.name}_documents", embedding_function=None
                )
            return self._chunks, self._docs

    def _sentences(self) -> Any:
        self._collections()
        with self._lock:
            if self._sentence_collection is None:
                self._sentence_collection = self._client.get_or_create_collection(
                    f"{self.name}_sentences", embedding_function=None
                )
            return self._sentence_collection

    @property
    def location(self) -> str:
        return self.settings.chroma_url or str(self.settings.chroma_path)

    @_guarded
    def heartbeat(self) -> int:
        self._collections()
        return int(self._client.heartbeat())

    @_guarded
    def max_batch_size(self) -> int:
        self._collections()
        return int(self._client.get_max_batch_size())

    @_guarded
    def revision(self) -> str:
        """Changes whenever chunks are written or deleted, by any process using this store."""
        self._collections()
        fresh = self._client.get_collection(self.name, embedding_function=None)
        meta = fresh.metadata or {}
        # every write through this class bumps it; one store call, since it runs on every query
        return str(meta.get("revision", "0"))

    def _bump_revision(self, chunks: Any) -> None:
        meta = dict(chunks.metadata or {})
        meta["revision"] = uuid.uuid4().hex
        meta.pop("hnsw:space", None)
        chunks.modify(metadata=meta)

    # --- chunks --------------------------------------------------------------------------------------------
    def _batches(self, size: int) -> Iterable[slice]:
        step = max(1, min(size, self.max_batch_size()))
        return (slice(i, i + step) for i in range(0, size, step))

    @_guarded
    def upsert_chunks(self, chunks: Sequence[Chunk], embeddings: np.ndarray) -> None:
        if not chunks:
            return
        collection, _ = self._collections()
        for part in self._batches(len(chunks)):
            batch = chunks[part]
            collection.upsert(
                ids=[c.id for c in batch],
                documents=[c.text for c in batch],
                metadatas=[c.metadata() for c in batch],
                embeddings=embeddings[part],
            )
        self._bump_revision(collection)

    @_guarded
    def chunk_ids(self, doc_id: str) -> list[str]:
        collection, _ = self._collections()
        return list(collection.get(where={"doc_id": doc_id}, include=[])["ids"])

    @_guarded
    def chunk_ids_of(self, doc_ids: Sequence[str]) -> dict[str, list[str]]:
        """The stored chunk ids of each of ``doc_ids``, in one store call (documents with none are left out)."""
        if not doc_ids:
            return {}
        collection, _ = self._collections()
        where = {"doc_id": doc_ids[0]} if len(doc_ids) == 1 else {"doc_id": {"$in": list(doc_ids)}}
        page = collection.get(where=where, include=["metadatas"])
        out: dict[str, list[str]] = {}
        for cid, meta in zip(page["ids"], page["metadatas"], strict=True):
            out.setdefault(str(meta["doc_id"]), []).append(cid)
        return out

    @_guarded
    def delete_chunks(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        collection, _ = self._collections()
        sentences = self._sentences()
        for part in self._batches(len(ids)):
            collection.delete(ids=list(ids[part]))
            sentences.delete(ids=list(ids[part]))
        self._bump_revision(collection)

    # --- sentence vectors (settings.sentence_vectors) ------------------------------------------------------
    @_guarded
    def put_sentence_vectors(self, chunk_ids: Sequence[str], vectors: Sequence[np.ndarray]) -> None:
        """Keep, per chunk, the vectors of its sentences (float16, in the ``<name>_sentences`` collection, whose
        own 1-d embedding is only a placeholder: it is read by id, never searched), marked with how they were
        made (:data:`ingest.embedding.POOLING`)."""
        if not chunk_ids:
            return
        collection = self._sentences()
        for part in self._batches(len(chunk_ids)):
            ids = list(chunk_ids[part])
            collection.upsert(
                ids=ids,
                embeddings=[[zlib.crc32(cid.encode()) / 2**32] for cid in ids],
                metadatas=[{"n": len(v), "f16": base64.b64encode(np.asarray(v, np.float16).tobytes()).decode(),
                            "pooling": POOLING} for v in vectors[part]],
            )

    @_guarded
    def chunk_vectors(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vectors of ``chunk_ids`` (those that exist), as ingest embedded them."""
        if not chunk_ids:
            return {}
        collection, _ = self._collections()
        page = collection.get(ids=list(chunk_ids), include=["embeddings"])
        return {cid: np.asarray(vector, dtype=np.float32)
                for cid, vector in zip(page["ids"], page["embeddings"], strict=True)}

    @_guarded
    def sentence_vectors(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored sentence vectors of those of ``chunk_ids`` that have them, made the current way
        (float32, one row a sentence). Vectors made another way (e.g. each sentence embedded on its own, before
        :data:`~ingest.embedding.POOLING`) are left out: the answerer computes those passages' sentences."""
        if not chunk_ids:
            return {}
        page = self._sentences().get(ids=list(chunk_ids), include=["metadatas"])
        out: dict[str, np.ndarray] = {}
        for cid, meta in zip(page["ids"], page["metadatas"], strict=True):
            if meta.get("pooling") != POOLING:
                continue
            raw = np.frombuffer(base64.b64decode(str(meta["f16"])), dtype=np.float16)
            out[cid] = raw.reshape(int(meta["n"]), -1).astype(np.float32) if meta["n"] else raw.astype(np.float32)
        return out

    @_guarded
    def count_chunks(self) -> int:
        collection, _ = self._collections()
        return int(collection.count())

    def all_chunks(self) -> list[Chunk]:
        """Every chunk, paged, in a stable order."""
        out: list[Chunk] = []
        while len(page := self.chunk_page(len(out), CHUNK_PAGE)) == CHUNK_PAGE:
            out += page
        return out + page

    @_guarded
    def chunk_page(self, offset: int, limit: int) -> list[Chunk]:
        """Chunks ``offset`` to ``offset + limit`` in a stable order (for in-memory indexes such as BM25)."""
        collection, _ = self._collections()
        page = collection.get(include=["documents", "metadatas"], limit=limit, offset=offset)
        return [Chunk.from_record(cid, text, meta)
                for cid, text, meta in zip(page["ids"], page["documents"], page["metadatas"], strict=True)]

    @_guarded
    def chunks_by_id(self, chunk_ids: Sequence[str], vectors: bool = False
                     ) -> tuple[dict[str, Chunk], dict[str, np.ndarray]]:
        """The chunks of ``chunk_ids`` that exist, and with ``vectors`` their stored vectors, in one store call."""
        if not chunk_ids:
            return {}, {}
        collection, _ = self._collections()
        include = ["documents", "metadatas", "embeddings"] if vectors else ["documents", "metadatas"]
        page = collection.get(ids=list(chunk_ids), include=include)
        chunks = {cid: Chunk.from_record(cid, text, meta)
                  for cid, text, meta in zip(page["ids"], page["documents"], page["metadatas"], strict=True)}
        if not vectors:
            return chunks, {}
        return chunks, {cid: np.asarray(vector, dtype=np.float32)
                        for cid, vector in zip(page["ids"], page["embeddings"], strict=True)}

    @_guarded
    def query(
        self, embedding: np.ndarray, n: int, doc_ids: Sequence[str] | None = None
    ) -> list[ScoredChunk]:
        collection, _ = self._collections()
        where = None
        if doc_ids:
            where = {"doc_id": doc_ids[0]} if len(doc_ids) == 1 else {"doc_id": {"$in": list(doc_ids)}}
        result = collection.query(
            query_embeddings=[np.asarray(embedding, dtype=np.float32)],
            n_results=n,
            where=where,
            include=["documents", "metadatas", "distances"],
        )
        hits = zip(result["ids"][0], result["documents"][0], result["metadatas"][0], result["distances"][0],
                   strict=True)
        return [ScoredChunk(Chunk.from_record(cid, text, meta), 1.0 - float(dist)) for cid, text, meta, dist in hits]

    @_guarded
    def query_ids(
        self, embedding: np.ndarray, n: int, doc_ids: Sequence[str] | None = None
    ) -> list[tuple[str, float]]:
        """:meth:`query` without the chunks' texts and metadata: (id, cosine similarity), best first."""
        collection, _ = self._collections()
        where = None
        if doc_ids:
            where = {"doc_id": doc_ids[0]} if len(doc_ids) == 1 else {"doc_id": {"$in": list(doc_ids)}}
        result = collection.query(query_embeddings=[np.asarray(embedding, dtype=np.float32)], n_results=n,
                                  where=where, include=["distances"])
        return [(cid, 1.0 - float(dist)) for cid, dist in zip(result["ids"][0], result["distances"][0], strict=True)]

    # --- documents -----------------------------------------------------------------------------------------
    def put_document(self, document: Document, n_chunks: int) -> None:
        """Written last when a document is (re)indexed: its hash marks the chunks as complete."""
        self.put_documents([(document, n_chunks)])

    @_guarded
    def put_documents(self, items: Sequence[tuple[Document, int]], recipe: str = "") -> None:
        """:meth:`put_document` for many documents, in as few store calls as the batch size allows; ``recipe``
        says how their chunks were embedded."""
        if not items:
            return
        _, docs = self._collections()
        for part in self._batches(len(items)):
            batch = items[part]
            docs.upsert(
                ids=[document.id for document, _ in batch],
                documents=[document.text for document, _ in batch],
                embeddings=[[1.0]] * len(batch),
                metadatas=[{
                    "title": document.title,
                    "source": document.source,
                    "root": document.root,
                    "hash": document.hash,
                    "chunks": n_chunks,
                    "recipe": recipe,
                } for document, n_chunks in batch],
            )

    @_guarded
    def documents(self, root: str | None = None) -> list[DocumentRecord]:
        _, docs = self._collections()
        out: list[DocumentRecord] = []
        offset = 0
        while True:
            page = docs.get(include=["metadatas"], where={"root": root} if root else None, limit=PAGE,
                            offset=offset)
            for doc_id, meta in zip(page["ids"], page["metadatas"], strict=True):
                out.append(_record(doc_id, meta))
            if len(page["ids"]) < PAGE:
                break
            offset += PAGE
        return sorted(out, key=lambda record: (record.source, record.id))

    @_guarded
    def get_document(self, doc_id: str) -> tuple[DocumentRecord, str]:
        _, docs = self._collections()
        page = docs.get(ids=[doc_id], include=["metadatas", "documents"])
        if not page["ids"]:
            raise NotFound(f"No document with id {doc_id!r}.", field="id", code="document_not_found")
        return _record(doc_id, page["metadatas"][0]), page["documents"][0]

    @_guarded
    def delete_document(self, doc_id: str) -> int:
        """Delete a document's chunks, then its record. Returns how many chunks went."""
        ids = self.chunk_ids(doc_id)
        self.delete_chunks(ids)
        _, docs = self._collections()
        docs.delete(ids=[doc_id])
        return len(ids)


def _record(doc_id: str, meta: dict) -> DocumentRecord:
    return DocumentRecord(
        id=doc_id,
        title=str(meta.get("title", "")),
        source=str(meta.get("source", "")),
        root=str(meta.get("root", "")),
        hash=str(meta.get("hash", "")),
        chunks=int(meta.get("chunks", 0)),
        recipe=str(meta.get("recipe", "")),
    )
