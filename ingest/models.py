"""The records that flow through the pipeline: a loaded document and the chunks cut from it.

A PDF's document keeps where each of its pages starts in its text (``Document.pages``: (page number, offset)
pairs, 1-based pages), and each chunk of it the pages it spans, as a compact string in its store metadata
(``Chunk.pages``: ``"3@1200 4@2381"``, page 3 being the page the chunk starts on and 4 the next one, starting
inside it), so that a citation's page follows from its span (:meth:`Chunk.page_at`) without the document.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

# What a document id may be (a loader's id, a .jsonl record's id): checked at ingest and on the /documents routes.
DOC_ID_PATTERN = r"[\w.:()'!,&+@=~-]{1,200}"


class ModelError(ValueError):
    """The embedding model named cannot be used (not the packaged one nor a usable local folder). The service
    turns it into its ``ConfigError``: ingest raises its own errors and never imports the service."""


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Document:
    """A whole document as loaded: ``text`` is what chunk offsets index into."""

    id: str
    title: str
    source: str  # path relative to the ingested root, or "<file>.jsonl#<id>"
    text: str
    root: str = ""  # the folder or corpus file this document was ingested from
    hash: str = field(default="")
    pages: tuple[tuple[int, int], ...] = ()  # (page number, offset in text where it starts), for paged formats

    def __post_init__(self) -> None:
        if not self.hash:
            object.__setattr__(self, "hash", content_hash(self.text))


@dataclass(frozen=True)
class Chunk:
    """A run of whole sentences of a document: ``text == document.text[start:end]``."""

    id: str
    doc_id: str
    index: int
    start: int
    end: int
    text: str
    title: str = ""
    source: str = ""
    pages: str = ""  # "page@offset ...": the page the chunk starts on, and those starting inside it ("" unpaged)

    def metadata(self) -> dict[str, str | int]:
        meta: dict[str, str | int] = {
            "doc_id": self.doc_id,
            "index": self.index,
            "start": self.start,
            "end": self.end,
            "title": self.title,
            "source": self.source,
        }
        if self.pages:
            meta["pages"] = self.pages
        return meta

    def page_at(self, offset: int) -> int | None:
        """The 1-based page holding document offset ``offset`` of this chunk; None for a document without pages."""
        return page_at(self.pages, offset)

    @classmethod
    def from_record(cls, chunk_id: str, text: str, meta: dict) -> Chunk:
        return cls(
            id=chunk_id,
            doc_id=str(meta["doc_id"]),
            index=int(meta["index"]),
            start=int(meta["start"]),
            end=int(meta["end"]),
            text=text,
            title=str(meta.get("title", "")),
            source=str(meta.get("source", "")),
            pages=str(meta.get("pages", "")),
        )


def chunk_id(doc_id: str, start: int, text: str) -> str:
    """Deterministic: the same text at the same place of the same document always gets the same id."""
    digest = hashlib.sha256(f"{doc_id}\0{start}\0{text}".encode()).hexdigest()
    return f"{doc_id}:{digest[:16]}"


def pages_within(pages: Sequence[tuple[int, int]], start: int, end: int) -> str:
    """The compact form of ``Chunk.pages`` for the span ``[start, end)`` of a document with page starts ``pages``
    ("" when the document has none)."""
    kept: list[tuple[int, int]] = []
    for number, offset in pages:
        if offset <= start:
            kept = [(number, offset)]
        elif offset < end:
            kept.append((number, offset))
    return " ".join(f"{number}@{offset}" for number, offset in kept)


def page_at(pages: str, offset: int) -> int | None:
    """The page of document offset ``offset`` given a chunk's ``pages`` string; None when there is none."""
    found: int | None = None
    for entry in pages.split():
        number, _, start = entry.partition("@")
        try:
            if found is None or int(start) <= offset:
                found = int(number)
            else:
                break
        except ValueError:
            return None
    return found
