"""POST /ask: one question, one cited answer."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from service.web.deps import ComponentsDep
from service.web.schemas import ERROR_RESPONSES, AskRequest, AskResponse, RetrievedOut

router = APIRouter()


@router.post("/ask", response_model=AskResponse, responses=ERROR_RESPONSES)
def ask(body: AskRequest, parts: ComponentsDep) -> Any:
    """Answer ``question`` from the indexed documents, citing the sentences that support it."""
    result = parts.pipeline.ask(body.question, body.k, body.documents)
    response = AskResponse.of(result)
    if body.retrieved is None:
        return response
    # `citeqa eval --url`: the ranking behind the answer, for retrieval metrics (top k is what the answerer saw)
    ranking = parts.retriever.retrieve(result.question, body.retrieved, body.documents).passages
    retrieved = [
        RetrievedOut(rank=rank, doc_id=p.chunk.doc_id, chunk_id=p.chunk.id, start=p.chunk.start, end=p.chunk.end,
                     score=round(p.score, 6)).model_dump()
        for rank, p in enumerate(ranking, start=1)
    ]
    return JSONResponse({**response.model_dump(mode="json"), "retrieved": retrieved})
