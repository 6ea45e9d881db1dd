"""POST /ask: one question, one cited answer."""

from __future__ import annotations

from fastapi import APIRouter

from service.deps import ComponentsDep
from service.schemas import ERROR_RESPONSES, AskRequest, AskResponse

router = APIRouter()


@router.post("/ask", response_model=AskResponse, responses=ERROR_RESPONSES)
def ask(body: AskRequest, parts: ComponentsDep) -> AskResponse:
    """Answer ``question`` from the indexed documents, citing the sentences that support it."""
    return AskResponse.of(parts.pipeline.ask(body.question, body.k, body.documents))
