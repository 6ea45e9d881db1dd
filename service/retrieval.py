"""Retrieval: dense (Chroma, cosine) and lexical (BM25), fused by reciprocal rank fusion.

The BM25 index lives in memory. It is built from the store on first use and rebuilt whenever the store's
revision (bumped by every write, from any process) differs from the one it was built at, so replicas that
share a Chroma server never answer from a stale index. Checking the revision costs one small store call per
query.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ingest.chunking import split_sentences
from ingest.embedding import Embedder
from ingest.models import Chunk
from service.errors import StoreUnavailable
from service.settings import RetrievalMode, Settings
from service.store import ChromaStore

log = logging.getLogger(__name__)

_WORD = re.compile(r"\w+", re.UNICODE)


def _bm25s():  # noqa: ANN202 - the bm25s module, imported on first use
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets its logger to DEBUG on import
    return bm25s


STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below between both
but by can could did do does doing down during each few for from further had has have having he her here hers
herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off on
once only or other our ours ourselves out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up very was we were what when where
which while who whom whose why will with would you your yours yourself yourselves s t ll d re ve m also may might
shall must""".split())



def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens without English stop words (shared by BM25 and the answerers)."""
    return [token for token in _WORD.findall(text.lower()) if token not in STOPWORDS]


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk, with where each retriever ranked it (1-based; None when it did not find it)."""

    chunk: Chunk
    score: float
    dense_rank: int | None = None
    bm25_rank: int | None = None
    dense_score: float | None = None


@dataclass
class Retrieval:
    passages: list[Passage]
    timings_ms: dict[str, float] = field(default_factory=dict)
    query_embedding: np.ndarray | None = None


def reciprocal_rank_fusion(rankings: Sequence[Sequence[str]], k: int = 60) -> list[tuple[str, float]]:
    """Fuse ranked id lists: score(id) = sum over lists of 1 / (k + rank), rank starting at 1.

    Ties are broken by the best rank the id reached in any list, then by id, so the order is deterministic.
    """
    scores: dict[str, float] = {}
    best: dict[str, int] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
            best[item] = min(best.get(item, rank), rank)
    return sorted(scores.items(), key=lambda pair: (-pair[1], best[pair[0]], pair[0]))


class BM25Index:
    def __init__(self, store: ChromaStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._revision: str | None = None
        self._chunks: list[Chunk] = []
        self._doc_ids = np.array([], dtype=object)
        self._model = None

    def _refresh(self) -> None:
        revision = self.store.revision()
        if revision == self._revision:
            return
        with self._lock:
            if revision == self._revision:
                return
            started = time.perf_counter()
            chunks = self.store.all_chunks()
            model = None
            if chunks:
                model = _bm25s().BM25()
                # interned: 100k chunks are ~15M tokens, as many distinct str objects otherwise (~0.5 GB at once)
                corpus = [[sys.intern(t) for t in tokenize(chunk.title + " " + chunk.text)] for chunk in chunks]
                model.index(corpus, show_progress=False)
                del corpus
            self._chunks, self._model, self._revision = chunks, model, revision
            self._doc_ids = np.array([chunk.doc_id for chunk in chunks], dtype=object)
            log.info("BM25 index rebuilt: %d chunks in %.0f ms", len(chunks), (time.perf_counter() - started) * 1000)

    def search(self, question: str, n: int, doc_ids: Sequence[str] | None = None) -> list[tuple[Chunk, float]]:
        self._refresh()
        model, chunks = self._model, self._chunks
        tokens = tokenize(question)
        if model is None or not tokens:
            return []
        scores = model.get_scores(tokens)
        if doc_ids:
            scores = np.where(np.isin(self._doc_ids, list(doc_ids)), scores, 0.0)
        n = min(n, len(chunks))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.lexsort((top, -scores[top]))]
        return [(chunks[i], float(scores[i])) for i in top if scores[i] > 0]


class Retriever:
    def __init__(self, store: ChromaStore, embedder: Embedder, settings: Settings) -> None:
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self.bm25 = BM25Index(store)

    def warm(self) -> None:
        """Build the BM25 index now (at start-up) rather than in the first request; a store that is down is left
        to the requests (and /healthz) to report."""
        if self.settings.retrieval_mode == "dense":
            return
        try:
            self.bm25.search("warm up", 1)
        except StoreUnavailable:
            log.warning("store unavailable at start-up; the BM25 index will be built by the first request")

    def retrieve(
        self, question: str, k: int, doc_ids: Sequence[str] | None = None, mode: RetrievalMode | None = None
    ) -> Retrieval:
        mode = mode or self.settings.retrieval_mode
        n = max(self.settings.candidates, k)
        timings: dict[str, float] = {}
        dense: list = []
        lexical: list = []
        query_embedding = None
        started = time.perf_counter()
        if mode in ("dense", "hybrid"):
            query_embedding = self._embed_query(question)
            timings["embed"] = _ms(started)
        started = time.perf_counter()
        if query_embedding is not None:
            dense = self.store.query(query_embedding, n, doc_ids)
        if mode in ("bm25", "hybrid"):
            lexical = self.bm25.search(question, n, doc_ids)
        by_id: dict[str, Chunk] = {hit.chunk.id: hit.chunk for hit in dense}
        by_id.update({chunk.id: chunk for chunk, _ in lexical})
        dense_rank = {hit.chunk.id: (rank, hit.score) for rank, hit in enumerate(dense, start=1)}
        bm25_rank = {chunk.id: rank for rank, (chunk, _) in enumerate(lexical, start=1)}
        fused = reciprocal_rank_fusion(
            [[hit.chunk.id for hit in dense], [chunk.id for chunk, _ in lexical]], self.settings.rrf_k
        )
        passages = [
            Passage(
                chunk=by_id[cid],
                score=score,
                dense_rank=dense_rank.get(cid, (None, None))[0],
                bm25_rank=bm25_rank.get(cid),
                dense_score=dense_rank.get(cid, (None, None))[1],
            )
            for cid, score in fused[:k]
        ]
        if self.settings.uses_extractive:
            self._recall_vectors(passages)
        timings["retrieve"] = _ms(started)
        return Retrieval(passages=passages, timings_ms=timings, query_embedding=query_embedding)

    def _recall_vectors(self, passages: list[Passage]) -> None:
        """Hand the vectors stored at ingest for the passages (and, with ``sentence_vectors``, their sentences) to
        the encoder's text cache, where the extractive answerer's ``embed_cached`` finds them instead of encoding
        them again (a text without a stored vector is encoded as before)."""
        remember = getattr(self.embedder, "remember", None)
        if remember is None or not passages:
            return
        ids = [p.chunk.id for p in passages]
        chunk_vectors = self.store.chunk_vectors(ids)
        known = [p.chunk for p in passages if p.chunk.id in chunk_vectors]
        if known:
            remember([chunk.text for chunk in known], np.vstack([chunk_vectors[chunk.id] for chunk in known]))
        if not self.settings.sentence_vectors:
            return
        stored = self.store.sentence_vectors(ids)
        for passage in passages:
            vectors = stored.get(passage.chunk.id)
            spans = split_sentences(passage.chunk.text)
            if vectors is not None and len(vectors) == len(spans):
                remember([passage.chunk.text[start:end] for start, end in spans], vectors)

    def _embed_query(self, question: str) -> np.ndarray:
        embed_cached = getattr(self.embedder, "embed_cached", None)
        vectors = embed_cached([question]) if embed_cached else self.embedder.embed([question])
        return vectors[0]


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
