"""PDF files as a reader sees them (pypdf): the text of each page, in page order, pages separated by a blank
line; the document keeps where each page starts (``Document.pages``), so that every citation of it carries its
page. Title: the file's metadata title unless it is a placeholder (``Untitled``, ``Microsoft Word - x.docx``),
else its first line when that reads as a heading.

pypdf gives a page's text line by line, in the order it was drawn, and nothing tells a line that wraps a
paragraph from one that starts a new block: a heading, a function signature, a code line or a list item set
below a sentence read on as part of it. So the lines are read with where pypdf found each of them (its
``visitor_text`` reports every piece of text with its matrices, font and size) and a blank line is put
between two lines that the page sets apart: a different font size; more space between them than between the
wrapped lines of a paragraph, or the next line drawn above the previous one; a line wholly bold or
monospaced next to one that is not -- unless the first line visibly goes on into the next (no closing full
stop and a next line starting in lower case, or ending with a comma, hyphen or open bracket); or another
indentation after a line that ends a sentence or a colon. Lines of one paragraph, evenly spaced at one
indentation in one font, stay together as pypdf gives them (the sentence splitter reads them as wrapped).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.chunking import ABBREVIATIONS
from ingest.titles import good_metadata_title, heading_line

_BOLD_FONT = re.compile(r"bold|black|heavy|demi", re.I)
_MONO_FONT = re.compile(r"mono|courier|consol|menlo|cmtt|typewriter|code", re.I)
_PDF_STOP = re.compile(r"([\w.]*)[.!?…]['\"”’)\]]*$")
_PDF_OPEN_END = re.compile(r"[,(\[{\-‐–—/&]$")
_PDF_LOWER_START = re.compile(r"[ \t]*[\"'“‘(\[]?[a-zß-öø-ÿ]")
_SPACE_END = re.compile(r"[ \t]+$", re.M)
SIZE_CHANGE = 0.1  # font sizes further apart than this share of the larger are different sizes
EXTRA_SPACE = 0.4  # space above a line beyond the paragraph's line spacing that sets it apart, in ems
INDENT = 0.5  # a line starting this many ems left or right of the one before is indented otherwise


@dataclass(frozen=True)
class PdfLine:
    """A line of a PDF page as pypdf extracts it; where it starts on the page (``at``: x and the y of its baseline,
    in points; None when pypdf gave no position of its own, or the text is turned), its font size in points (0
    when unknown), and whether all of it is set in a bold or a monospaced font."""

    text: str
    at: tuple[float, float] | None = None
    size: float = 0.0
    bold: bool = False
    mono: bool = False


def _product(m: list[float], n: list[float]) -> list[float]:
    """The product of two PDF matrices [a b c d e f]."""
    return [m[0] * n[0] + m[1] * n[2], m[0] * n[1] + m[1] * n[3], m[2] * n[0] + m[3] * n[2],
            m[2] * n[1] + m[3] * n[3], m[4] * n[0] + m[5] * n[2] + n[4], m[4] * n[1] + m[5] * n[3] + n[5]]


def _font_style(font: Any) -> tuple[bool, bool]:
    """(bold, monospaced) of a PDF font dictionary: by its name, its descriptor's weight and flags."""
    try:
        if font is None:
            return False, False
        font = font.get_object()
        name = str(font.get("/BaseFont", ""))
        descriptor = font.get("/FontDescriptor")
        if descriptor is None and font.get("/DescendantFonts"):
            descriptor = font["/DescendantFonts"].get_object()[0].get_object().get("/FontDescriptor")
        flags, weight = 0, 0.0
        if descriptor is not None:
            descriptor = descriptor.get_object()
            flags, weight = int(descriptor.get("/Flags", 0)), float(descriptor.get("/FontWeight", 0))
        bold = bool(_BOLD_FONT.search(name)) or weight >= 600 or bool(flags & 1 << 18)  # ForceBold
        return bold, bool(_MONO_FONT.search(name)) or bool(flags & 1)  # FixedPitch
    except (AttributeError, IndexError, KeyError, TypeError, ValueError):
        return False, False


def _pdf_line(pieces: list[tuple[str, tuple[float, float] | None, float, bool, bool]]) -> PdfLine:
    """A line from its pieces of text: (text, where it starts, size, bold, mono), where it starts None but for a
    piece that starts where pypdf gave a position."""
    text = _SPACE_END.sub("", "".join(piece[0] for piece in pieces))
    shown = [piece for piece in pieces if piece[0].strip()]
    if not shown:
        return PdfLine(text)
    prose = [piece for piece in shown if not piece[4]] or shown  # inline code may be set smaller
    weights = [len(piece[0].strip()) for piece in prose]
    size = sum(w * piece[2] for w, piece in zip(weights, prose, strict=True)) / sum(weights)
    return PdfLine(text, shown[0][1], size, all(piece[3] for piece in shown), all(piece[4] for piece in shown))


def pdf_page_lines(page: Any) -> list[PdfLine]:
    """A PDF page's lines: pypdf's text (``extract_text``) as it is, each line with where it starts and its font
    (from ``visitor_text``, which reports the same text piece by piece, each where it starts). When the pieces
    do not add up to the text, the lines come without positions."""
    pieces: list[tuple[str, list[float], float, tuple[bool, bool]]] = []
    styles: dict[int, tuple[bool, bool]] = {}

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
        if text:
            if id(font) not in styles:
                styles[id(font)] = _font_style(font)
            pieces.append((text, _product([float(v) for v in tm], [float(v) for v in cm]), float(size),
                           styles[id(font)]))

    plain = page.extract_text(visitor_text=visit) or ""
    if "".join(piece[0] for piece in pieces) != plain:
        pieces = [(plain, [0.0] * 6, 0.0, (False, False))]
    lines: list[PdfLine] = []
    current: list[tuple[str, tuple[float, float] | None, float, bool, bool]] = []
    for text, m, size, (bold, mono) in pieces:
        upright = m[0] > 0 and m[3] > 0 and abs(m[1]) < 1e-6 * m[0] and abs(m[2]) < 1e-6 * m[3]
        scaled = size * math.hypot(m[2], m[3])
        text = text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n").replace("\x0c", "\n")
        for index, part in enumerate(text.split("\n")):
            if index:
                lines.append(_pdf_line(current))
                current = []
            if part:
                # a piece gives the position of its start only: of a part after a line break inside it, none
                at = (m[4], m[5]) if index == 0 and upright and scaled > 0 else None
                current.append((part, at, scaled, bold, mono))
    lines.append(_pdf_line(current))
    return lines


def _same_size(a: PdfLine, b: PdfLine) -> bool:
    return abs(a.size - b.size) <= SIZE_CHANGE * max(a.size, b.size)


def _placed(a: PdfLine, b: PdfLine) -> tuple[float, float] | None:
    """How far line ``b`` starts right of line ``a`` and how far its baseline is below ``a``'s, in ems of ``b``'s
    font; None when either has no position or size."""
    if a.at is None or b.at is None or a.size <= 0 or b.size <= 0:
        return None
    return (b.at[0] - a.at[0]) / b.size, (a.at[1] - b.at[1]) / b.size


def line_spacing(pages: list[list[PdfLine]]) -> float | None:
    """The spacing of a paragraph's lines, in ems: of the distances between the baselines of two lines in a row, in
    one size, one below the other, the lower quartile (most lines of a document are wrapped lines of a paragraph,
    the rest are further apart), or the smallest when there are fewer than 8; None when no two lines are so."""
    steps = sorted(
        moved[1]
        for lines in pages for a, b in zip(lines, lines[1:], strict=False)
        if a.text.strip() and b.text.strip() and _same_size(a, b)
        and (moved := _placed(a, b)) is not None and 0.8 <= moved[1] <= 3
    )
    if not steps:
        return None
    return steps[len(steps) // 4] if len(steps) >= 8 else steps[0]


def _ends_sentence(text: str) -> bool:
    """Whether a line ends with a full stop (``.``, ``!``, ``?``, ``…``, any closing quotes or brackets after
    it) that is not an abbreviation's or an initial's (``e.g.``, ``Dr.``, ``J.``)."""
    match = _PDF_STOP.search(text)
    if not match:
        return False
    if not text.rstrip("'\"”’)]").endswith("."):
        return True
    word = match.group(1).rstrip(".").lower()
    return not (word in ABBREVIATIONS or (len(word) == 1 and word.isalpha()))


def paragraph_between(a: PdfLine, b: PdfLine, spacing: float | None) -> bool:
    """Whether line ``b`` starts a new block after line ``a`` (see the comment above :class:`PdfLine`)."""
    moved = _placed(a, b)
    if moved is None:
        return False
    if not _same_size(a, b):
        return True
    right, down = moved
    ends = _ends_sentence(a.text)
    goes_on = not ends and (bool(_PDF_LOWER_START.match(b.text)) or bool(_PDF_OPEN_END.search(a.text)))
    apart = down < 0.5 or (spacing is not None and down > spacing + EXTRA_SPACE)
    if apart or a.bold != b.bold or a.mono != b.mono:
        return not goes_on
    if abs(right) > INDENT:
        return ends or a.text.endswith(":")
    return False


def pdf_text(path: Path) -> tuple[str, str, tuple[tuple[int, int], ...]]:
    """(title, text, pages) of a PDF file: the text of each page, in page order, pages separated by a blank line,
    a page's lines as pypdf extracts them with a blank line where a new block starts (:func:`paragraph_between`);
    ``pages`` holds (page number, offset in text) for every page with text. Title: the file's metadata title
    unless it is a placeholder (``Untitled``, ``Microsoft Word - x.docx``), else its first line when that
    reads as a heading."""
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    pages_lines = [pdf_page_lines(page) for page in reader.pages]
    spacing = line_spacing(pages_lines)
    parts: list[str] = []
    pages: list[tuple[int, int]] = []
    offset = 0
    for number, lines in enumerate(pages_lines, start=1):
        out: list[str] = []
        for index, line in enumerate(lines):
            before = lines[index - 1] if index else None
            if before is not None and before.text.strip() and line.text.strip() and out and (
                    paragraph_between(before, line, spacing)):
                out.append("")
            out.append(line.text)
        text = "\n".join(out).strip()
        if not text:
            continue
        if parts:
            offset += 2  # the blank line between pages
        pages.append((number, offset))
        parts.append(text)
        offset += len(text)
    title = good_metadata_title(reader.metadata.title) if reader.metadata is not None else ""
    if not title and parts:
        first = parts[0].split("\n\n", 1)[0].split("\n")
        if heading_line(first[0], first[1] if len(first) > 1 else None):
            title = first[0].strip()
    return title, "\n\n".join(parts), tuple(pages)
