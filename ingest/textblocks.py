"""The plain text every structured loader writes: blocks of lines, as a reader sees the document.

A paragraph, a heading, a code block or a table row is a block; blocks are separated by one blank line. A list
is one block with a line per item, marked ``- `` (or ``1. `` when numbered) and indented two spaces per level
of nesting; further paragraphs of an item are indented lines under it. Inline markup never reaches the text.
This is the layout :func:`ingest.chunking.split_sentences` reads: a blank line, a list marker or a heading ends
a sentence, a wrapped line does not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]+")


def inline(text: str) -> str:
    """Inline text as shown: runs of spaces (including non-breaking ones) are one space, ends trimmed; line
    breaks are kept (a hard break), each line trimmed, empty lines dropped."""
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def list_marker(lists: list[list[int] | None]) -> str:
    """The marker of the next item of the innermost open list: "-" for a bullet list, "N." for a numbered one
    (whose counter, ``[next number]``, it advances)."""
    numbering = lists[-1] if lists else None
    if numbering is None:
        return "-"
    numbering[0] += 1
    return f"{numbering[0] - 1}."


@dataclass
class TextBuilder:
    blocks: list[list[str]] = field(default_factory=list)
    headings: list[tuple[int, str, int]] = field(default_factory=list)  # (level, text, block index), in order
    _list_block: list[str] | None = None

    def paragraph(self, text: str, depth: int = 0, marker: str | None = None) -> None:
        """A paragraph; inside a list (``depth`` > 0) a line of the list's block, with ``marker`` for an item's
        first line."""
        text = inline(text)
        if not text:
            return
        if depth <= 0:
            self._list_block = None
            self.blocks.append(text.split("\n"))
            return
        indent = "  " * (depth - 1)
        lead = f"{indent}{marker} " if marker else f"{indent}  "
        lines = [lead + line if i == 0 else f"{indent}  {line}" for i, line in enumerate(text.split("\n"))]
        if self._list_block is None:
            self._list_block = []
            self.blocks.append(self._list_block)
        self._list_block.extend(lines)

    def heading(self, level: int, text: str) -> None:
        text = " ".join(inline(text).split("\n"))
        if text:
            self.headings.append((level, text, len(self.blocks)))
            self._list_block = None
            self.blocks.append([text])

    def code(self, text: str) -> None:
        lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\t", "    ").split("\n")]
        while lines and not lines[0].strip():
            lines.pop(0)
        while lines and not lines[-1].strip():
            lines.pop()
        if lines:
            self._list_block = None
            self.blocks.append(lines)

    def row(self, cells: list[str]) -> None:
        """A table row: its non-empty cells on one line, separated by `` | ``."""
        cells = [" ".join(inline(cell).split("\n")) for cell in cells]
        text = " | ".join(cell for cell in cells if cell)
        if text:
            self._list_block = None
            self.blocks.append([text])

    def end_list(self) -> None:
        self._list_block = None

    def text(self) -> str:
        return "\n\n".join("\n".join(lines) for lines in self.blocks if lines)

    def title(self) -> str:
        """The document's own title: its first heading of level 1 (0 for a style named Title), else a heading
        it opens with; '' when it has neither (a section heading further down is no title)."""
        for level, text, _ in sorted(self.headings, key=lambda heading: heading[0]):
            if level <= 1:
                return text
        if self.headings and self.headings[0][2] == 0:
            return self.headings[0][1]
        return ""
