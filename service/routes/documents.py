"""GET /documents and GET /documents/{id}: what is indexed, and each document's full text."""

from __future__ import annotations

from fastapi import APIRouter, Path

from service.deps import ComponentsDep
from service.schemas import ERROR_RESPONSES, DocumentFull, DocumentOut

router = APIRouter()

DOC_ID = Path(min_length=1, max_length=200, pattern=r"^[\w.:-]+$", description="A document id.")


@router.get("/documents", response_model=list[DocumentOut], responses=ERROR_RESPONSES)
def list_documents(parts: ComponentsDep) -> list[DocumentOut]:
    return [
        DocumentOut(id=r.id, title=r.title, source=r.source, chunks=r.chunks) for r in parts.store.documents()
    ]


@router.get("/documents/{doc_id}", response_model=DocumentFull, responses=ERROR_RESPONSES)
def get_document(parts: ComponentsDep, doc_id: str = DOC_ID) -> DocumentFull:
    """The whole text, so a client can highlight a citation's ``text[start:end]``."""
    record, text = parts.store.get_document(doc_id)
    return DocumentFull(id=record.id, title=record.title, source=record.source, chunks=record.chunks, text=text)
