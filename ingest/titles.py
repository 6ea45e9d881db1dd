"""A document's title: its own (metadata, first heading), else its file name made readable; never a line of body
text such as ``Metadata-Version: 2.4`` or a row of badges."""

from __future__ import annotations

import re
from pathlib import Path

TITLE_CHARS = 80
# file names that say what kind of file it is, not what it is about: the folder names the subject
GENERIC_STEMS = {"readme", "index", "changelog", "changes", "news", "license", "copying", "contributing", "notes",
                 "metadata", "pkg-info", "description", "authors", "history", "todo", "install", "usage"}
_JUNK_TITLE = re.compile(
    r"^(?:untitled|document\d*|microsoft (?:word|powerpoint) - .*|.*\.(?:docx?|pdf|odt|rtf|txt|tex|dvi|ps))$",
    re.I)
_FIELD = re.compile(r"^([A-Z][A-Za-z0-9-]{0,40}):[ \t]*(.*)$")
_MARKDOWN_LINK = re.compile(r"\[!\[|\]\(")
_TAG_OR_URL = re.compile(r"<[^>]*>|https?://\S+|www\.\S+")
_CONTINUING_END = re.compile(
    r"\b(?:a|an|the|and|or|of|to|in|on|at|by|for|with|from|is|are|was|were|that|which)$|[,;(\-–—/&]$", re.I)


def clip(title: str) -> str:
    title = " ".join(title.split())
    if len(title) <= TITLE_CHARS:
        return title
    cut = title[:TITLE_CHARS].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"


def file_title(path: Path | str) -> str:
    """The file name made readable: ``users_and-groups.txt`` -> ``Users and groups``; a generic name (README,
    index...) gets its folder's name before it: ``requests/README.md`` -> ``requests README``."""
    path = Path(path)
    stem = path.stem if path.suffix else path.name
    words = " ".join(re.sub(r"[_\-.]+", " ", stem).split()) or path.name
    if words.islower():
        words = words[0].upper() + words[1:]
    if stem.lower() in GENERIC_STEMS and path.parent.name and path.parent.name not in (".", "/"):
        words = f"{path.parent.name} {words}"
    return clip(words)


def good_metadata_title(title: str | None) -> str:
    """A title from file metadata, unless it is empty or a placeholder (``Untitled``, ``Microsoft Word - x.docx``)."""
    title = " ".join(str(title or "").split())
    if not title or _JUNK_TITLE.match(title) or not any(ch.isalpha() for ch in title):
        return ""
    return clip(title)


def heading_line(line: str, following: str | None) -> bool:
    """Whether a document's first line reads as its title: short, words rather than markup (no Markdown links or
    badges, not only tags and addresses), not a ``Key: value`` field, not a sentence (no closing full stop), not
    cut mid-phrase, and not followed by a line that goes on with it (one starting in lower case)."""
    line = line.strip()
    if not line or len(line) > TITLE_CHARS or _MARKDOWN_LINK.search(line):
        return False
    if not any(ch.isalpha() for ch in _TAG_OR_URL.sub(" ", line)):
        return False
    if _FIELD.match(line) or line.endswith((".", ":", ";", ",")) or _CONTINUING_END.search(line):
        return False
    return following is None or not re.match(r"\s*[\"'“(]?[a-z]", following)


def plain_text_title(text: str) -> str:
    """The title a plain text file gives itself, else ''.

    A package metadata file (``Metadata-Version:``, ``Name:``, ``Summary:``) is titled by its name and summary;
    a header with a ``Title:`` field by that; a text opening with a heading line (``# Title``, an underlined line,
    a short line standing alone) by that line."""
    lines = text.splitlines()
    fields: dict[str, str] = {}
    for line in lines[:60]:
        if not line.strip():
            break
        match = _FIELD.match(line)
        if match:
            fields.setdefault(match.group(1).lower(), match.group(2).strip())
    if "metadata-version" in fields and fields.get("name"):
        summary = fields.get("summary", "")
        return clip(f"{fields['name']}: {summary}" if summary and summary.upper() != "UNKNOWN" else fields["name"])
    if fields.get("title"):
        return clip(fields["title"])
    nonblank = [i for i, line in enumerate(lines) if line.strip()]
    if not nonblank:
        return ""
    first = nonblank[0]
    line = lines[first].strip()
    atx = re.match(r"#{1,6}\s+(.*?)(?:\s+#+)?$", line)
    if atx:
        return clip(atx.group(1)) if heading_line(atx.group(1), None) else ""
    following = lines[first + 1] if first + 1 < len(lines) else None
    return clip(line) if heading_line(line, following) else ""
