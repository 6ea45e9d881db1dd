"""The lexical side of retrieval: the tokenizer and the BM25 index (bm25s), the only module that imports bm25s.

The index holds, per chunk, only its id and its document; the texts of the hits are read from the store by id.
It is valid for one store revision (bumped by every write, from any process), checked on every search, so
replicas sharing a Chroma server never answer from a stale index.

Building it means reading and tokenising every chunk (about 15 s at 100k chunks), so a built index is also
kept on local disk, in ``<cache_dir>/<collection>-<revision>-<recipe>/``, written atomically (a temporary
folder renamed into place) with a manifest of checksums, and loaded instead of rebuilt when a process starts
at the same revision. A folder that is missing, unreadable, for another revision or for another chunk count
is never used: the index is rebuilt from the store (a broken folder is logged and replaced, never fatal).
Only the newest folder of a collection is kept.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ingest.models import Chunk
from service.store import CHUNK_PAGE, ChromaStore

log = logging.getLogger(__name__)

_WORD = re.compile(r"\w+", re.UNICODE)

STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below between both
but by can could did do does doing down during each few for from further had has have having he her here hers
herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off on
once only or other our ours ourselves out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up very was we were what when where
which while who whom whose why will with would you your yours yourself yourselves s t ll d re ve m also may might
shall must""".split())

FORMAT = 1  # bump when the folder layout changes
# changes with the tokenizer or the folder layout, so a folder written by other code is never read as ours
RECIPE = hashlib.sha256(f"{FORMAT}\0{_WORD.pattern}\0{' '.join(sorted(STOPWORDS))}".encode()).hexdigest()[:8]
MANIFEST = "manifest.json"
_SAFE_REVISION = re.compile(r"[0-9A-Za-z]{1,64}")
_STALE_TEMP_SECONDS = 3600


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens without English stop words (shared by BM25 and the answerers)."""
    return [token for token in _WORD.findall(text.lower()) if token not in STOPWORDS]


def _bm25s():  # the bm25s module, imported on first use
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets its logger to DEBUG on import
    return bm25s


@dataclass(frozen=True)
class Snapshot:
    """The index of one store revision: chunk i of the bm25s model is ``ids[i]``, of document
    ``doc_ids[doc_codes[i]]``."""

    revision: str
    model: Any  # bm25s.BM25, None when the store holds no chunk
    ids: list[str]
    doc_ids: list[str]
    doc_codes: np.ndarray  # int32, one per chunk
    doc_code: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "doc_code", {doc_id: code for code, doc_id in enumerate(self.doc_ids)})


class BM25Index:
    def __init__(self, store: ChromaStore, cache_dir: Path | None = None) -> None:
        self.store = store
        self.cache = SnapshotCache(cache_dir, store.name) if cache_dir is not None else None
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None

    def refresh(self) -> Snapshot:
        """The index of the store's current revision: the one in memory, else the one on disk, else built."""
        revision = self.store.revision()
        snapshot = self._snapshot
        if snapshot is not None and snapshot.revision == revision:
            return snapshot
        with self._lock:
            snapshot = self._snapshot
            if snapshot is None or snapshot.revision != revision:
                snapshot = self._load(revision) or self._build(revision)
                self._snapshot = snapshot
            return snapshot

    def search_ids(self, question: str, n: int, doc_ids: Sequence[str] | None = None) -> list[tuple[str, float]]:
        """The ids of the ``n`` best chunks for ``question`` (only of ``doc_ids`` when given), best first, with
        their BM25 scores; chunks scoring 0 are left out. Ties go to the chunk read first from the store."""
        snapshot = self.refresh()
        tokens = tokenize(question)
        if snapshot.model is None or not tokens:
            return []
        scores = snapshot.model.get_scores(tokens)
        if doc_ids:
            wanted = [snapshot.doc_code[doc_id] for doc_id in doc_ids if doc_id in snapshot.doc_code]
            scores = np.where(np.isin(snapshot.doc_codes, wanted), scores, 0.0)
        n = min(n, len(snapshot.ids))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.lexsort((top, -scores[top]))]
        return [(snapshot.ids[i], float(scores[i])) for i in top.tolist() if scores[i] > 0]

    def search(self, question: str, n: int, doc_ids: Sequence[str] | None = None) -> list[tuple[Chunk, float]]:
        """:meth:`search_ids` with the chunks read from the store."""
        hits = self.search_ids(question, n, doc_ids)
        chunks, _ = self.store.chunks_by_id([cid for cid, _ in hits])
        return [(chunks[cid], score) for cid, score in hits if cid in chunks]

    def _load(self, revision: str) -> Snapshot | None:
        if self.cache is None:
            return None
        started = time.perf_counter()
        snapshot = self.cache.load(revision, self.store.count_chunks)
        if snapshot is not None:
            log.info("BM25 index loaded from %s: %d chunks in %.0f ms", self.cache.folder(revision),
                     len(snapshot.ids), (time.perf_counter() - started) * 1000)
        return snapshot

    def _build(self, revision: str) -> Snapshot:
        started = time.perf_counter()
        ids: list[str] = []
        codes: dict[str, int] = {}
        doc_codes: list[int] = []
        vocabulary = _Numbering()
        corpus: list[list[int]] = []
        # Page by page, each tokenised while the next is read (chromadb reads without holding the GIL), so the
        # texts of all chunks are never held at once.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="citeqa-bm25-read") as reader:
            pending: Future[list[Chunk]] | None = reader.submit(self.store.chunk_page, 0, CHUNK_PAGE)
            while pending is not None:
                page = pending.result()
                pending = (reader.submit(self.store.chunk_page, len(ids) + len(page), CHUNK_PAGE)
                           if len(page) == CHUNK_PAGE else None)
                for chunk in page:
                    ids.append(chunk.id)
                    doc_codes.append(codes.setdefault(chunk.doc_id, len(codes)))
                    # token numbers, not strings: 100k chunks are ~15M tokens, and bm25s would number them in two
                    # more passes; each number is one int object shared by all its uses
                    words = _WORD.findall((chunk.title + " " + chunk.text).lower())
                    corpus.append([vocabulary[w] for w in words if w not in STOPWORDS])
        model = None
        if corpus:
            model = _bm25s().BM25()
            model.index((corpus, dict(vocabulary)), show_progress=False)
        del corpus
        snapshot = Snapshot(revision, model, ids, list(codes), np.asarray(doc_codes, dtype=np.int32))
        log.info("BM25 index built: %d chunks in %.0f ms", len(ids), (time.perf_counter() - started) * 1000)
        # a write made while the chunks were read would leave a folder that does not match its revision
        if self.cache is not None and ids and self.store.revision() == revision:
            self.cache.save(snapshot)
        return snapshot


class _Numbering(dict):
    """Numbers keys in the order they are first looked up: ``numbering[token]`` is the token's number."""

    def __missing__(self, key: str) -> int:
        number = self[key] = len(self)
        return number


class SnapshotCache:
    """Built indexes on local disk, one folder per collection, revision and recipe (module docstring)."""

    def __init__(self, root: Path, collection: str) -> None:
        self.root = root
        self.collection = collection

    def folder(self, revision: str) -> Path:
        return self.root / f"{self.collection}-{revision}-{RECIPE}"

    def load(self, revision: str, count_chunks: Any) -> Snapshot | None:
        """The snapshot saved for ``revision``, or None when there is none or it cannot be trusted."""
        folder = self.folder(revision)
        if not _SAFE_REVISION.fullmatch(revision) or not (folder / MANIFEST).is_file():
            return None
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
            expected = (FORMAT, self.collection, revision, RECIPE)
            found = (manifest["format"], manifest["collection"], manifest["revision"], manifest["recipe"])
            if found != expected:
                raise ValueError(f"manifest is for {found}, not {expected}")
            for name, digest in manifest["sha256"].items():
                if _sha256(folder / name) != digest:
                    raise ValueError(f"{name} does not match its checksum")
            chunks = json.loads((folder / "chunks.json").read_text())
            doc_codes = np.load(folder / "doc_codes.npy", allow_pickle=False)
            model = _bm25s().BM25.load(str(folder / "bm25"), mmap=False, allow_pickle=False)
            ids, doc_ids = list(chunks["ids"]), list(chunks["doc_ids"])
            if not (len(ids) == len(doc_codes) == model.scores["num_docs"] == manifest["chunks"]):
                raise ValueError("its parts disagree on the number of chunks")
            if doc_codes.dtype != np.int32 or (len(ids) and not 0 <= int(doc_codes.max()) < len(doc_ids)):
                raise ValueError("doc_codes.npy is not a list of document numbers")
        except Exception as exc:  # whatever is wrong with the folder, the index is rebuilt
            log.warning("BM25 index folder %s is unreadable (%s: %s); rebuilding it", folder, type(exc).__name__, exc)
            shutil.rmtree(folder, ignore_errors=True)
            return None
        if count_chunks() != len(ids):  # chunks written without a new revision: never trust the folder
            log.warning("BM25 index folder %s holds %d chunks, the store %s; rebuilding it", folder, len(ids),
                        count_chunks())
            shutil.rmtree(folder, ignore_errors=True)
            return None
        self.prune(keep=folder)
        return Snapshot(revision, model, ids, doc_ids, doc_codes)

    def save(self, snapshot: Snapshot) -> None:
        """Write ``snapshot`` (temporary folder, then one rename); a failure is logged, never raised."""
        folder = self.folder(snapshot.revision)
        if not _SAFE_REVISION.fullmatch(snapshot.revision) or folder.exists():
            return
        started = time.perf_counter()
        temp = self.root / f".tmp-{folder.name}-{uuid.uuid4().hex[:8]}"
        try:
            temp.mkdir(parents=True)
            snapshot.model.save(str(temp / "bm25"), show_progress=False)
            (temp / "chunks.json").write_text(json.dumps({"ids": snapshot.ids, "doc_ids": snapshot.doc_ids}))
            np.save(temp / "doc_codes.npy", snapshot.doc_codes, allow_pickle=False)
            files = sorted(str(path.relative_to(temp)) for path in temp.rglob("*") if path.is_file())
            manifest = {"format": FORMAT, "collection": self.collection, "revision": snapshot.revision,
                        "recipe": RECIPE, "chunks": len(snapshot.ids),
                        "sha256": {name: _sha256(temp / name) for name in files}}
            (temp / MANIFEST).write_text(json.dumps(manifest, indent=1))
            os.rename(temp, folder)  # atomic; fails if another process saved this revision first
        except OSError as exc:
            log.warning("BM25 index not saved to %s: %s", folder, exc)
            shutil.rmtree(temp, ignore_errors=True)
            return
        log.info("BM25 index saved to %s in %.0f ms", folder, (time.perf_counter() - started) * 1000)
        self.prune(keep=folder)

    def prune(self, keep: Path) -> None:
        """Remove this collection's other folders, and temporary folders left by crashed writers."""
        if not self.root.is_dir():
            return
        for path in self.root.iterdir():
            name = path.name
            if name.startswith(".tmp-"):
                ours = name[len(".tmp-"):].rsplit("-", 3)[0] == self.collection
                try:
                    stale = time.time() - path.stat().st_mtime > _STALE_TEMP_SECONDS
                except OSError:
                    continue
                if ours and stale:
                    shutil.rmtree(path, ignore_errors=True)
            elif path != keep and name.rsplit("-", 2)[0] == self.collection and path.is_dir():
                log.info("removing the old BM25 index folder %s", path)
                shutil.rmtree(path, ignore_errors=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
