"""Citation checking: the one place where an answer's ``[n]`` markers become citations, for every answerer.

``check_citations(answer, passages)`` takes the raw answer text, whose markers ``[n]`` (or ``[n, m]``) refer
to the 1-based position of a passage given to the answerer, and returns:

- the answer text with every marker that does not resolve to a passage removed (and counted in ``dropped``),
  and the others renumbered 1, 2, 3... in order of first appearance;
- one :class:`Citation` per distinct supporting span: the sentence of the cited passage that best supports the
  answer sentence carrying the marker (most of the answer sentence's words found in it), with its document id,
  title, source, chunk id, character offsets in the document, the quoted text and, for a PDF, the page the
  quote starts on (from the page starts its chunk carries: :meth:`ingest.models.Chunk.page_at`);
- per answer sentence, the citations it carries and whether they support it: ``supported`` is true when at
  least one of its cited spans rates at least ``supported_at``. A sentence without a valid citation is never
  supported.

Which sentence of a cited passage a marker resolves to, and how well it supports the answer sentence, is asked of
a ``rate`` function: the pipeline passes the judge's (:meth:`service.answer.judge.Judge.rater`: the probability that
the source sentence supports the answer sentence); without one, the share of the answer sentence's content
words found in the source sentence (at least ``SUPPORT_MIN_OVERLAP`` to support).

An extractive answer needs none of this: each sentence it says is a span of a passage, so
:func:`cite_quotes` cites exactly that span.

Both are pure functions: nothing an answerer says is trusted; only retrieved passages can be cited.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ingest.chunking import split_sentences
from ingest.models import Chunk
from service.answer.retrieval import tokenize

# (answer sentence, 0-based passage index) -> (start, end, score) for each sentence of that passage
Rater = Callable[[str, int], list[tuple[int, int, float]]]

MARKER = re.compile(r"[ \t]*\[(\s*\d{1,4}(?:\s*,\s*\d{1,4})*\s*)\]")
SUPPORT_MIN_OVERLAP = 0.3


class Quote(str):
    """A piece of an extractive answer (:mod:`service.answer.extractive`): ``" <sentence> [n]"``, knowing the
    passage (0-based) and the span of the passage's text it says."""

    passage: int
    start: int
    end: int

    def __new__(cls, text: str, passage: int, start: int, end: int) -> Quote:
        quote = super().__new__(cls, text)
        quote.passage, quote.start, quote.end = passage, start, end
        return quote


@dataclass(frozen=True)
class Citation:
    n: int
    doc_id: str
    title: str
    source: str
    chunk_id: str
    start: int
    end: int
    quote: str
    page: int | None = None  # 1-based page of a PDF the quote starts on; None for documents without pages


@dataclass
class AnswerSentence:
    text: str
    citations: list[int] = field(default_factory=list)
    supported: bool = False


@dataclass
class CheckedAnswer:
    text: str
    citations: list[Citation]
    sentences: list[AnswerSentence]
    dropped: int = 0


def _overlap(claim: set[str], source: str) -> float:
    if not claim:
        return 0.0
    return len(claim & set(tokenize(source))) / len(claim)


def overlap_rater(passages: Sequence[Chunk]) -> Rater:
    """Rates each sentence of a passage by the share of the claim's content words it holds."""
    def rate(claim: str, index: int) -> list[tuple[int, int, float]]:
        words = set(tokenize(claim))
        text = passages[index].text
        return [(start, end, _overlap(words, text[start:end])) for start, end in split_sentences(text)]

    return rate


def _parse(answer: str) -> tuple[str, list[tuple[int, int, list[int]]]]:
    """Strip markers. Returns the bare text and (position in bare text, marker index, refs) per marker."""
    bare: list[str] = []
    markers = []
    last = 0
    length = 0
    for index, match in enumerate(MARKER.finditer(answer)):
        piece = answer[last : match.start()]
        bare.append(piece)
        length += len(piece)
        refs = [int(part) for part in match.group(1).split(",")]
        markers.append((length, index, refs))
        last = match.end()
    bare.append(answer[last:])
    return "".join(bare), markers


def check_citations(answer: str, passages: Sequence[Chunk], rate: Rater | None = None,
                    supported_at: float = SUPPORT_MIN_OVERLAP) -> CheckedAnswer:
    rate = rate or overlap_rater(passages)
    bare, markers = _parse(answer)
    spans = split_sentences(bare) or [(0, len(bare))]
    sentences = [AnswerSentence(text=bare[a:b]) for a, b in spans]
    best_overlap = [0.0] * len(spans)
    numbers: dict[tuple[str, int, int], int] = {}
    citations: list[Citation] = []
    resolved: dict[int, list[int]] = {}
    dropped = 0
    for position, index, refs in markers:
        owner = max((i for i, (a, _) in enumerate(spans) if a < position), default=0)
        claim = bare[spans[owner][0] : spans[owner][1]]
        kept: list[int] = []
        for ref in refs:
            if not 1 <= ref <= len(passages):
                dropped += 1
                continue
            chunk = passages[ref - 1]
            start, end, overlap = max(rate(claim, ref - 1) or [(0, len(chunk.text), 0.0)],
                                      key=lambda rated: rated[2])
            key = (chunk.id, chunk.start + start, chunk.start + end)
            if key not in numbers:
                numbers[key] = len(citations) + 1
                citations.append(Citation(
                    n=numbers[key], doc_id=chunk.doc_id, title=chunk.title, source=chunk.source,
                    chunk_id=chunk.id, start=key[1], end=key[2], quote=chunk.text[start:end],
                    page=chunk.page_at(key[1]),
                ))
            if numbers[key] not in kept:
                kept.append(numbers[key])
            best_overlap[owner] = max(best_overlap[owner], overlap)
            if numbers[key] not in sentences[owner].citations:
                sentences[owner].citations.append(numbers[key])
        resolved[index] = kept
    for i, sentence in enumerate(sentences):
        sentence.supported = bool(sentence.citations) and best_overlap[i] >= supported_at
    return CheckedAnswer(text=_rebuild(answer, resolved), citations=citations, sentences=sentences,
                         dropped=dropped)


def cite_quotes(quotes: Sequence[Quote], passages: Sequence[Chunk]) -> CheckedAnswer:
    """An extractive answer's citations, by construction: each quote's own span of its passage, numbered 1, 2, 3...
    in order (the same span twice keeps its number); every sentence is supported, being its source."""
    numbers: dict[tuple[str, int, int], int] = {}
    citations: list[Citation] = []
    sentences: list[AnswerSentence] = []
    text: list[str] = []
    for quote in quotes:
        chunk = passages[quote.passage]
        key = (chunk.id, chunk.start + quote.start, chunk.start + quote.end)
        if key not in numbers:
            numbers[key] = len(citations) + 1
            citations.append(Citation(
                n=numbers[key], doc_id=chunk.doc_id, title=chunk.title, source=chunk.source, chunk_id=chunk.id,
                start=key[1], end=key[2], quote=chunk.text[quote.start:quote.end], page=chunk.page_at(key[1]),
            ))
        said_as = str(quote)
        said = MARKER.sub("", said_as).strip()
        sentences.append(AnswerSentence(text=said, citations=[numbers[key]], supported=True))
        # what comes before the quote as the answerer said it: a space, or a blank line after a header field
        lead = (said_as[: len(said_as) - len(said_as.lstrip())] or " ") if text else ""
        text.append(f"{lead}{said} [{numbers[key]}]")
    return CheckedAnswer(text="".join(text), citations=citations, sentences=sentences, dropped=0)


def _rebuild(answer: str, resolved: dict[int, list[int]]) -> str:
    counter = iter(range(len(resolved)))

    def replace(match: re.Match[str]) -> str:
        refs = resolved[next(counter)]
        if not refs:
            return ""
        return f"{match.group(0)[: len(match.group(0)) - len(match.group(0).lstrip())]}[{', '.join(map(str, refs))}]"

    return MARKER.sub(replace, answer).strip()
