"""The extractive answerer: the offline default. It generates no text.

It splits the retrieved passages into sentences and embeds the question and each passage with the embedding model
(all-MiniLM-L6-v2); each sentence's vector is pooled from its passage's forward pass (the mean of the contextual
token vectors inside the sentence, ``LocalEmbedder.embed_with_spans``), so it costs no encoder work of its own and
is read in its passage's context. With ``sentence_vectors`` (the default) ingest keeps these vectors in the store
and a question encodes only itself. Then:

1. **Refuse or answer.** The confidence that the passages answer the question is

       confidence = PASSAGE_MIX * best cosine(question, sentence)
                  + (1 - PASSAGE_MIX) * best cosine(question, passage)

   and it refuses (the fixed refusal sentence) when confidence < ``extractive_min_score``. A question the
   sources are only *about* tends to match neither one sentence nor one passage as well as a question they
   answer; the mean of the two separates them better than either alone (see evals/README.md).
2. **Select.** Sentences are scored by cosine(question, sentence). It keeps the best sentence and the other
   sentences *of the same document* scoring within ``extractive_margin`` of it, at most
   ``extractive_max_sentences``, and says them in document order, each followed by the marker of its passage.
   Sentences of other documents are left out: they are rarely the evidence, and citing them costs precision.

Every sentence it says is a sentence of a source. Sentences of fewer than ``MIN_WORDS`` words (headings,
bylines) are not candidates. The threshold and margin are calibrated on CLAPnq (``evals/calibrate.py``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from ingest.chunking import split_sentences
from ingest.embedding import Embedder, Span
from ingest.models import Chunk
from service.citations import MARKER
from service.prompts import REFUSAL
from service.settings import Settings

PASSAGE_MIX = 0.5
MIN_WORDS = 4


@dataclass(frozen=True)
class Candidate:
    passage: int  # 0-based position among the passages
    doc_id: str
    start: int  # offset in the document
    text: str
    score: float  # cosine(question, sentence)


@dataclass(frozen=True)
class Scored:
    """The candidate sentences of one question, and the confidence that the passages answer it."""

    candidates: list[Candidate]
    best_sentence: float = -1.0  # best cosine(question, sentence)
    best_passage: float = -1.0  # best cosine(question, passage)

    @property
    def confidence(self) -> float:
        return PASSAGE_MIX * self.best_sentence + (1 - PASSAGE_MIX) * self.best_passage


class ExtractiveAnswerer:
    name = "extractive"

    def __init__(self, embedder: Embedder, settings: Settings) -> None:
        self.embedder = embedder
        self.min_score = settings.extractive_min_score
        self.margin = settings.extractive_margin
        self.max_sentences = settings.extractive_max_sentences

    def _embed_question(self, question: str) -> np.ndarray:
        embed_cached = getattr(self.embedder, "embed_cached", None)
        return (embed_cached([question]) if embed_cached else self.embedder.embed([question]))[0]

    def _embed_passages(self, texts: list[str], spans: list[list[Span]]) -> tuple[np.ndarray, list[np.ndarray]]:
        cached = getattr(self.embedder, "embed_with_spans_cached", None)
        return cached(texts, spans) if cached else self.embedder.embed_with_spans(texts, spans)

    def score(self, question: str, passages: Sequence[Chunk]) -> Scored:
        spans = [split_sentences(chunk.text) for chunk in passages]
        found = [
            (i, n, chunk, start, chunk.text[start:end])
            for i, chunk in enumerate(passages)
            for n, (start, end) in enumerate(spans[i])
            if len(chunk.text[start:end].split()) >= MIN_WORDS
        ]
        if not found:
            return Scored([])
        question_vector = self._embed_question(question)
        passage_vectors, sentence_vectors = self._embed_passages([chunk.text for chunk in passages], spans)
        passage_cosine = passage_vectors @ question_vector
        candidates = [
            Candidate(i, chunk.doc_id, chunk.start + start, text, float(sentence_vectors[i][n] @ question_vector))
            for i, n, chunk, start, text in found
        ]
        best_sentence = max(candidate.score for candidate in candidates)
        return Scored(candidates, best_sentence, float(passage_cosine.max()))

    def select(self, scored: Scored) -> list[Candidate]:
        """The sentences to answer with, in document order; empty when it should refuse."""
        if not scored.candidates or scored.confidence < self.min_score:
            return []
        ranked = sorted(scored.candidates, key=lambda c: (-c.score, c.passage, c.start))
        best = ranked[0]
        chosen: list[Candidate] = []
        seen: set[int] = set()
        for candidate in ranked:
            if len(chosen) == self.max_sentences or candidate.score < best.score - self.margin:
                break
            # the same sentence may sit in two overlapping passages; say it once
            if candidate.doc_id == best.doc_id and candidate.start not in seen:
                seen.add(candidate.start)
                chosen.append(candidate)
        return sorted(chosen, key=lambda c: c.start)

    def stream(self, question: str, passages: Sequence[Chunk]) -> Iterator[str]:
        chosen = self.select(self.score(question, passages))
        if not chosen:
            yield REFUSAL
            return
        yield from pieces(chosen)


def pieces(chosen: Sequence[Candidate]) -> Iterator[str]:
    """The answer, a sentence at a time: each chosen sentence verbatim, followed by its passage's marker."""
    for index, candidate in enumerate(chosen):
        # a source sentence's own bracketed numbers (footnotes) must not read as our markers
        text = MARKER.sub("", candidate.text)
        yield ("" if index == 0 else " ") + f"{text} [{candidate.passage + 1}]"
