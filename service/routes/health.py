"""GET /healthz: is the store reachable, and what is loaded."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from service.deps import ComponentsDep
from service.errors import StoreUnavailable

router = APIRouter()


@router.get("/healthz")
def healthz(parts: ComponentsDep) -> JSONResponse:
    try:
        chunks = parts.store.count_chunks()
        store = {"status": "up", "chunks": chunks}
    except StoreUnavailable:
        store = {"status": "down"}
    ok = store["status"] == "up"
    body = {"status": "ok" if ok else "degraded", "store": store, "model": parts.pipeline.model,
            "embedding_model": parts.embedder.name}
    return JSONResponse(body, status_code=200 if ok else 503)
