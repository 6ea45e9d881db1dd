"""Retrieval: dense (Chroma, cosine) and lexical (BM25, :mod:`service.answer.lexical`), fused by reciprocal rank fusion.

Both retrievers return chunk ids; the texts, metadata and stored vectors of the ``k`` fused passages are then
read in one store call, so a query makes at most four store calls: the revision check (of the BM25 index, or on
its own for dense retrieval: it also reopens a store another process wrote to), the dense query, that read, and
(with ``sentence_vectors``) the passages' sentence vectors. Each :class:`Passage`
carries what the judge reads: its vector and its sentences' vectors (stored at ingest, or computed once here for
a passage stored without them), and the retrieval carries the question's vector.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ingest.chunking import split_sentences
from ingest.embedding import LocalEmbedder
from ingest.models import Chunk
from service.answer.lexical import STOPWORDS, BM25Index, tokenize
from service.errors import StoreUnavailable
from service.settings import RetrievalMode, Settings
from service.store import ChromaStore

__all__ = ["STOPWORDS", "BM25Index", "Passage", "Retrieval", "Retriever", "fused_top", "reciprocal_rank_fusion",
           "tokenize"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk, with where each retriever ranked it (1-based; None when it did not find it)."""

    chunk: Chunk
    score: float
    dense_rank: int | None = None
    bm25_rank: int | None = None
    dense_score: float | None = None
    vector: np.ndarray | None = field(default=None, repr=False, compare=False)  # the chunk's, unit length
    # one unit vector per sentence of split_sentences(chunk.text), pooled from the chunk's forward pass
    sentence_vectors: np.ndarray | None = field(default=None, repr=False, compare=False)


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


def fused_top(rankings: Sequence[Sequence[str]], n: int, k: int = 60) -> list[tuple[str, float]]:
    """The ``n`` best of :func:`reciprocal_rank_fusion`, keeping each ranking's first hit: fusion ranks a chunk
    only one retriever finds below those both find, and a rare word's chunk (an option, a function named in a
    changelog) is often BM25's first and nowhere in the dense ranking. A first hit outside the top ``n`` takes
    the place of the lowest-fused one that is no ranking's first; the passages keep their fused scores and order."""
    fused = reciprocal_rank_fusion(rankings, k)
    chosen = [cid for cid, _ in fused[:n]]
    firsts = {ranking[0] for ranking in rankings if ranking}
    for first in [cid for cid, _ in fused[n:] if cid in firsts]:  # in fused order
        replaceable = [i for i, cid in enumerate(chosen) if cid not in firsts]
        if not replaceable:
            break
        chosen[replaceable[-1]] = first
    kept = set(chosen)
    return [pair for pair in fused if pair[0] in kept]


class Retriever:
    def __init__(self, store: ChromaStore, embedder: LocalEmbedder, settings: Settings) -> None:
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
        # BM25 first: reading the store's revision brings the store up to date (reopened if another process
        # wrote to it), so the dense query sees the same documents; dense alone reads the revision for that
        if mode in ("bm25", "hybrid"):
            lexical = self.bm25.search_ids(question, n, doc_ids)
        else:
            self.store.revision()
        if query_embedding is not None:
            dense = self.store.query_ids(query_embedding, n, doc_ids)
        dense_rank = {cid: (rank, score) for rank, (cid, score) in enumerate(dense, start=1)}
        bm25_rank = {cid: rank for rank, (cid, _) in enumerate(lexical, start=1)}
        fused = fused_top([[cid for cid, _ in dense], [cid for cid, _ in lexical]], k, self.settings.rrf_k)
        chunks, vectors = self.store.chunks_by_id([cid for cid, _ in fused], vectors=True)
        present = [(cid, score) for cid, score in fused if cid in chunks]  # a chunk deleted since is left out
        stored = self.store.sentence_vectors([cid for cid, _ in present]) if self.settings.sentence_vectors else {}
        computed = self._missing_sentence_vectors([chunks[cid] for cid, _ in present], stored)
        passages = [
            Passage(
                chunk=chunks[cid],
                score=score,
                dense_rank=dense_rank.get(cid, (None, None))[0],
                bm25_rank=bm25_rank.get(cid),
                dense_score=dense_rank.get(cid, (None, None))[1],
                vector=vectors.get(cid),
                sentence_vectors=computed.get(cid, stored.get(cid)),
            )
            for cid, score in present
        ]
        timings["retrieve"] = _ms(started)
        return Retrieval(passages=passages, timings_ms=timings, query_embedding=query_embedding)

    def _missing_sentence_vectors(self, chunks: Sequence[Chunk], stored: dict[str, np.ndarray]
                                  ) -> dict[str, np.ndarray]:
        """The sentence vectors of the passages the store has none for (a store ingested without
        ``sentence_vectors``, or with another pooling), or whose stored rows do not match the sentences: encoded
        here, once per passage text (the embedder's span cache)."""
        missing = [chunk for chunk in chunks
                   if chunk.id not in stored or len(stored[chunk.id]) != len(split_sentences(chunk.text))]
        if not missing:
            return {}
        texts = [chunk.text for chunk in missing]
        _, pooled = self.embedder.embed_with_spans_cached(texts, [split_sentences(text) for text in texts])
        return {chunk.id: rows for chunk, rows in zip(missing, pooled, strict=True)}

    def _embed_query(self, question: str) -> np.ndarray:
        return self.embedder.embed_cached([question])[0]


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
