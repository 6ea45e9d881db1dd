"""The extractive answerer: the offline default. It generates no text.

It asks the judge (:mod:`service.answer.judge`) how likely each sentence of the retrieved passages answers the question,
and how likely the best of them does (the confidence). Then:

1. **Refuse or answer.** When the probability that the passages answer the question at all is below
   ``refuse_threshold`` and the confidence is below ``JudgeModel.answer_confidence`` (0.8), it refuses (the
   fixed refusal sentence); the best candidate is still reported, as the closest passage.
2. **Say what answers, no more.** It says the best sentence and the other sentences of the same document whose
   probability clears ``sentence_threshold`` (at most ``max_sentences``), word for word and in document order, each
   followed by the marker of its passage. A sentence that introduces a short command or code block ("To install
   it, use pip:" over ``pip install foo``) is said with the block (:func:`with_its_block`): the block is what
   the reader asked for, and it is never a candidate of its own. Both thresholds are calibrated by ``citeqa
   train-judge`` and kept with the judge's model (settings may override them).

Each piece it yields is a :class:`Quote`: the text said and the exact span of the passage it comes from, so its
citation is that span by construction (:func:`service.answer.citations.cite_quotes`), never re-resolved by word overlap.
The text said is the sentence's words as they stand, on one line (:func:`spoken`: a manual page's justified spacing
and line-end hyphenation undone); the citation's quote is the span verbatim.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import replace

from ingest.chunking import LIST_MARKER
from service.answer.citations import MARKER, Quote
from service.answer.judge import Candidate, Judgement, JudgeModel, ends_like_sentence, is_prose
from service.answer.prompts import REFUSAL
from service.answer.retrieval import Passage

# a word a manual page hyphenated at a line's end (groff's U+2010 hyphen, or a soft hyphen)
_SPLIT_WORD = re.compile(r"(\w+)([\u2010\u00ad])[ \t]*\n\s*(\w+)")
# an ASCII hyphen at a line's end may be the word's own ("built-\n in"): kept, the line joined after it
_HYPHEN_AT_END = re.compile(r"(?<=\w-)[ \t]*\n\s*(?=\w)")
WORD = 3.0  # wordfreq's Zipf frequency of a word in use (~1 in a million words)


def _rejoin(match: re.Match[str]) -> str:
    """One word again (``de‐\\n vice``: device), unless the hyphen may be the word's own (``command‐\\n line``,
    which groff prints with the same U+2010): two words in use whose joining is not one (``commandline``); a
    compound that could go either way keeps its hyphen (``file‐system``), which never makes a word up."""
    from wordfreq import zipf_frequency

    left, hyphen, right = match.groups()
    if hyphen == "\u2010":
        both_words = min(zipf_frequency(left, "en"), zipf_frequency(right, "en")) >= WORD
        if both_words and zipf_frequency(left + right, "en") < WORD:
            return f"{left}{hyphen}{right}"
    return left + right


def spoken(sentence: str) -> str:
    """A source sentence as an answer says it: its words joined by single spaces (wrapped lines and justified
    spacing undone) and a word hyphenated at a line's end made one word again. No word is added, dropped or
    reordered."""
    joined = _HYPHEN_AT_END.sub("", _SPLIT_WORD.sub(_rejoin, sentence))
    return " ".join(joined.split())


# what follows a sentence ending in a colon: a blank line, then one block (up to the next blank line or the end)
_NEXT_BLOCK = re.compile(r"[ \t]*\n[ \t]*\n(?P<block>[^\n]*\S[^\n]*(?:\n[^\n]*\S[^\n]*)*)"
                         r"(?=[ \t]*(?:\n[ \t]*\n|\n?$))")
# a command or a line of code opens the block: a prompt (`$ `, `>>> `) or a lower-case program or keyword
# (`pip install foo`, `from foo import bar`); a heading, a list item or a sentence does not
_COMMAND = re.compile(r"[ \t]*(?:\$ |>>> |[a-z][\w.+/-]*(?:[ \t]|$))", re.MULTILINE)
# the block after it: at least one blank line, then what opens it
_AFTER = re.compile(r"[ \t]*\n(?:[ \t]*\n)+(?=[ \t]*\S)")
# ... goes on with the code: it opens like a command, indented, or with code's characters
_CODE_GOES_ON = re.compile(r"[ \t]|[@#\[{(<]|[^\n]*=|" + _COMMAND.pattern.removeprefix("[ \t]*"), re.MULTILINE)
BLOCK_LINES = 2  # a longer block is an example, not the command the sentence introduces
BLOCK_LINE_CHARS = 100


def with_its_block(candidate: Candidate, text: str) -> Candidate:
    """``candidate`` (a sentence of the passage ``text``) extended over the block it introduces: when it ends with
    a colon and the next block, after a blank line, is a command or code of at most ``BLOCK_LINES`` short lines
    (``pip install python-dateutil`` under "... can be installed from PyPI using pip:"), followed in the passage by
    a block that does not go on with the code (a blank line inside a longer example splits it into blocks, and at
    the passage's end there is no telling). A block with a list's item (a candidate of its own) or with what
    reads as a citation marker (``argv[1]``, which the answer would drop) is not a command. Otherwise unchanged."""
    if not candidate.text.rstrip().endswith(":"):
        return candidate
    found = _NEXT_BLOCK.match(text, candidate.end)
    if found is None:
        return candidate
    block = found.group("block").rstrip()
    lines = block.split("\n")
    if (len(lines) > BLOCK_LINES or any(len(line.strip()) > BLOCK_LINE_CHARS for line in lines)
            or not _COMMAND.match(lines[0]) or is_prose(block) or MARKER.search(block)
            # a list's item is a candidate of its own, not code
            or any(LIST_MARKER.match(line) for line in lines)):
        return candidate
    end = found.start("block") + len(block)
    after = _AFTER.match(text, end)
    if after is None or _CODE_GOES_ON.match(text, after.end()):
        return candidate
    return replace(candidate, end=end, text=text[candidate.start:end])


def choose(keys: Sequence[tuple[str, int, float]], best: int, threshold: float, max_sentences: int) -> list[int]:
    """Which candidates to say, given per candidate (document id, offset in the document, probability): the
    ``best`` one and the others of its document with probability >= ``threshold``, at most ``max_sentences``
    (the most probable), in document order."""
    doc = keys[best][0]
    picked = [i for i, (d, _, p) in enumerate(keys) if d == doc and (i == best or p >= threshold)]
    picked.sort(key=lambda i: (i != best, -keys[i][2], keys[i][1]))
    return sorted(picked[:max_sentences], key=lambda i: keys[i][1])


class ExtractiveAnswerer:
    name = "extractive"

    def __init__(self, model: JudgeModel, sentence_threshold: float, refuse_threshold: float,
                 max_sentences: int) -> None:
        self.model = model
        self.sentence_threshold = sentence_threshold
        self.refuse_threshold = refuse_threshold
        self.max_sentences = max_sentences

    def select(self, judgement: Judgement, passages: Sequence[Passage]) -> list[Candidate]:
        """The sentences to answer with, in document order; empty when it should refuse."""
        best = judgement.best
        if best is None or not self.model.answers(judgement.answerable, judgement.confidence, self.refuse_threshold):
            return []
        candidates = judgement.candidates
        keys = [(c.doc_id, passages[c.passage].chunk.start + c.start, c.probability) for c in candidates]
        chosen = choose(keys, candidates.index(best), self.sentence_threshold, self.max_sentences)
        said = [with_its_block(candidates[i], passages[candidates[i].passage].chunk.text) for i in chosen]
        # a sentence a block said with its introduction already holds is not said again
        return [c for c in said if not any(o is not c and o.passage == c.passage and o.start <= c.start
                                              and c.end <= o.end for o in said)]

    def stream(self, question: str, passages: Sequence[Passage], judgement: Judgement) -> Iterator[str]:
        chosen = self.select(judgement, passages)
        if not chosen:
            yield REFUSAL
            return
        yield from pieces(chosen)


def pieces(chosen: Sequence[Candidate]) -> Iterator[Quote]:
    """The answer, a sentence at a time: each chosen sentence's words (:func:`spoken`), followed by its passage's
    marker. A quote that does not end like a sentence (a header field, ``Author: Philip A. Nelson``) is followed by
    a blank line rather than a space, so that read back as text (the stream's check, ``AskPipeline.checker``) it
    is still a sentence of its own, with its own citation."""
    separator = ""
    for candidate in chosen:
        # a source sentence's own bracketed numbers (footnotes) must not read as our markers
        text = spoken(MARKER.sub("", candidate.text))
        yield Quote(f"{separator}{text} [{candidate.passage + 1}]", candidate.passage, candidate.start, candidate.end)
        separator = " " if ends_like_sentence(text) else "\n\n"
