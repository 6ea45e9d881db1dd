"""Indexing: bring the store in line with a folder (or a file, or a .jsonl corpus).

For each loaded document, its content hash is compared with the one stored with it:

- unchanged: nothing is embedded or written;
- new or changed: its chunks are embedded and upserted, chunks it no longer has are deleted, and only then is
  its document record (with the new hash) written. A run killed part-way therefore leaves at worst a document
  whose record still carries the old hash, and the next run redoes exactly that document;
- removed (in the store under the same root, no longer loaded): its chunks and record are deleted, unless the
  file failed to load this time, in which case its last good version is kept.

Chunks are embedded in groups of several documents, so the encoder sees full batches, and a group is written to
the store while the next one is embedded.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ingest.chunking import SPLITTER_VERSION, chunk_document, split_sentences
from ingest.embedding import POOLING, Embedder
from ingest.loaders import LOADER_VERSION, LoadProblem, load_path
from ingest.models import Chunk, Document


class StoredDocument(Protocol):
    """What the indexer reads of a document record in the store."""

    @property
    def id(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def hash(self) -> str: ...
    @property
    def recipe(self) -> str: ...


class Store(Protocol):
    """The writes and reads the indexer needs (``service.store.ChromaStore`` is the one implementation; ingest
    does not import the service)."""

    def documents(self, root: str | None = None) -> Sequence[StoredDocument]: ...
    def chunk_ids_of(self, doc_ids: Sequence[str]) -> dict[str, list[str]]: ...
    def put_sentence_vectors(self, chunk_ids: Sequence[str], vectors: Sequence[np.ndarray]) -> None: ...
    def upsert_chunks(self, chunks: Sequence[Chunk], embeddings: np.ndarray) -> None: ...
    def delete_chunks(self, ids: Sequence[str]) -> None: ...
    def put_documents(self, items: Sequence[tuple[Document, int]], recipe: str = "") -> None: ...
    def delete_document(self, doc_id: str) -> int: ...

log = logging.getLogger(__name__)

FLUSH_CHUNKS = 256


@dataclass
class IngestReport:
    root: str = ""
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    chunks_embedded: int = 0
    problems: list[LoadProblem] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"added {len(self.added)}, updated {len(self.updated)}, unchanged {len(self.unchanged)}, "
            f"removed {len(self.removed)} documents; embedded {self.chunks_embedded} chunks; "
            f"{len(self.problems)} skipped"
        )


class _Progress:
    def __init__(self, total: int, enabled: bool | None) -> None:
        self.bar = None
        if total and enabled is not False:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="chunk", desc="embedding", file=sys.stderr, disable=enabled is None
                            and not sys.stderr.isatty())

    def update(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _groups(pending: list[tuple[Document, list[Chunk]]]) -> Iterator[list[tuple[Document, list[Chunk]]]]:
    """Whole documents, in order, about FLUSH_CHUNKS chunks at a time."""
    group: list[tuple[Document, list[Chunk]]] = []
    for item in pending:
        group.append(item)
        if sum(len(chunks) for _, chunks in group) >= FLUSH_CHUNKS:
            yield group
            group = []
    if group:
        yield group


class Indexer:
    def __init__(self, store: Store, embedder: Embedder, max_tokens: int, sentence_vectors: bool = False) -> None:
        self.store = store
        self.embedder = embedder
        self.max_tokens = max_tokens
        self.sentence_vectors = sentence_vectors

    @property
    def recipe(self) -> str:
        """How this indexer loads, splits and embeds (text and sentence versions, encoder, chunk size, sentence
        vectors), kept with every document record: a document indexed another way counts as changed and is
        chunked and embedded again by the next ingest."""
        sentences = POOLING if self.sentence_vectors else "none"
        return (f"{self.embedder.name}; chunks <= {self.max_tokens} word-pieces; sentence vectors {sentences}; "
                f"{LOADER_VERSION}; {SPLITTER_VERSION}")

    def chunk(self, document: Document) -> list[Chunk]:
        return chunk_document(document, self.embedder.count_tokens, self.max_tokens)

    def ingest(self, target: Path, progress: bool | None = None,
               on_file: Callable[[Path], None] | None = None) -> IngestReport:
        report = IngestReport()
        root, documents = load_path(target, report.problems, on_file)
        report.root = root
        documents = self._dedupe(documents, report)
        self.index_documents(documents, report, progress)
        self._remove_missing(root, {doc.id for doc in documents}, report)
        return report

    def add_files(self, paths: Sequence[Path], root: str, progress: bool | None = None) -> IngestReport:
        """Index these files (each loaded as :meth:`ingest` loads a file) under the store-side ``root``, removing
        nothing: what ``POST /documents`` does with an upload. A document id met twice keeps its first document,
        the others are reported in ``problems`` as :meth:`ingest` reports them."""
        report = IngestReport(root=root)
        documents: list[Document] = []
        for path in paths:
            _, loaded = load_path(path, report.problems)
            documents.extend(dataclasses.replace(doc, root=root) for doc in loaded)
        documents = self._dedupe(documents, report)
        if documents:
            self.index_documents(documents, report, progress)
        return report

    def _dedupe(self, documents: list[Document], report: IngestReport) -> list[Document]:
        seen: dict[str, Document] = {}
        for doc in documents:
            if doc.id in seen:
                report.problems.append(LoadProblem(doc.source, f"duplicate document id {doc.id!r}; kept the first"))
                continue
            seen[doc.id] = doc
        return list(seen.values())

    def index_documents(self, documents: list[Document], report: IngestReport, progress: bool | None) -> None:
        stored = {record.id: record for record in self.store.documents()}
        pending: list[tuple[Document, list[Chunk]]] = []
        recipe, other_recipe = self.recipe, 0
        for doc in documents:
            record = stored.get(doc.id)
            if record is not None and record.hash == doc.hash and record.recipe == recipe:
                report.unchanged.append(doc.id)
                continue
            other_recipe += record is not None and record.hash == doc.hash
            (report.updated if record is not None else report.added).append(doc.id)
            pending.append((doc, self.chunk(doc)))
        if other_recipe:
            log.warning("%d unchanged documents were indexed another way; embedding them again (%s)",
                        other_recipe, recipe)
        bar = _Progress(sum(len(chunks) for _, chunks in pending), progress)
        # The store writes of one group run on a writer thread while the encoder embeds the next group (Chroma's
        # writes and onnxruntime both leave the GIL). Groups are written strictly in order, one at a time, and
        # the next group's writes start only after the previous group's finished, so what a killed run leaves is
        # what it left before: at worst one group without its document records, redone by the next run.
        writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="citeqa-writer")
        writing: Future[None] | None = None
        try:
            for group in _groups(pending):
                embedded = self._embed_group(group)
                if writing is not None:
                    writing.result()  # raises the previous group's store error, before anything else is written
                report.chunks_embedded += len(embedded[0])
                bar.update(len(embedded[0]))
                writing = writer.submit(self._write_group, group, *embedded)
            if writing is not None:
                writing.result()
        except BaseException as failure:
            writer.shutdown(wait=True)  # the group being written is finished (or fails) before the run stops
            last = writing.exception() if writing is not None and not writing.cancelled() else None
            if last is not None and last is not failure:  # the encoder failed; say that the write failed too
                log.error("writing the last group to the store failed too: %s", last)
            raise
        finally:
            writer.shutdown(wait=True)
            bar.close()

    def _embed_group(self, group: list[tuple[Document, list[Chunk]]]) -> tuple[list[Chunk], Any, Any]:
        all_chunks = [chunk for _, chunks in group for chunk in chunks]
        texts = [chunk.text for chunk in all_chunks]
        if self.sentence_vectors:
            # the sentences' vectors come out of the chunks' own forward pass: no extra encoder work
            vectors, sentence_vectors = self.embedder.embed_with_spans(texts, [split_sentences(t) for t in texts])
            return all_chunks, vectors, sentence_vectors
        return all_chunks, self.embedder.embed(texts), None

    def _write_group(self, group: list[tuple[Document, list[Chunk]]], all_chunks: list[Chunk], vectors: Any,
                     sentence_vectors: Any) -> None:
        # one store call per step for the whole group (per-document calls cost more than the writes themselves);
        # the document records still come last, so a run killed part-way is redone by the next one
        old_ids = self.store.chunk_ids_of([doc.id for doc, _ in group])
        new_ids = {chunk.id for chunk in all_chunks}
        if sentence_vectors is not None:
            self.store.put_sentence_vectors([chunk.id for chunk in all_chunks], sentence_vectors)
        self.store.upsert_chunks(all_chunks, vectors)
        self.store.delete_chunks(sorted({cid for ids in old_ids.values() for cid in ids} - new_ids))
        self.store.put_documents([(doc, len(chunks)) for doc, chunks in group], self.recipe)
        for doc, chunks in group:
            log.info("indexed %s (%d chunks)", doc.id, len(chunks))

    def _remove_missing(self, root: str, present: set[str], report: IngestReport) -> None:
        failed = {problem.source.split(":")[0] for problem in report.problems}
        for record in self.store.documents(root=root):
            if record.id in present:
                continue
            if record.source in failed or record.source.split("#")[0] in failed:
                continue  # it failed to load this time: keep its last good version
            self.store.delete_document(record.id)
            report.removed.append(record.id)
