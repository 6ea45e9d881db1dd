"""The extractive answerer: the offline default. It generates no text.

It splits the retrieved passages into sentences and scores each against the question:

    score = cosine(question, sentence)            (all-MiniLM-L6-v2, the embedding model)
          + LEXICAL_WEIGHT * share of the question's content words found in the sentence

If no sentence scores at least ``extractive_min_score``, it refuses with the fixed refusal sentence. Otherwise
it keeps the best sentence and any other within ``extractive_margin`` of it (at most
``extractive_max_sentences``), orders them as they stand in the passages (by passage rank, then position), and
returns them, each followed by the marker of its passage. Every sentence it says is a sentence of a source.

The threshold is calibrated on the CLAPnq dev set (see evals/README.md); sentences of fewer than
``MIN_WORDS`` words (headings, bylines) are not candidates.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from ingest.chunking import split_sentences
from ingest.embedding import Embedder
from ingest.models import Chunk
from service.citations import MARKER
from service.prompts import REFUSAL
from service.retrieval import tokenize
from service.settings import Settings

LEXICAL_WEIGHT = 0.2
MIN_WORDS = 4


@dataclass(frozen=True)
class Candidate:
    passage: int  # 0-based position among the passages
    start: int
    text: str
    score: float


class ExtractiveAnswerer:
    name = "extractive"

    def __init__(self, embedder: Embedder, settings: Settings) -> None:
        self.embedder = embedder
        self.min_score = settings.extractive_min_score
        self.margin = settings.extractive_margin
        self.max_sentences = settings.extractive_max_sentences

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        embed_cached = getattr(self.embedder, "embed_cached", None)
        return embed_cached(texts) if embed_cached else self.embedder.embed(texts)

    def candidates(self, question: str, passages: Sequence[Chunk]) -> list[Candidate]:
        found = [
            (i, start, chunk.text[start:end])
            for i, chunk in enumerate(passages)
            for start, end in split_sentences(chunk.text)
            if len(chunk.text[start:end].split()) >= MIN_WORDS
        ]
        if not found:
            return []
        vectors = self._embed([question] + [text for _, _, text in found])
        cosine = vectors[1:] @ vectors[0]
        words = set(tokenize(question))
        scored = []
        for (i, start, text), cos in zip(found, cosine, strict=True):
            lexical = len(words & set(tokenize(text))) / len(words) if words else 0.0
            scored.append(Candidate(i, start, text, float(cos) + LEXICAL_WEIGHT * lexical))
        return scored

    def select(self, candidates: list[Candidate]) -> list[Candidate]:
        if not candidates:
            return []
        ranked = sorted(candidates, key=lambda c: (-c.score, c.passage, c.start))
        best = ranked[0].score
        if best < self.min_score:
            return []
        chosen = [c for c in ranked if c.score >= best - self.margin][: self.max_sentences]
        return sorted(chosen, key=lambda c: (c.passage, c.start))

    def stream(self, question: str, passages: Sequence[Chunk]) -> Iterator[str]:
        chosen = self.select(self.candidates(question, passages))
        if not chosen:
            yield REFUSAL
            return
        for index, candidate in enumerate(chosen):
            # a source sentence's own bracketed numbers (footnotes) must not read as our markers
            text = MARKER.sub("", candidate.text)
            yield ("" if index == 0 else " ") + f"{text} [{candidate.passage + 1}]"
