"""Streaming an answer whose text never has to be taken back: checked citations, released a sentence at a time.

The answerer's deltas are raw: the citation checker (:func:`service.answer.citations.check_citations`, as the
pipeline configures it for the passages: ``AskPipeline.checker``) later removes markers that name no passage and
renumbers the others; the stream checks with that very checker, which the ``sources`` event carries. ``POST
/chat`` streams the raw deltas and lets the page replace them with the checked text; a client of the OpenAI
protocol can only append. :class:`CheckedStream` therefore holds the raw text back and releases it a **sentence
at a time, already checked**:

- each time a new sentence *begins* (in the answer without its markers, by the chunker's own sentence rule),
  everything before it is checked and the part not yet released is released. A sentence is only released once
  the next one has started (or the answer ends), so the markers written after its full stop go with it;
- a marker still being written (``[1``) at the end of the text is ignored until it closes;
- nothing is released while the answer could still be the refusal sentence (the pipeline turns an answer that
  starts with it into exactly that sentence), nor at all when ``hold`` is set (an LLM with a fallback answerer:
  a failure half-way would replace the whole answer);
- :meth:`CheckedStream.finish` releases the rest of the pipeline's final checked text.

Why a checked prefix is a prefix of the final checked text: the checker numbers citations in order of first
appearance, and a marker's citation depends only on its passage and on the sentence that owns it. Sentence
boundaries before a sentence that has begun do not move when text is appended (the rule looks back, and ahead
only as far as the next sentence's first character), so each released marker keeps its owner, its citation and
its number. ``tests/test_checked_stream.py`` checks this on generated answers cut into random pieces. Were it
ever broken, :meth:`finish` logs it and appends the whole final text after a blank line rather than leave the
client with numbers that do not match ``citations``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from ingest.chunking import split_sentences
from service.answer.citations import MARKER, CheckedAnswer
from service.answer.prompts import REFUSAL

log = logging.getLogger(__name__)

OPEN_MARKER = re.compile(r"[ \t]*\[[\d\s,]*$")  # "[", "[1", "[1, 2" at the very end: a marker being written
_REFUSAL_STEM = REFUSAL.lower().rstrip(".")


def could_be_refusal(raw: str) -> bool:
    """True while ``raw`` is, or may still become, an answer the pipeline treats as a refusal."""
    text = " ".join(raw.lower().split())
    return text.startswith(_REFUSAL_STEM) or _REFUSAL_STEM.startswith(text)


def last_sentence_start(raw: str) -> int | None:
    """Where, in ``raw``, the last sentence begins when the text has at least two (markers not counted)."""
    open_marker = OPEN_MARKER.search(raw)
    if open_marker:
        raw = raw[: open_marker.start()]
    segments: list[tuple[int, int]] = []  # the raw spans between markers
    last = 0
    for match in MARKER.finditer(raw):
        segments.append((last, match.start()))
        last = match.end()
    segments.append((last, len(raw)))
    bare = "".join(raw[a:b] for a, b in segments)
    spans = split_sentences(bare)
    if len(spans) < 2:
        return None
    position = spans[-1][0]
    for a, b in segments:
        if position < b - a:
            return a + position
        position -= b - a
    return None  # unreachable: a sentence starts at a character of the text


class CheckedStream:
    """Feed the raw deltas; get back text that is already checked and final (see the module docstring)."""

    def __init__(self, check: Callable[[str], CheckedAnswer], hold: bool = False) -> None:
        self.check = check  # the pipeline's own checker of these passages (the sources event's ``check``)
        self.hold = hold
        self.raw = ""
        self.sent = ""
        self._cut = 0

    def feed(self, piece: str) -> str:
        """Add a raw delta; return the checked text it completes ('' when none)."""
        self.raw += piece
        if self.hold or could_be_refusal(self.raw):
            return ""
        cut = last_sentence_start(self.raw)
        if cut is None or cut <= self._cut:
            return ""
        self._cut = cut
        return self._advance(self.check(self.raw[:cut]).text)

    def finish(self, final: str) -> str:
        """The rest of ``final``, the pipeline's checked answer, to send after what was sent already."""
        if final.startswith(self.sent):
            return self._advance(final)
        log.error("streamed text is not a prefix of the checked answer; sending the whole answer again")
        self.sent = f"{self.sent}\n\n{final}"
        return f"\n\n{final}"

    def _advance(self, text: str) -> str:
        if not text.startswith(self.sent) or len(text) <= len(self.sent):
            return ""
        released, self.sent = text[len(self.sent) :], text
        return released
