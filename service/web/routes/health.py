"""GET /healthz: can the store be read (as a question reads it), and what is loaded.

The store check makes real reads, not a heartbeat: the store's revision (which also reopens an embedded store
that another process wrote to), the chunk count, and one chunk with its vector. Any failure is a 503 with
``store.status: "down"`` and the reason. It is open even when reads need a key, so it names no path or URL.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from service.errors import StoreUnavailable
from service.web.deps import ComponentsDep

router = APIRouter()


@router.get("/healthz")
def healthz(parts: ComponentsDep) -> JSONResponse:
    try:
        store = {"status": "up", **parts.store.check()}
    except StoreUnavailable as exc:
        store = {"status": "down", "error": exc.message}  # our own message: no path, URL or chromadb text
    ok = store["status"] == "up"
    body = {"status": "ok" if ok else "degraded", "store": store, "model": parts.pipeline.model,
            "embedding_model": parts.embedder.name}
    return JSONResponse(body, status_code=200 if ok else 503)
