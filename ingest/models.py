"""The records that flow through the pipeline: a loaded document and the chunks cut from it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


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

    def metadata(self) -> dict[str, str | int]:
        return {
            "doc_id": self.doc_id,
            "index": self.index,
            "start": self.start,
            "end": self.end,
            "title": self.title,
            "source": self.source,
        }

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
        )


def chunk_id(doc_id: str, start: int, text: str) -> str:
    """Deterministic: the same text at the same place of the same document always gets the same id."""
    digest = hashlib.sha256(f"{doc_id}\0{start}\0{text}".encode()).hexdigest()
    return f"{doc_id}:{digest[:16]}"
