"""Word files as a reader sees them.

**Word** (.docx, python-docx): the body in order, paragraphs and headings as lines (blank-line separated), list
paragraphs (a numbering, or a List style) as ``- `` / ``1. `` items indented by level, table rows as lines of
cells separated by `` | ``; headers, footers, comments and footnotes are left out. Title: the core properties'
title, else the paragraph styled Title or the first Heading 1, else a heading the document opens with.
"""

from __future__ import annotations

import re
from pathlib import Path

from ingest.textblocks import TextBuilder
from ingest.titles import good_metadata_title


def _docx_list_level(paragraph: object) -> int | None:
    """The 0-based list level of a paragraph that is a list item, else None."""
    p = paragraph._p  # type: ignore[attr-defined]
    style = (paragraph.style.name or "").lower() if paragraph.style is not None else ""  # type: ignore[attr-defined]
    num = p.pPr.numPr if p.pPr is not None else None
    if num is not None and num.numId is not None and num.numId.val != 0:
        return int(num.ilvl.val) if num.ilvl is not None else 0
    if style.startswith("list bullet") or style.startswith("list number"):
        match = re.search(r"(\d+)$", style)
        return int(match.group(1)) - 1 if match else 0
    return None


def docx_text(path: Path) -> tuple[str, str]:
    """(title, text) of a .docx file."""
    import docx

    document = docx.Document(str(path))
    out = TextBuilder()
    numbers: dict[int, int] = {}
    for block in document.iter_inner_content():
        if isinstance(block, docx.table.Table):
            numbers.clear()
            for row in block.rows:
                seen: set[int] = set()
                cells = []
                for cell in row.cells:  # a merged cell comes once per grid column it spans
                    if id(cell._tc) not in seen:
                        seen.add(id(cell._tc))
                        cells.append(cell.text)
                out.row(cells)
            out.end_list()
            continue
        text = block.text
        style = (block.style.name or "") if block.style is not None else ""
        level = _docx_list_level(block)
        if level is not None:
            if "number" in style.lower():
                numbers = {lvl: n for lvl, n in numbers.items() if lvl <= level}
                numbers[level] = numbers.get(level, 0) + 1
                marker = f"{numbers[level]}."
            else:
                marker = "-"
            out.paragraph(text, level + 1, marker)
            continue
        numbers.clear()
        heading = re.fullmatch(r"(?:heading|überschrift|titre)\s*(\d)", style.strip(), re.I)
        if style.lower() == "title":
            out.heading(0, text)
        elif heading:
            out.heading(int(heading.group(1)), text)
        else:
            out.paragraph(text)
    title = good_metadata_title(document.core_properties.title) or out.title()
    return title, out.text()
