"""What answers the questions of ``citeqa eval``: the local pipeline or a running service.

:class:`LocalTarget` ingests the corpus into a collection of its own (named from the corpus path and the
chunking settings, so an unchanged corpus is reused and embeds nothing) and calls the very
:class:`~service.answer.pipeline.AskPipeline` behind ``POST /ask``; :class:`HttpTarget` posts to a running service's
``/ask``. Both give an :class:`Outcome` per question.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from service.evaluation import scores
from service.evaluation.inputs import Corpus, EvalRunError

log = logging.getLogger(__name__)

RETRIEVAL_DEPTH = 10  # retrieved chunks kept per question for recall@k and MRR (k <= 10)
EMBEDDING_CACHE = 100_000  # texts (~150 MB of vectors)


@dataclass
class Outcome:
    """What the service did for one question, in the shape of the ``POST /ask`` response."""

    answer: str
    refused: bool
    model: str
    citations: list[dict[str, Any]]  # n, doc_id, start, end, quote
    sentences: list[dict[str, Any]]  # text, citations, supported
    dropped: int
    retrieved: list[scores.Span]  # ranked, RETRIEVAL_DEPTH deep
    timings_ms: dict[str, float] = field(default_factory=dict)
    confidence: float = 0.0  # the judge's probability that the best source sentence answers (0.0 if not sent)
    # a refusal's closest passage: doc_id, start, end, quote, probability (None when answered or nothing was found)
    closest: dict[str, Any] | None = None


class Target(Protocol):
    def describe(self) -> dict[str, Any]:
        """Settings, model and store of what is evaluated (for results.json)."""
        ...

    def answer(self, question: str, mode: str | None) -> Outcome:
        ...


def collection_name(corpus: Corpus, settings: Any) -> str:
    """The evaluation collection of a corpus: reused (and updated incrementally) while the corpus path, the
    encoder and the chunking stay the same; another chunk size or model gets a collection of its own."""
    key = "\0".join(str(part) for part in (
        corpus.path.resolve(), settings.embedding_model, getattr(settings, "encoder", "torch"),
        settings.chunk_max_tokens,
    ))
    stem = re.sub(r"[^a-zA-Z0-9]+", "-", corpus.path.stem).strip("-")[:20] or "corpus"
    return f"eval-{stem}-{hashlib.sha256(key.encode()).hexdigest()[:10]}"


class LocalTarget:
    """The corpus in a collection of its own, answered by the same :class:`AskPipeline` as ``POST /ask``."""

    def __init__(self, settings: Any, corpus: Corpus, k: int | None, progress: bool | None) -> None:
        from service import components

        self.settings = settings.model_copy(update={"collection": collection_name(corpus, settings)})
        embedder = components.build_embedder(self.settings)
        if hasattr(embedder, "_cache_size"):
            # remember every question, passage and sentence of the run: --compare's modes share most of them
            embedder._cache_size = max(embedder._cache_size, EMBEDDING_CACHE)
        self.parts = components.build(self.settings, embedder)
        self.k = k
        self.ingest = self.parts.indexer.ingest(corpus.path, progress=progress)
        log.info("eval collection %s: %s", self.settings.collection, self.ingest.summary())

    def describe(self) -> dict[str, Any]:
        """The settings as given (``judge_*_threshold`` None: the judge model's own) and the thresholds in effect
        (``sentence_threshold``/``refuse_threshold`` of the extractive answerer; None for an LLM answerer)."""
        s = self.settings
        answerer = self.parts.answerer
        return {
            "target": "local", "collection": s.collection,
            "model": self.parts.pipeline.model, "embedding_model": s.embedding_model,
            "encoder": getattr(s, "encoder", "torch"), "chunk_max_tokens": s.chunk_max_tokens,
            "top_k": self.k or s.top_k, "candidates": s.candidates, "rrf_k": s.rrf_k,
            "judge": self.parts.judge.name,
            "judge_refuse_threshold": s.judge_refuse_threshold,
            "judge_sentence_threshold": s.judge_sentence_threshold,
            "refuse_threshold": getattr(answerer, "refuse_threshold", None),
            "sentence_threshold": getattr(answerer, "sentence_threshold", None),
            "extractive_max_sentences": s.extractive_max_sentences, "ingest": self.ingest.summary(),
        }

    def answer(self, question: str, mode: str | None) -> Outcome:
        result = self.parts.pipeline.ask(question, self.k, mode=mode)  # type: ignore[arg-type]
        depth = max(RETRIEVAL_DEPTH, self.k or self.settings.top_k)
        ranking = self.parts.retriever.retrieve(question, depth, mode=mode).passages  # type: ignore[arg-type]
        return Outcome(
            answer=result.answer, refused=result.refused, model=result.model,
            citations=[{"n": c.n, "doc_id": c.doc_id, "start": c.start, "end": c.end, "quote": c.quote}
                       for c in result.citations],
            sentences=result.sentences, dropped=result.dropped_citations,
            retrieved=[(p.chunk.doc_id, p.chunk.start, p.chunk.end) for p in ranking],
            timings_ms=result.timings_ms, confidence=float(result.confidence),
            closest=({"doc_id": result.closest.doc_id, "start": result.closest.start, "end": result.closest.end,
                      "quote": result.closest.quote, "probability": result.closest_probability or 0.0}
                     if result.closest is not None else None),
        )

    @property
    def embedder(self) -> Any:
        return self.parts.embedder


class HttpTarget:
    """A running service: ``POST {url}/ask`` with ``retrieved`` asking for the ranked passages as well."""

    def __init__(self, url: str, k: int | None, api_key: str | None = None, timeout: float = 120.0) -> None:
        import httpx

        self.url = url.rstrip("/")
        self.k = k
        headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def describe(self) -> dict[str, Any]:
        return {"target": "http", "url": self.url, "top_k": self.k}

    def answer(self, question: str, mode: str | None) -> Outcome:
        import httpx

        body: dict[str, Any] = {"question": question, "retrieved": RETRIEVAL_DEPTH}
        if self.k:
            body["k"] = self.k
        try:
            response = self.client.post("/ask", json=body)
        except httpx.HTTPError as exc:
            raise EvalRunError(f"cannot reach {self.url}: {type(exc).__name__}") from None
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code != 200 or not isinstance(data, dict):
            error = (data or {}).get("error", {}) if isinstance(data, dict) else {}
            raise EvalRunError(f"{self.url}/ask answered HTTP {response.status_code}: "
                               f"{error.get('message', response.text[:200])}")
        return Outcome(
            answer=data["answer"], refused=data["refused"], model=data["model"],
            citations=[{key: c[key] for key in ("n", "doc_id", "start", "end", "quote")} for c in data["citations"]],
            sentences=data.get("sentences", []), dropped=data.get("dropped_citations", 0),
            retrieved=[(p["doc_id"], p["start"], p["end"]) for p in data.get("retrieved", [])],
            timings_ms=data.get("timings_ms", {}), confidence=float(data.get("confidence") or 0.0),
            closest=({key: data["closest"][key] for key in ("doc_id", "start", "end", "quote", "probability")}
                     if isinstance(data.get("closest"), dict) else None),
        )
