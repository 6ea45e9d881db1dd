"""The Chroma store: the only module that imports chromadb.

Two collections per store: ``<name>`` holds the chunks with our own embeddings (cosine space), and
``<name>_documents`` holds one record per document (its full text, title, source, root and content hash) so a
client can fetch the text to highlight a cited span, and ingestion can tell changed documents from unchanged
ones. Chroma's default embedding function is never used: every write and query passes vectors.

The embedded ``PersistentClient`` is used unless ``chroma_url`` names a Chroma server. Every chromadb failure
becomes :class:`StoreUnavailable`.

Each write bumps a ``revision`` in the chunks collection's metadata when it changes chunks, so that in-memory
indexes built from the store (the BM25 index) can tell cheaply that they are stale, in this process or any other
sharing the store; every write also bumps a ``generation`` there.

**Several processes on one embedded store** (``citeqa serve`` while ``citeqa ingest`` adds documents, or two
``citeqa serve``): chromadb's embedded client reads metadata from SQLite on every call, but keeps each
collection's vector index (HNSW) in memory, loaded once per process and only updated by that process's own
writes. After another process writes, a reader's vectors are stale (the new chunks' metadata is found, their
vectors are not: ``Error finding id``), and a stale process that writes would even save its outdated index over
the newer one on disk. So here:

- each :class:`ChromaStore` has a chromadb ``System`` of its own (chromadb shares one per folder and process,
  which a new client would reuse), which it replaces, **reopening** the store, when the ``generation`` it reads
  is not one it has seen: readers check it with :meth:`ChromaStore.revision` (once per question), writers before
  each write;
- writes take an exclusive lock on ``<chroma folder>/citeqa-write.lock`` (``flock``), so one process writes at a
  time, and only once its view is current;
- a read that fails anyway (a write landed between the check and the read) is retried once on a reopened store.

A Chroma server (``chroma_url``) has one view of the data, so none of this applies to it.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import functools
import logging
import os
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import numpy as np

from ingest.embedding import POOLING
from ingest.models import Chunk, Document
from service.errors import CiteqaError, NotFound, StoreUnavailable
from service.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")
PAGE = 1000
CHUNK_PAGE = 10_000  # all_chunks reads whole pages by offset, and each page's cost grows with its offset
LOCK_FILE = "citeqa-write.lock"
LOCK_TIMEOUT = 120.0  # seconds a write waits for another process's write
UNAVAILABLE = "The document store is unavailable; try again shortly."


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


@dataclass(eq=False)
class _Connection:
    """One open client and its collections. ``known``: the generations whose writes its vector indexes hold (the
    one read when it was opened, and each of its own writes)."""

    client: Any
    system: Any  # the chromadb System of an embedded client, stopped when the connection is retired; None for HTTP
    chunks: Any
    docs: Any
    known: set[str] = field(default_factory=set)
    sentences: Any = None
    batch_size: int | None = None
    users: int = 0  # store calls using it now
    retired: bool = False


def _guarded(*, write: bool = False) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Run a store method on a connection, turning chromadb failures into :class:`StoreUnavailable`.

    The outermost store call of a thread holds one connection for its duration (nested calls share it); a write
    also holds the write lock and first makes the connection current. A failed read of an embedded store is
    retried once on a reopened connection."""

    def decorate(method: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(method)
        def wrapper(self: ChromaStore, *args: Any, **kwargs: Any) -> T:
            if getattr(self._local, "conn", None) is not None:
                return method(self, *args, **kwargs)  # nested: the outer call guards it
            attempts = 2 if self.embedded and not write else 1
            for attempt in range(1, attempts + 1):
                try:
                    with self._session(write):
                        return method(self, *args, **kwargs)
                except CiteqaError:
                    raise
                except Exception as exc:
                    if attempt < attempts:
                        self.reopened += 1
                        log.info("store call %s failed (%s: %s); retrying on a reopened store", method.__name__,
                                 type(exc).__name__, exc)
                        continue
                    log.warning("store call %s failed: %s: %s", method.__name__, type(exc).__name__, exc)
                    raise StoreUnavailable(UNAVAILABLE) from exc
            raise AssertionError("unreachable")

        return wrapper

    return decorate


_SYSTEMS_LOCK = threading.Lock()


def _private_persistent_client(path: Path, settings: Any) -> tuple[Any, Any]:
    """An embedded client with a chromadb ``System`` of its own, and that System.

    chromadb keeps one System per folder and process and hands it to every new client for that folder, vector
    indexes included, so a new client would see no more than the old one. This one is taken out of that cache
    (and whatever it held for the folder put back), so that it can be replaced, and stopped, on its own."""
    import chromadb
    from chromadb.api.shared_system_client import SharedSystemClient as shared

    key = str(path)
    with _SYSTEMS_LOCK:
        previous = shared._identifier_to_system.pop(key, None), shared._identifier_to_refcount.pop(key, None)
        try:
            client = chromadb.PersistentClient(path=key, settings=settings)
            key = str(getattr(client, "_identifier", key))  # the folder, as chromadb spells it
            system = shared._identifier_to_system.pop(key)
            shared._identifier_to_refcount.pop(key, None)
        finally:
            if previous[0] is not None:
                shared._identifier_to_system[key] = previous[0]
            if previous[1] is not None:
                shared._identifier_to_refcount[key] = previous[1]
    return client, system


class ChromaStore:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.name = settings.collection
        self.reopened = 0  # how many times an embedded connection was replaced (stale, or a read failed)
        self._conn: _Connection | None = None
        self._lock = threading.Lock()
        self._local = threading.local()

    # --- connection ----------------------------------------------------------------------------------------
    @property
    def embedded(self) -> bool:
        return not self.settings.chroma_url

    def _make_client(self) -> tuple[Any, Any]:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        if self.settings.chroma_url:
            url = urlparse(self.settings.chroma_url)
            client = chromadb.HttpClient(
                host=url.hostname or "127.0.0.1",
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
            return client, None
        self.settings.chroma_path.mkdir(parents=True, exist_ok=True)
        return _private_persistent_client(self.settings.chroma_path, chroma_settings)

    def _open(self) -> _Connection:
        client, system = self._make_client()
        try:
            chunks = client.get_or_create_collection(
                self.name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
            )
            docs = client.get_or_create_collection(f"{self.name}_documents", embedding_function=None)
        except Exception:
            _stop(system)
            raise
        return _Connection(client, system, chunks, docs, known={_generation(chunks.metadata)})

    def _checkout(self) -> _Connection:
        with self._lock:
            if self._conn is None:
                self._conn = self._open()
            self._conn.users += 1
            return self._conn

    def _checkin(self, conn: _Connection) -> None:
        with self._lock:
            conn.users -= 1
            stop = conn.retired and conn.users == 0
        if stop:
            _stop(conn.system)

    def _retire(self, conn: _Connection) -> None:
        """Stop handing ``conn`` out; it is stopped once no call uses it."""
        with self._lock:
            if self._conn is conn:
                self._conn = None
            if conn.retired:
                return
            conn.retired = True
            stop = conn.users == 0
        if stop:
            _stop(conn.system)

    def _current(self) -> _Connection:
        """The connection of this thread's store call, else the store's current one."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        conn = self._checkout()
        self._checkin(conn)
        return conn

    @contextlib.contextmanager
    def _session(self, write: bool) -> Iterator[None]:
        with self._write_lock() if write and self.embedded else contextlib.nullcontext():
            self._local.conn = self._checkout()
            try:
                if write and self.embedded:
                    self._sync(self._local.conn.client.get_collection(self.name, embedding_function=None).metadata)
                yield
            except CiteqaError:
                raise
            except Exception:
                self._retire(self._local.conn)  # whatever broke, the next call opens the store afresh
                raise
            finally:
                conn, self._local.conn = self._local.conn, None
                self._checkin(conn)

    def _sync(self, metadata: dict | None) -> None:
        """Reopen the store (for this call and the next ones) when ``metadata``, just read, shows a write that this
        call's connection has not seen: its vector indexes would not hold what that write added."""
        conn = self._local.conn
        generation = _generation(metadata)
        if not self.embedded or generation in conn.known:
            return
        log.info("the store at %s was written by another process; reopening it", self.location)
        self._retire(conn)
        self._local.conn = self._checkout()
        self._checkin(conn)
        self.reopened += 1

    @contextlib.contextmanager
    def _write_lock(self) -> Iterator[None]:
        """Exclusive, across processes (and threads), for the duration of one write call."""
        path = self.settings.chroma_path
        path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = time.monotonic() + LOCK_TIMEOUT
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        log.warning("waited %.0f s for %s; giving up this write", LOCK_TIMEOUT, path / LOCK_FILE)
                        raise StoreUnavailable(f"Another process has been writing to the store for over "
                                               f"{LOCK_TIMEOUT:.0f} s; try again later.") from None
                    time.sleep(0.02)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _collections(self) -> tuple[Any, Any]:
        conn = self._current()
        return conn.chunks, conn.docs

    def _sentences(self) -> Any:
        conn = self._current()
        with self._lock:
            if conn.sentences is None:
                conn.sentences = conn.client.get_or_create_collection(
                    f"{self.name}_sentences", embedding_function=None
                )
            return conn.sentences

    @property
    def location(self) -> str:
        return self.settings.chroma_url or str(self.settings.chroma_path)

    @_guarded()
    def heartbeat(self) -> int:
        return int(self._current().client.heartbeat())

    @_guarded()
    def max_batch_size(self) -> int:
        conn = self._current()
        if conn.batch_size is None:
            conn.batch_size = int(conn.client.get_max_batch_size())
        return conn.batch_size

    @_guarded()
    def revision(self) -> str:
        """Changes whenever chunks are written or deleted, by any process using this store. Reading it also makes
        this store current (reopened if another process wrote to it since), so call it before a query."""
        fresh = self._current().client.get_collection(self.name, embedding_function=None)
        meta = fresh.metadata or {}
        self._sync(meta)
        # every write through this class bumps it; one store call, since it runs on every query
        return str(meta.get("revision", "0"))

    @_guarded()
    def check(self) -> dict[str, Any]:
        """What /healthz reports, from real reads: the revision (making the store current), the chunk count, and
        one chunk read back with its vector (as a question reads them). Raises :class:`StoreUnavailable`."""
        revision = self.revision()
        chunks, _ = self._collections()
        count = int(chunks.count())
        page = chunks.get(limit=1, include=["embeddings"])
        if count and len(page["ids"]) != 1:
            raise RuntimeError(f"the store counts {count} chunks but reads none")
        return {"chunks": count, "revision": revision}

    def _bump(self, chunks_changed: bool) -> None:
        """Mark a write: a new ``generation`` (and with ``chunks_changed`` a new ``revision``) in the chunks
        collection's metadata, re-read first so that another process's values are not written back."""
        conn = self._current()
        fresh = conn.client.get_collection(self.name, embedding_function=None)  # a server's too: its cached
        # collection object keeps the metadata it was opened with, and would write an old revision back
        meta = dict(fresh.metadata or {})
        meta.pop("hnsw:space", None)
        meta["generation"] = uuid.uuid4().hex
        if chunks_changed:
            meta["revision"] = uuid.uuid4().hex
        conn.known.add(meta["generation"])
        conn.chunks.modify(metadata=meta)

    # --- chunks --------------------------------------------------------------------------------------------
    def _batches(self, size: int) -> Iterable[slice]:
        step = max(1, min(size, self.max_batch_size()))
        return (slice(i, i + step) for i in range(0, size, step))

    @_guarded(write=True)
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
        self._bump(chunks_changed=True)

    @_guarded()
    def chunk_ids(self, doc_id: str) -> list[str]:
        collection, _ = self._collections()
        return list(collection.get(where=_where_doc_ids([doc_id]), include=[])["ids"])

    @_guarded()
    def chunk_ids_of(self, doc_ids: Sequence[str]) -> dict[str, list[str]]:
        """The stored chunk ids of each of ``doc_ids``, in one store call (documents with none are left out)."""
        if not doc_ids:
            return {}
        collection, _ = self._collections()
        page = collection.get(where=_where_doc_ids(doc_ids), include=["metadatas"])
        out: dict[str, list[str]] = {}
        for cid, meta in zip(page["ids"], page["metadatas"], strict=True):
            out.setdefault(str(meta["doc_id"]), []).append(cid)
        return out

    @_guarded(write=True)
    def delete_chunks(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        collection, _ = self._collections()
        sentences = self._sentences()
        for part in self._batches(len(ids)):
            collection.delete(ids=list(ids[part]))
            sentences.delete(ids=list(ids[part]))
        self._bump(chunks_changed=True)

    # --- sentence vectors (settings.sentence_vectors) ------------------------------------------------------
    @_guarded(write=True)
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
        self._bump(chunks_changed=False)

    @_guarded()
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

    @_guarded()
    def count_chunks(self) -> int:
        collection, _ = self._collections()
        return int(collection.count())

    def all_chunks(self) -> list[Chunk]:
        """Every chunk, paged, in a stable order."""
        out: list[Chunk] = []
        while len(page := self.chunk_page(len(out), CHUNK_PAGE)) == CHUNK_PAGE:
            out += page
        return out + page

    @_guarded()
    def chunk_page(self, offset: int, limit: int) -> list[Chunk]:
        """Chunks ``offset`` to ``offset + limit`` in a stable order (for in-memory indexes such as BM25)."""
        collection, _ = self._collections()
        page = collection.get(include=["documents", "metadatas"], limit=limit, offset=offset)
        return [Chunk.from_record(cid, text, meta)
                for cid, text, meta in zip(page["ids"], page["documents"], page["metadatas"], strict=True)]

    @_guarded()
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

    @_guarded()
    def query(
        self, embedding: np.ndarray, n: int, doc_ids: Sequence[str] | None = None
    ) -> list[ScoredChunk]:
        collection, _ = self._collections()
        result = collection.query(
            query_embeddings=[np.asarray(embedding, dtype=np.float32)],
            n_results=n,
            where=_where_doc_ids(doc_ids),
            include=["documents", "metadatas", "distances"],
        )
        hits = zip(result["ids"][0], result["documents"][0], result["metadatas"][0], result["distances"][0],
                   strict=True)
        return [ScoredChunk(Chunk.from_record(cid, text, meta), 1.0 - float(dist)) for cid, text, meta, dist in hits]

    @_guarded()
    def query_ids(
        self, embedding: np.ndarray, n: int, doc_ids: Sequence[str] | None = None
    ) -> list[tuple[str, float]]:
        """:meth:`query` without the chunks' texts and metadata: (id, cosine similarity), best first."""
        collection, _ = self._collections()
        result = collection.query(query_embeddings=[np.asarray(embedding, dtype=np.float32)], n_results=n,
                                  where=_where_doc_ids(doc_ids), include=["distances"])
        return [(cid, 1.0 - float(dist)) for cid, dist in zip(result["ids"][0], result["distances"][0], strict=True)]

    # --- documents -----------------------------------------------------------------------------------------
    def put_document(self, document: Document, n_chunks: int) -> None:
        """Written last when a document is (re)indexed: its hash marks the chunks as complete."""
        self.put_documents([(document, n_chunks)])

    @_guarded(write=True)
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
        self._bump(chunks_changed=False)

    @_guarded()
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

    @_guarded()
    def missing_documents(self, doc_ids: Sequence[str]) -> list[str]:
        """Those of ``doc_ids`` that name no stored document, in their order (one store call)."""
        if not doc_ids:
            return []
        _, docs = self._collections()
        found = set(docs.get(ids=list(dict.fromkeys(doc_ids)), include=[])["ids"])
        return [doc_id for doc_id in dict.fromkeys(doc_ids) if doc_id not in found]

    @_guarded()
    def get_document(self, doc_id: str) -> tuple[DocumentRecord, str]:
        _, docs = self._collections()
        page = docs.get(ids=[doc_id], include=["metadatas", "documents"])
        if not page["ids"]:
            raise NotFound(f"No document with id {doc_id!r}.", field="id", code="document_not_found")
        return _record(doc_id, page["metadatas"][0]), page["documents"][0]

    @_guarded(write=True)
    def delete_document(self, doc_id: str) -> int:
        """Delete a document's chunks, then its record. Returns how many chunks went."""
        ids = self.chunk_ids(doc_id)
        self.delete_chunks(ids)
        _, docs = self._collections()
        docs.delete(ids=[doc_id])
        self._bump(chunks_changed=False)
        return len(ids)


def _where_doc_ids(doc_ids: Sequence[str] | None) -> dict[str, Any] | None:
    """Chroma's ``where`` filter keeping the chunks of ``doc_ids``; None (no filter) when there are none."""
    if not doc_ids:
        return None
    return {"doc_id": doc_ids[0]} if len(doc_ids) == 1 else {"doc_id": {"$in": list(doc_ids)}}


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


def _generation(metadata: dict | None) -> str:
    return str((metadata or {}).get("generation", ""))


def _stop(system: Any) -> None:
    """Stop a retired connection's chromadb System (its vector indexes and SQLite connections go with it)."""
    if system is None:
        return
    try:
        system.stop()
    except Exception as exc:  # a connection being dropped; nothing to do about it
        log.debug("stopping a chromadb system failed: %s: %s", type(exc).__name__, exc)
