"""GET /documents, GET and DELETE /documents/{id}: what is indexed, each document's full text, removal.

POST /documents (uploads) is in :mod:`service.web.routes.upload`.
"""

from __future__ import annotations

from fastapi import APIRouter, Path
from pydantic import BaseModel

from ingest.models import DOC_ID_PATTERN
from service.web.deps import ComponentsDep
from service.web.schemas import ERROR_RESPONSES, DocumentFull, DocumentOut, ErrorResponse

router = APIRouter()

DOC_ID = Path(min_length=1, max_length=200, pattern=f"^{DOC_ID_PATTERN}$", description="A document id.")


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


class DeletedDocument(BaseModel):
    id: str
    deleted: bool
    chunks: int


@router.delete("/documents/{doc_id}", response_model=DeletedDocument,
               responses={**ERROR_RESPONSES, **{status: {"model": ErrorResponse} for status in (401, 403)}})
def delete_document(parts: ComponentsDep, doc_id: str = DOC_ID) -> DeletedDocument:
    """Remove a document and its chunks. A folder ingest that still holds the file adds it back."""
    parts.store.get_document(doc_id)  # 404 for an unknown id
    return DeletedDocument(id=doc_id, deleted=True, chunks=parts.store.delete_document(doc_id))
