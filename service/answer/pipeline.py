"""The answer pipeline, written once: retrieve, answer, check citations.

:meth:`AskPipeline.events` yields the stages as they happen (``sources``, ``delta``..., ``citations``,
``done``); :meth:`AskPipeline.ask` consumes the same events and returns one :class:`AskResult`. Streaming is
only a way of delivering the events.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from service.answer.answering import Answerer
from service.answer.citations import CheckedAnswer, Citation, Quote, check_citations, cite_quotes
from service.answer.extractive import ExtractiveAnswerer
from service.answer.judge import SUPPORTED, Judge, Judgement
from service.answer.prompts import REFUSAL
from service.answer.retrieval import Passage, Retriever
from service.errors import InvalidInput, LLMError, NotFound
from service.settings import RetrievalMode, Settings

log = logging.getLogger(__name__)

# C0 controls other than tab/newline/carriage return, DEL, and C1 controls: never part of a real question.
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


@dataclass
class AskResult:
    question: str
    answer: str
    citations: list[Citation]
    refused: bool
    model: str
    passages: list[Passage]
    sentences: list[dict[str, Any]] = field(default_factory=list)
    dropped_citations: int = 0
    timings_ms: dict[str, float] = field(default_factory=dict)
    degraded: bool = False  # the LLM failed and the fallback answerer answered instead
    confidence: float = 0.0  # the judge's: that the best sentence of the passages answers the question
    closest: Citation | None = None  # a refusal's best candidate (n = 0), with its probability
    closest_probability: float | None = None


@dataclass(frozen=True)
class Event:
    kind: str  # sources | delta | citations | done
    data: Any
    # sources: the citation checker of these passages, the one the final answer is checked with, so that what a
    # stream releases early (service.answer.checked_stream) is a prefix of the final text
    check: Callable[[str], CheckedAnswer] | None = field(default=None, compare=False, repr=False)


def is_refusal(text: str) -> bool:
    return text.strip().lower().startswith(REFUSAL.lower().rstrip("."))


def passage_view(rank: int, passage: Passage) -> dict[str, Any]:
    chunk = passage.chunk
    return {
        "n": rank, "doc_id": chunk.doc_id, "title": chunk.title, "source": chunk.source, "chunk_id": chunk.id,
        "start": chunk.start, "end": chunk.end, "text": chunk.text, "score": round(passage.score, 6),
    }


class AskPipeline:
    def __init__(self, retriever: Retriever, judge: Judge, answerer: Answerer, settings: Settings,
                 fallback: Answerer | None = None) -> None:
        self.retriever = retriever
        self.judge = judge
        self.answerer = answerer
        self.settings = settings
        self.observers: list[Callable[[AskResult], None]] = []  # told of every result (e.g. the metrics)
        self.fallback = fallback

    @property
    def model(self) -> str:
        return self.answerer.name

    def validate(self, question: str, k: int | None) -> tuple[str, int]:
        question = question.strip() if isinstance(question, str) else ""
        if not question:
            raise InvalidInput("The question is empty.", field="question", code="question_empty")
        if not any(char.isalnum() for char in question[: self.settings.max_question_chars]):
            raise InvalidInput("The question has no words in it.", field="question", code="question_empty")
        if len(question) > self.settings.max_question_chars:
            raise InvalidInput(
                f"The question is longer than {self.settings.max_question_chars} characters.",
                field="question", code="question_too_long",
            )
        if CONTROL_CHARS.search(question):
            raise InvalidInput("The question contains control characters.", field="question",
                               code="question_control_characters")
        k = self.settings.top_k if k is None else k
        if not 1 <= k <= self.settings.max_k:
            raise InvalidInput(f"k must be between 1 and {self.settings.max_k}.", field="k", code="k_out_of_range")
        return question, k

    def check_documents(self, documents: Sequence[str] | None) -> None:
        """A ``documents`` filter must name stored documents: an unknown id is a 404 naming it (field
        ``documents``), not an answer from nothing. One store call, made only when a filter is given."""
        missing = self.retriever.store.missing_documents(documents) if documents else []
        if missing:
            names = ", ".join(repr(doc_id) for doc_id in missing[:10]) + (" ..." if len(missing) > 10 else "")
            raise NotFound(f"No document with id {names}." if len(missing) == 1 else f"No documents with ids {names}.",
                           field="documents", code="document_not_found")

    def checker(self, passages: Sequence[Passage]) -> Callable[[str], CheckedAnswer]:
        """How an answer's raw text is checked, while it streams and at its end: an LLM's markers resolve to the
        sentence of their passage the judge rates best for the answer sentence, and ``supported`` is the judge's.
        The extractive answerer's answer is cited by construction (:func:`cite_quotes`); read back as text, its
        whole quoted sentences resolve by word overlap to themselves. The rule is the configured answerer's: when
        an LLM fails and the extractive fallback answers, the final answer is its quotes (:func:`cite_quotes`), and
        the OpenAI stream, which releases text checked with this rule, holds everything back whenever a fallback
        is configured (``CheckedStream(hold=True)``), so it never releases text checked by the wrong rule."""
        chunks = [p.chunk for p in passages]
        if isinstance(self.answerer, ExtractiveAnswerer):
            return functools.partial(check_citations, passages=chunks)
        return functools.partial(check_citations, passages=chunks,
                                 rate=self.judge.rater(self.retriever.embedder, passages), supported_at=SUPPORTED)

    def events(
        self, question: str, k: int | None = None, documents: Sequence[str] | None = None,
        mode: RetrievalMode | None = None,
    ) -> Iterator[Event]:
        question, k = self.validate(question, k)
        self.check_documents(documents)
        started = time.perf_counter()
        retrieval = self.retriever.retrieve(question, k, documents or None, mode=mode)
        passages = retrieval.passages
        timings = dict(retrieval.timings_ms)
        timings.setdefault("embed", 0.0)
        check = self.checker(passages)
        yield Event("sources", [passage_view(i, p) for i, p in enumerate(passages, start=1)], check)
        answer_started = time.perf_counter()
        judgement = Judgement()
        if passages:
            vector = retrieval.query_embedding
            if vector is None:  # BM25-only retrieval embeds no question
                vector = self.retriever.embedder.embed_cached([question])[0]
            judgement = self.judge.score(question, vector, passages)
        pieces: list[str] = []
        answerer, degraded = self.answerer, False
        if passages:
            try:
                for piece in answerer.stream(question, passages, judgement):
                    pieces.append(piece)
                    yield Event("delta", piece)
            except LLMError as exc:
                if self.fallback is None:
                    raise
                # Degrade rather than fail; a streaming client replaces what it showed with the final text.
                log.warning("answerer %s failed (%s); answering with %s", answerer.name, exc.code, self.fallback.name)
                answerer, degraded, pieces = self.fallback, True, []
                for piece in answerer.stream(question, passages, judgement):
                    pieces.append(piece)
                    yield Event("delta", piece)
        else:
            pieces.append(REFUSAL)
            yield Event("delta", REFUSAL)
        raw = "".join(pieces)
        refused = is_refusal(raw)
        chunks = [p.chunk for p in passages]
        if refused:
            checked = CheckedAnswer(REFUSAL, [], [], 0)
        elif pieces and all(isinstance(piece, Quote) for piece in pieces):
            checked = cite_quotes([piece for piece in pieces if isinstance(piece, Quote)], chunks)
        else:
            checked = check(raw)
        closest, closest_probability = None, None
        best = judgement.best
        if refused and best is not None:
            chunk = chunks[best.passage]
            closest = Citation(n=0, doc_id=chunk.doc_id, title=chunk.title, source=chunk.source, chunk_id=chunk.id,
                               start=chunk.start + best.start, end=chunk.start + best.end, quote=best.text,
                               page=chunk.page_at(chunk.start + best.start))
            closest_probability = round(best.probability, 4)
        timings["answer"] = _ms(answer_started)
        timings["total"] = _ms(started)
        result = AskResult(
            question=question, answer=checked.text, citations=checked.citations, refused=refused,
            model=answerer.name, passages=passages, sentences=[asdict(s) for s in checked.sentences],
            dropped_citations=checked.dropped, timings_ms=timings, degraded=degraded,
            confidence=round(judgement.confidence, 4), closest=closest, closest_probability=closest_probability,
        )
        log.info("answered model=%s refused=%s confidence=%.3f degraded=%s citations=%d dropped=%d timings=%s",
                 answerer.name, refused, judgement.confidence, degraded, len(checked.citations), checked.dropped,
                 timings)
        for observe in self.observers:
            try:
                observe(result)
            except Exception:  # an observer never costs the user the answer
                log.exception("observer %r failed", observe)
        yield Event("citations", result)
        yield Event("done", timings)

    def ask(self, question: str, k: int | None = None, documents: Sequence[str] | None = None,
            mode: RetrievalMode | None = None) -> AskResult:
        result = None
        for event in self.events(question, k, documents, mode):
            if event.kind == "citations":
                result = event.data
        assert result is not None
        return result


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
