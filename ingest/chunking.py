"""Sentence-aware chunking that keeps character offsets.

A chunk is a run of whole sentences: ``chunk.text == document.text[chunk.start:chunk.end]``. Sentences are
packed greedily until the next one would push the chunk past ``max_tokens`` word-pieces, so every chunk fits
the embedding model's window and nothing is silently truncated. A single sentence longer than the window (rare:
tables, lists without punctuation) cannot be embedded whole; it alone is cut at word boundaries.

Sentence boundaries: line breaks, and ``.``/``!``/``?`` (with any closing quotes or brackets) followed by
whitespace and a capital letter, digit or opening quote, unless the word before the stop is a known
abbreviation or a single initial (``U.S.``, ``Dr.``, ``J.``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from ingest.models import Chunk, Document, chunk_id

Span = tuple[int, int]
TokenCounter = Callable[[Sequence[str]], list[int]]

ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "inc", "ltd", "co",
    "corp", "no", "vol", "fig", "gen", "gov", "sen", "rep", "lt", "col", "capt", "sgt", "mt", "jan", "feb",
    "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "approx", "dept", "est", "u.s",
    "u.k", "u.n", "a.m", "p.m", "ca", "cf", "al",
}

_BOUNDARY = re.compile(r"[.!?]+['\"”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9À-ÖØ-Þ])")
_WORD_BEFORE = re.compile(r"([\w.]+)[.!?]*$")


def _is_abbreviation(text: str, stop: int) -> bool:
    if text[stop] != ".":
        return False
    match = _WORD_BEFORE.search(text, max(0, stop - 12), stop + 1)
    if not match:
        return False
    word = match.group(1).rstrip(".").lower()
    return word in ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def _trimmed(text: str, start: int, end: int) -> Span | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def split_sentences(text: str) -> list[Span]:
    """Character spans of the sentences of ``text``, in order, with surrounding whitespace excluded."""
    spans: list[Span] = []
    line_start = 0
    for line in text.split("\n"):
        line_end = line_start + len(line)
        start = line_start
        for match in _BOUNDARY.finditer(text, line_start, line_end):
            if _is_abbreviation(text, match.start()):
                continue
            span = _trimmed(text, start, match.end())
            if span:
                spans.append(span)
            start = match.end()
        span = _trimmed(text, start, line_end)
        if span:
            spans.append(span)
        line_start = line_end + 1
    return spans


def _cut_long_sentence(text: str, span: Span, count: TokenCounter, max_tokens: int) -> list[Span]:
    """Cut one over-long sentence at word boundaries into pieces of at most ``max_tokens``."""
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text[span[0] : span[1]])]
    sizes = count([text[span[0] + a : span[0] + b] for a, b in words])
    pieces: list[Span] = []
    piece_start, used = None, 0
    last_end = 0
    for (a, b), size in zip(words, sizes, strict=True):
        if piece_start is not None and used + size > max_tokens:
            pieces.append((span[0] + piece_start, span[0] + last_end))
            piece_start, used = None, 0
        if piece_start is None:
            piece_start = a
        used += size
        last_end = b
        if size > max_tokens:  # a single "word" longer than the window: keep it, the model truncates it
            pieces.append((span[0] + piece_start, span[0] + b))
            piece_start, used = None, 0
    if piece_start is not None:
        pieces.append((span[0] + piece_start, span[0] + last_end))
    return pieces


def chunk_spans(text: str, count: TokenCounter, max_tokens: int) -> list[Span]:
    """Group sentence spans into chunk spans of at most ``max_tokens`` word-pieces each.

    The word-piece count of text cut at whitespace is the sum of its parts' counts (BERT pre-tokenises on
    whitespace and punctuation), so sentences are counted once and summed.
    """
    sentences = split_sentences(text)
    sizes = count([text[a:b] for a, b in sentences])
    units: list[tuple[Span, int]] = []
    for span, size in zip(sentences, sizes, strict=True):
        if size > max_tokens:
            pieces = _cut_long_sentence(text, span, count, max_tokens)
            units.extend(zip(pieces, count([text[a:b] for a, b in pieces]), strict=True))
        else:
            units.append((span, size))
    chunks: list[Span] = []
    current: Span | None = None
    used = 0
    for (start, end), size in units:
        if current is not None and used + size <= max_tokens:
            current, used = (current[0], end), used + size
            continue
        if current is not None:
            chunks.append(current)
        current, used = (start, end), size
    if current is not None:
        chunks.append(current)
    return chunks


def chunk_document(document: Document, count: TokenCounter, max_tokens: int) -> list[Chunk]:
    chunks = []
    for index, (start, end) in enumerate(chunk_spans(document.text, count, max_tokens)):
        text = document.text[start:end]
        chunks.append(
            Chunk(
                id=chunk_id(document.id, start, text),
                doc_id=document.id,
                index=index,
                start=start,
                end=end,
                text=text,
                title=document.title,
                source=document.source,
            )
        )
    return chunks
