"""Retrieval: dense (Chroma, cosine) and lexical (BM25, :mod:`service.lexical`), fused by reciprocal rank fusion.

Both retrievers return chunk ids; the texts, metadata and (for the extractive answerer) stored vectors of the
``k`` fused passages are then read in one store call, so a query makes at most four store calls: the revision
check of the BM25 index, the dense query, that read, and (with ``sentence_vectors``) the passages' sentence
vectors.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ingest.chunking import split_sentences
from ingest.embedding import Embedder
from ingest.models import Chunk
from service.errors import StoreUnavailable
from service.lexical import STOPWORDS, BM25Index, tokenize
from service.settings import RetrievalMode, Settings
from service.store import ChromaStore

__all__ = ["STOPWORDS", "BM25Index", "Passage", "Retrieval", "Retriever", "reciprocal_rank_fusion", "tokenize"]

log = logging.getLogger(__name__)


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


class Retriever:
    def __init__(self, store: ChromaStore, embedder: Embedder, settings: Settings) -> None:
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self.bm25 = BM25Index(store, settings.data_dir / "bm25")

    def warm(self) -> None:
        """Load (or build) the BM25 index and open every index a query reads now, at start-up, rather than in
        the first request; a store that is down is left to the requests (and /healthz) to report."""
        try:
            self.retrieve("warm up", 1)
        except StoreUnavailable:
            log.warning("store unavailable at start-up; the indexes will be loaded by the first request")

    def retrieve(
        self, question: str, k: int, doc_ids: Sequence[str] | None = None, mode: RetrievalMode | None = None
    ) -> Retrieval:
        mode = mode or self.settings.retrieval_mode
        n = max(self.settings.candidates, k)
        timings: dict[str, float] = {}
        dense: list[tuple[str, float]] = []
        lexical: list[tuple[str, float]] = []
        query_embedding = None
        started = time.perf_counter()
        if mode in ("dense", "hybrid"):
            query_embedding = self._embed_query(question)
            timings["embed"] = _ms(started)
        started = time.perf_counter()
        if query_embedding is not None:
            dense = self.store.query_ids(query_embedding, n, doc_ids)
        if mode in ("bm25", "hybrid"):
            lexical = self.bm25.search_ids(question, n, doc_ids)
        dense_rank = {cid: (rank, score) for rank, (cid, score) in enumerate(dense, start=1)}
        bm25_rank = {cid: rank for rank, (cid, _) in enumerate(lexical, start=1)}
        fused = reciprocal_rank_fusion([[cid for cid, _ in dense], [cid for cid, _ in lexical]], self.settings.rrf_k)
        fused = fused[:k]
        remember = getattr(self.embedder, "remember", None) if self.settings.uses_extractive else None
        chunks, vectors = self.store.chunks_by_id([cid for cid, _ in fused], vectors=remember is not None)
        passages = [
            Passage(
                chunk=chunks[cid],
                score=score,
                dense_rank=dense_rank.get(cid, (None, None))[0],
                bm25_rank=bm25_rank.get(cid),
                dense_score=dense_rank.get(cid, (None, None))[1],
            )
            for cid, score in fused
            if cid in chunks  # a chunk deleted since the indexes were read is left out
        ]
        if remember is not None:
            self._recall_vectors(passages, vectors, remember)
        timings["retrieve"] = _ms(started)
        return Retrieval(passages=passages, timings_ms=timings, query_embedding=query_embedding)

    def _recall_vectors(self, passages: list[Passage], chunk_vectors: dict[str, np.ndarray],
                        remember: Callable[[Sequence[str], np.ndarray], None]) -> None:
        """Hand the vectors stored at ingest for the passages (and, with ``sentence_vectors``, their sentences) to
        the encoder's caches, where the extractive answerer's ``embed_with_spans_cached`` finds them instead of
        encoding the passages again (a passage without stored vectors is encoded as before)."""
        known = [p.chunk for p in passages if p.chunk.id in chunk_vectors]
        if known:
            remember([chunk.text for chunk in known], np.vstack([chunk_vectors[chunk.id] for chunk in known]))
        if not self.settings.sentence_vectors or not passages:
            return
        stored = self.store.sentence_vectors([p.chunk.id for p in passages])
        remember_spans = getattr(self.embedder, "remember_spans", None)
        for passage in passages:
            vectors = stored.get(passage.chunk.id)
            spans = split_sentences(passage.chunk.text)
            if remember_spans is not None and vectors is not None and len(vectors) == len(spans):
                remember_spans([passage.chunk.text], [spans], [vectors])

    def _embed_query(self, question: str) -> np.ndarray:
        embed_cached = getattr(self.embedder, "embed_cached", None)
        vectors = embed_cached([question]) if embed_cached else self.embedder.embed([question])
        return vectors[0]


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
