"""GET /: the chat page, plain files from ``service/web/static`` (no build step, nothing loaded from elsewhere).

The page is served with a Content-Security-Policy that allows only its own script, style and API calls: a
second line of defence behind the page's rule of rendering every document and answer as text.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from service.errors import NotFound

STATIC = Path(__file__).resolve().parent.parent / "static"
FILES = {"app.js": "text/javascript", "style.css": "text/css"}
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


@router.get("/")
def index() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8", headers=HEADERS)


@router.get("/static/{name}")
def static(name: str) -> FileResponse:
    if name not in FILES:
        raise NotFound(f"No static file {name!r}.", code="static_not_found")
    return FileResponse(STATIC / name, media_type=f"{FILES[name]}; charset=utf-8", headers=HEADERS)
