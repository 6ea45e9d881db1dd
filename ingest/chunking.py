"""Sentences as a reader sees them, and chunks of whole sentences that keep character offsets.

A chunk is a run of whole sentences: ``chunk.text == document.text[chunk.start:chunk.end]``. Sentences are
packed greedily until the next one would push the chunk past ``max_tokens`` word-pieces, so every chunk fits
the embedding model's window and nothing is silently truncated. A single sentence longer than the window (rare:
tables, lists without punctuation) cannot be embedded whole; it alone is cut at word boundaries.

Sentence boundaries (:func:`split_sentences`), in two steps:

1. The text is cut into *blocks* at what ends a sentence whatever the punctuation: a blank line; the start of a
   list item (``- ``, ``* ``, ``+ ``, ``•``, ``1.``, ``2)``, ``(a)``..., the marker itself not part of the sentence);
   a heading (a Markdown ``#`` line, a line underlined with ``===``/``---``, or a short line without closing
   punctuation that starts a sentence and is followed by a line starting with a capital, like ``Installation``
   above ``Run pip install citeqa.``); a ``Key: value`` field line (``Metadata-Version: 2.4``); a table row
   (``| a | b |``); a line ending with ``:`` followed by one that does not start in lower case; a manual page's
   section or subsection heading (``DESCRIPTION``, ``SEE ALSO``: capitals alone on a line after a blank one,
   indented at most 3 columns, over a line indented deeper, whatever that one starts with: ``patch takes ...``,
   ``-b  or  --backup``); and a line
   longer than usual hard wraps (over ``WRAP_MAX_CHARS``) without closing punctuation, followed by a title-like
   line starting with a capital (or by any line starting with a capital, past ``UNWRAPPED_CHARS``): text that is
   not hard-wrapped puts a paragraph or a title on each line (a web article's ``Members are reading: Why ...``
   teaser above its next section's title), so that line ends there. Any other single line break is a wrapped
   line: the sentence goes on across it.
2. Inside a block, ``.``/``!``/``?``/``…`` (with any closing quotes or brackets) followed by whitespace and a
   capital letter, digit or opening quote (or by a line break and anything but a lower-case letter) ends a
   sentence, unless the word before the stop is a known abbreviation or a single initial (``U.S.``, ``Dr.``,
   ``e.g.``, ``J.``; ``U.S.``, ``Inc.``, ``a.m.`` and initials do end one before ``He``, ``The``, ``It``...). A
   stop not followed by whitespace never ends one, so decimals (``3.14``), versions (``3.10+``, ``1.2.3``),
   e-mail addresses and URLs hold.

Lines of symbols only (``-----``, ``***``) are separators, never sentences. A span is always exact:
``text[start:end]`` is the sentence, surrounding whitespace excluded.

Compared with pysbd 0.3.4 (``Segmenter(language="en", clean=False, char_span=True)``, its spans trimmed of
whitespace) on the 56 cases of ``tests/sentence_cases.py`` (hard-wrapped lines, a capital or a number after a
wrap, blank lines, bullet/numbered/wrapped list items, Markdown, underlined and plain headings, field lines,
abbreviations, initials, decimals, versions, e-mails, URLs, quotes, ellipses, CLAPnq's tokenisation), counting
the cases whose sentences come out exactly right: this splitter 56/56, pysbd 41/56
(``tests/test_sentence_cases.py`` measures it again where pysbd is installed). pysbd ends a sentence at every
line break (the 4 wrapped-line cases), keeps list markers, ``#`` and underlines in sentences or splits a wrapped
list item (6 cases), and keeps ``Take vitamin C. It helps.`` whole. In the first round (45 cases) this splitter
had 43 and pysbd 35: pysbd was right, and this splitter wrong, on an abbreviation ending a sentence (``moved to
the U.S. He liked it``, ``Acme Inc. The deal``); those abbreviations now end a sentence when the next word is
one that starts sentences (``He``, ``The``...), and the 6 cases added after that (``10 a.m. Please``,
``vitamin C. It``, ``U.S. Army``, ``et al. (2020)``, ``?!``, a sentence starting ``iOS``) are right too, as is
the three added with the long-line rule (a web article's teaser line over a section title, which pysbd gets
right too; and two sentences wrapped at 120 columns, which it cuts at the line break), and the manual page's
sections and subsections added on 2026-11-29 (pysbd cuts each option and term from its definition at the line
break). This splitter was kept; pysbd is not a dependency.

Splitting a chunk's own text gives the chunk's sentences (the answerer, the judge and the sentence vectors split
``chunk.text``), except where a chunk would begin in the middle of a line (whose rest may read as a heading on
its own), just after a ``#`` (which ended the heading at the line's end) or after an indentation that made a
line no heading: the packer starts no chunk with such
a sentence when another one can, and checks it by splitting the sentence and the next one on their own. A chunk
that begins with a list item's first sentence begins with the item's marker (``- ``, ``1.``), which the sentence
itself leaves out: the chunk's first item then reads as an item, as the others do (until ``sentences-7`` it began
after the marker, and the judge never took it for one). The exception is an item whose sentence and marker
together are over the window (none at the default 200 word pieces in our documents): it begins at its sentence.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from ingest.models import Chunk, Document, chunk_id, pages_within

Span = tuple[int, int]
TokenCounter = Callable[[Sequence[str]], list[int]]

# Changes whenever the same text would be cut into other sentences or chunks: part of Indexer.recipe, so that
# documents chunked another way are chunked again by the next ingest.
SPLITTER_VERSION = "sentences-7"

ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "e.g", "i.e", "inc", "ltd", "co",
    "corp", "no", "vol", "fig", "figs", "gen", "gov", "sen", "rep", "lt", "col", "capt", "sgt", "mt", "jan",
    "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "approx", "dept", "est", "u.s",
    "u.k", "u.n", "a.m", "p.m", "ca", "cf", "al", "eq", "eqs", "sec", "ch", "pp", "p", "ed", "eds", "op", "ref",
    "refs", "nr", "resp", "viz", "ver", "v", "vols",
}

# abbreviations that may also end a sentence: they do when the next word is one that starts sentences
# ("moved to the U.S. He liked it", but "the U.S. Army")
ENDING_ABBREVIATIONS = {"u.s", "u.k", "u.n", "inc", "ltd", "co", "corp", "jr", "sr", "a.m", "p.m", "al", "est"}
SENTENCE_STARTERS = {
    "The", "A", "An", "He", "She", "It", "They", "We", "I", "You", "This", "That", "These", "Those", "There",
    "Here", "Its", "Their", "His", "Her", "Our", "My", "In", "On", "At", "But", "And", "However", "So", "Then",
    "Please", "If", "When", "What", "Why", "How", "Who", "After", "Before", "As", "Also", "Some", "Many", "Most",
    "All", "Each", "Today", "Yesterday", "Now", "Later",
}

_BOUNDARY = re.compile(
    r"(?:[.!?]+|…)['\"”’)\]]*(?=\s+(?:[\"'“‘(\[]?[A-Z0-9À-ÖØ-Þ]|[a-z]{1,3}[A-Z])|[ \t]*\n\s*[^\sa-zß-öø-ÿ])")
_WORD_BEFORE = re.compile(r"([\w.]+)[.!?]*$")
_NEXT_WORD = re.compile(r"\s+(\w+)\b")

# what starts a new block, at the start of a line (after any indentation); a list item's sentence starts after it
# (the judge reads it as the mark of a list's item too)
LIST_MARKER = re.compile(
    r"[ \t]*(?:[-*+•‣◦▪●]|\d{1,3}[.)]|\(\d{1,3}\)|[a-z]\)|\([a-z]\))[ \t]+(?:\[[ xX]\][ \t]+)?(?=\S)")
_ATX_HEADING = re.compile(r"[ \t]{0,3}#{1,6}[ \t]+(?=\S)")
_SEPARATOR = re.compile(r"[ \t]*(?:[-=_*~^`#+.·•]\s*){3,}")
_FIELD = re.compile(r"[ \t]*[A-Z][A-Za-z0-9-]{0,40}:[ \t]")
_TABLE_ROW = re.compile(r"[ \t]*\|")
_CLOSING = re.compile(r"[.!?…:;,'\"”’)\]]$")
_LOWER_START = re.compile(r"[ \t]*[\"'“‘(\[]?[a-zß-öø-ÿ]")
_UPPER_START = re.compile(r"[ \t]*[\"'“‘(\[]?[A-ZÀ-ÖØ-Þ]")
_SYMBOLS_ONLY = re.compile(r"[\W_]+")
_ENDS_SENTENCE = re.compile(r"[.!?…]['\"”’)\]]*$")
_CLOSING_HASHES = re.compile(r"[ \t]+#+$")
_INTERNAL_STOP = re.compile(r"[.!?…]['\"”’)\]]*\s")
_SECTION_HEADING = re.compile(r"[A-ZÀ-ÖØ-Þ][A-ZÀ-ÖØ-Þ0-9()\[\]/-]*(?:[ -][A-ZÀ-ÖØ-Þ0-9()\[\]/-]+){0,5}")
SECTION_INDENT = 3  # a manual page's sections start at column 0, its subsections at 3
HEADING_MAX_CHARS = 80
HEADING_MAX_WORDS = 10
WRAP_MAX_CHARS = 100  # hard-wrapped text wraps at 72-80 characters (PDF lines and some files at up to ~120)
UNWRAPPED_CHARS = 160  # no wrapping makes a line this long
# a line ending with one of these is a sentence going on, never a heading
_CONTINUING = {
    "a", "an", "the", "and", "or", "nor", "but", "of", "to", "in", "on", "at", "by", "for", "with", "from",
    "into", "onto", "as", "than", "that", "which", "who", "whom", "whose", "if", "is", "are", "was", "were", "be",
    "been", "being", "has", "have", "had", "will", "would", "can", "could", "should", "shall", "may", "might",
    "must", "do", "does", "did", "not", "this", "these", "those", "its", "their", "his", "her", "our", "your",
    "my", "so", "because", "when", "where", "while", "about", "over", "under", "via", "per", "all", "any",
    "each", "every", "some", "such", "very", "also", "then", "there", "it", "they", "we", "you", "he", "she", "i",
}


def _is_abbreviation(text: str, stop: int, after: int) -> bool:
    """Whether the full stop at ``stop`` closes an abbreviation or an initial rather than a sentence; ``after``
    is where the text after the stop (and its closing quotes) begins."""
    if text[stop] != ".":
        return False
    match = _WORD_BEFORE.search(text, max(0, stop - 12), stop + 1)
    if not match:
        return False
    word = match.group(1).rstrip(".").lower()
    initial = len(word) == 1 and word.isalpha()
    if word not in ABBREVIATIONS and not initial:
        return False
    if word in ENDING_ABBREVIATIONS or (initial and word not in ABBREVIATIONS):
        following = _NEXT_WORD.match(text, after)
        return not (following and following.group(1) in SENTENCE_STARTERS)
    return True


def _trimmed(text: str, start: int, end: int) -> Span | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def _lines(text: str) -> list[Span]:
    """(start, end) of every line, the line break excluded."""
    out: list[Span] = []
    start = 0
    while True:
        end = text.find("\n", start)
        if end < 0:
            out.append((start, len(text)))
            return out
        out.append((start, end))
        start = end + 1


def _is_heading_line(line: str, starts_sentence: bool, following: str | None) -> bool:
    """A line standing alone as a title: short, no closing punctuation, starting a sentence (the first line of a
    block, or after one that ended a sentence) and followed by a line that starts with a capital."""
    stripped = line.strip()
    if not starts_sentence or following is None or not stripped or len(stripped) > HEADING_MAX_CHARS:
        return False
    if not _UPPER_START.match(following) or not (stripped[0].isupper() or stripped[0].isdigit()):
        return False
    words = stripped.split()
    if len(words) > HEADING_MAX_WORDS or _CLOSING.search(stripped) or stripped[-1] in "-–—(/&+":
        return False
    if words[-1].lower() in _CONTINUING or _INTERNAL_STOP.search(stripped):
        return False
    return any(ch.isalpha() for ch in stripped)


def _indent(line: str) -> int:
    """The columns of a line's indentation (a tab to the next multiple of 8, as a terminal shows it)."""
    expanded = line.expandtabs(8)
    return len(expanded) - len(expanded.lstrip())


def _is_section_heading(line: str, following: str | None) -> bool:
    """A manual page's section or subsection heading (``DESCRIPTION``, ``EXIT STATUS``, ``SEE ALSO``,
    ``REGULAR EXPRESSIONS (PCRE)``): up to six words in capitals alone on a line indented at most
    ``SECTION_INDENT`` columns, over a line indented deeper, which may start in lower case (``patch takes a patch
    file``) or with an option (``-b  or  --backup``). A term in capitals indented like a definition list's (an
    environment variable's ``LDAPNOINIT``) stays with its definition, and a line of capitals ending with a word
    that goes on (``IN NO EVENT SHALL THE``, a licence's line where a chunk begins) is no heading."""
    stripped = line.strip()
    if following is None or len(stripped) < 3 or not _SECTION_HEADING.fullmatch(stripped):
        return False
    if stripped.split()[-1].lower() in _CONTINUING and stripped not in ("SEE ALSO", "CONFORMING TO"):
        return False
    return _indent(line) <= SECTION_INDENT and _indent(following) > _indent(line)


def _is_unwrapped_line(line: str, following: str | None) -> bool:
    """A line of text that is not hard-wrapped, ending without punctuation before a line starting with a
    capital: it ends there (a title or a teaser line of a web article), it does not go on across the break.
    Text wrapped wider than usual (PDF lines, 120-column files) is told apart by what follows: over
    ``WRAP_MAX_CHARS`` the next line must read as a title (short, no closing punctuation); only a line over
    ``UNWRAPPED_CHARS``, which no wrapping makes, ends before any line starting with a capital."""
    stripped = line.strip()
    if following is None or len(stripped) <= WRAP_MAX_CHARS or not re.match(r"[ \t]*[A-ZÀ-ÖØ-Þ]", following):
        return False
    if _CLOSING.search(stripped) or stripped[-1] in "-–—(/&+,":
        return False
    if stripped.split()[-1].lower() in _CONTINUING:
        return False
    title = following.strip()
    return len(stripped) > UNWRAPPED_CHARS or (len(title) <= HEADING_MAX_CHARS and not _CLOSING.search(title))


def _blocks(text: str) -> list[Span]:
    """Cut ``text`` into the runs of lines that no sentence crosses (step 1 of the module docstring)."""
    blocks: list[Span] = []
    lines = _lines(text)
    start: int | None = None  # where the open block began
    end = 0

    def close() -> None:
        nonlocal start
        if start is not None and end > start:
            blocks.append((start, end))
        start = None

    previous = ""  # the previous line of the open block, if any
    break_after = False
    for index, (a, b) in enumerate(lines):
        line = text[a:b]
        if not line.strip():
            close()
            previous, break_after = "", False
            continue
        following = None
        if index + 1 < len(lines):
            na, nb = lines[index + 1]
            following = text[na:nb] if text[na:nb].strip() else None
        if _SEPARATOR.fullmatch(line):  # a rule, or the underline of the heading above it
            close()
            previous, break_after = "", False
            continue
        content = a
        heading = _ATX_HEADING.match(line)
        marker = LIST_MARKER.match(line)
        if heading:
            close()
            content = a + heading.end()
            b = a + len(_CLOSING_HASHES.sub("", line.rstrip()))
        elif marker:
            close()
            content = a + marker.end()
        elif break_after or _FIELD.match(line) or _TABLE_ROW.match(line):
            close()
        opened_here = start is None
        if opened_here:
            start = content
        end = b
        if following is not None and _SEPARATOR.fullmatch(following) and not following.strip().startswith(("*", "_")):
            break_after = True  # setext heading: "Title" over "====="
        elif heading or _TABLE_ROW.match(line):
            break_after = True
        elif following is not None and line.rstrip().endswith(":") and not _LOWER_START.match(following):
            break_after = True
        else:
            starts_sentence = opened_here or bool(_ENDS_SENTENCE.search(previous.rstrip()))
            break_after = (_is_heading_line(text[content:b], starts_sentence, following)
                           or (opened_here and _is_section_heading(line, following))
                           or _is_unwrapped_line(line, following))
        previous = line
    close()
    return blocks


def split_sentences(text: str) -> list[Span]:
    """Character spans of the sentences of ``text``, in order, with surrounding whitespace excluded."""
    spans: list[Span] = []
    for block_start, block_end in _blocks(text):
        start = block_start
        for match in _BOUNDARY.finditer(text, block_start, block_end):
            if _is_abbreviation(text, match.start(), match.end()):
                continue
            span = _trimmed(text, start, match.end())
            if span:
                spans.append(span)
            start = match.end()
        span = _trimmed(text, start, block_end)
        if span:
            spans.append(span)
    words = [span for span in spans if not _SYMBOLS_ONLY.fullmatch(text[span[0] : span[1]])]
    if words:
        return words
    whole = _trimmed(text, 0, len(text))  # symbols only: kept whole rather than lost
    return spans or ([whole] if whole else [])


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


def item_marker(text: str, start: int) -> int | None:
    """Where the list marker of the item whose first sentence starts at ``start`` begins (after the line's
    indentation): the marker opens the line and the sentence starts right after it (``- Drop Python 3.8
    support``); None when the sentence at ``start`` opens no list item."""
    line = text.rfind("\n", 0, start) + 1
    marker = LIST_MARKER.match(text, line)
    if marker is None or marker.end() != start:
        return None
    return line + len(marker.group()) - len(marker.group().lstrip())


def _chunk_start(text: str, span: Span) -> int:
    """Where a chunk beginning with sentence ``span`` begins: at its list marker when the sentence is the first of a
    list item (:func:`item_marker`), so that the chunk's first item reads as one, as every other item of the list
    does (the judge knows an item by its marker); at the sentence otherwise."""
    marker = item_marker(text, span[0])
    return span[0] if marker is None else marker


def _starts_cleanly(text: str, start: int, span: Span, following: Span | None) -> bool:
    """Whether a chunk beginning at ``start`` with sentence ``span`` (at its marker, :func:`_chunk_start`, or at the
    sentence) splits, on its own, into the same first sentence and the same start of the next one (``following``).
    It may not when the sentence begins mid-line (the rest of that line may read as a heading on its own), after a
    ``#`` (which ended it at the line's end) or after indentation (``    # comment`` is no heading, ``# comment``
    is)."""
    end = (following or span)[1]
    expected = [(a - start, b - start) for a, b in ([span, following] if following else [span])]
    return split_sentences(text[start:end]) == expected


def chunk_spans(text: str, count: TokenCounter, max_tokens: int) -> list[Span]:
    """Group sentence spans into chunk spans of at most ``max_tokens`` word-pieces each.

    The word-piece count of text cut at whitespace is the sum of its parts' counts (BERT pre-tokenises on
    whitespace and punctuation), so sentences are counted once and summed, with what lies between two sentences
    (list markers, ``#``, separator lines) counted too, and the list marker a chunk begins with (:func:`_chunk_start`).
    """
    sentences = split_sentences(text)
    sizes = count([text[a:b] for a, b in sentences])
    units: list[tuple[Span, int]] = []  # (span, word-pieces)
    for span, size in zip(sentences, sizes, strict=True):
        if size > max_tokens:
            pieces = _cut_long_sentence(text, span, count, max_tokens)
            units.extend(zip(pieces, count([text[a:b] for a, b in pieces]), strict=True))
        else:
            units.append((span, size))
    gaps = [0] * len(units)
    between = [(i, text[units[i - 1][0][1] : units[i][0][0]]) for i in range(1, len(units))]
    between = [(i, gap) for i, gap in between if gap.strip()]
    for (i, _), n in zip(between, count([gap for _, gap in between]), strict=True):
        gaps[i] = n

    chunks: list[Span] = []
    first = 0  # the first unit of the open chunk
    used = 0
    i = 0
    clean: dict[int, bool] = {}
    starts = [_chunk_start(text, span) for span, _ in units]
    leads: dict[int, int] = {}

    def lead(j: int) -> int:
        """The word pieces of the list marker a chunk beginning with unit ``j`` begins with (a chunk going on
        counts it in the unit's gap), counted when first asked: only for the units a chunk begins with or the
        packer tries to begin one with."""
        if j not in leads:
            leads[j] = count([text[starts[j] : units[j][0][0]]])[0] if starts[j] < units[j][0][0] else 0
            if units[j][1] + leads[j] > max_tokens:  # the item and its marker are over the window: no marker
                starts[j], leads[j] = units[j][0][0], 0
        return leads[j]

    def can_start(j: int) -> bool:
        lead(j)
        if j not in clean:
            following = units[j + 1][0] if j + 1 < len(units) else None
            clean[j] = _starts_cleanly(text, starts[j], units[j][0], following)
        return clean[j]

    while i < len(units):
        if i == first:
            used = lead(i) + units[i][1]
            i += 1
            continue
        if used + gaps[i] + units[i][1] <= max_tokens:
            used += gaps[i] + units[i][1]
            i += 1
            continue
        cut = i
        while cut > first + 1 and not can_start(cut):
            cut -= 1
        if not can_start(cut):
            cut = i  # no sentence of this chunk starts cleanly: keep the longest chunk
        chunks.append((starts[first], units[cut - 1][0][1]))
        first = i = cut
    if first < len(units):
        chunks.append((starts[first], units[-1][0][1]))
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
                pages=pages_within(document.pages, start, end),
            )
        )
    return chunks
