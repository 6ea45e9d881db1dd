"""The app factory: ``create_app(settings)`` builds the FastAPI app; its lifespan builds the parts once.

The API's docs (``/docs``, Swagger UI; ``/redoc``) load nothing from the internet: their scripts and styles are
the files the pinned ``fastapi-offline`` package ships, served by the app under ``/docs/assets/``, and the pages
carry no inline script, under a Content-Security-Policy that allows only the app's own.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from service import components
from service.errors import CiteqaError, NotFound
from service.settings import Settings
from service.web import observability, security
from service.web.routes import ask, chat, documents, health, metrics, openai_compat, page, upload

log = logging.getLogger(__name__)


def create_app(settings: Settings, parts: components.Components | None = None) -> FastAPI:
    """Build the app. ``parts`` lets a caller (a test, the CLI) share parts it already built."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        built = parts or components.build(settings)
        built.embedder.embed(["warm up"])  # load the model before the first request, not during it
        built.retriever.warm()  # and build the BM25 index now, not in the first request
        built.judge.warm()  # and read the judge's word list
        if not settings.uses_extractive:
            from service.answer import llm

            llm.warm_up()  # and import litellm, not in the first answer
        app.state.components = built
        built.pipeline.observers.append(app_metrics.observe_answer)
        log.info("citeqa ready: model=%s store=%s", built.pipeline.model, built.store.location)
        yield
        built.pipeline.observers.remove(app_metrics.observe_answer)

    app = FastAPI(title="citeqa", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Answers with citations that resolve to a document, a chunk and a character span.")
    app.state.settings = settings
    app.state.metrics = app_metrics = observability.Metrics()
    for module in (ask, chat, documents, health, metrics, openai_compat, page, upload):
        app.include_router(module.router)
    install_docs(app)
    install_error_handlers(app)
    install_middleware(app, settings, app_metrics)
    return app


DOCS_ASSETS = files("fastapi_offline") / "static"
DOCS_FILES = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css",
              "redoc.standalone.js": "text/javascript", "favicon.png": "image/png"}
DOCS_HEADERS = {
    # Swagger UI and ReDoc set element styles from script, hence 'unsafe-inline' for styles only
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; "
        "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
SWAGGER_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - API docs</title>
<link rel="stylesheet" href="{root}/docs/assets/swagger-ui.css">
<link rel="icon" href="{root}/docs/assets/favicon.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{root}/docs/assets/swagger-ui-bundle.js"></script>
<script src="{root}/docs/assets/swagger-init.js"></script>
</body>
</html>
"""
SWAGGER_INIT = """window.ui = SwaggerUIBundle({{
  url: {openapi},
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
}});
"""
REDOC_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - API reference</title>
<link rel="icon" href="{root}/docs/assets/favicon.png">
</head>
<body>
<redoc spec-url="{root}{openapi}"></redoc>
<script src="{root}/docs/assets/redoc.standalone.js"></script>
</body>
</html>
"""


def install_docs(app: FastAPI) -> None:
    """``/docs`` (Swagger UI) and ``/redoc``, served with their assets by the app itself (module docstring)."""
    import html
    import json

    def root(request: Request) -> str:
        return str(request.scope.get("root_path", "")).rstrip("/")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        page = SWAGGER_PAGE.format(title=html.escape(app.title), root=html.escape(root(request)))
        return HTMLResponse(page, headers={**DOCS_HEADERS, "Cache-Control": "no-cache"})

    @app.get("/docs/assets/swagger-init.js", include_in_schema=False)
    def swagger_init(request: Request) -> Response:
        script = SWAGGER_INIT.format(openapi=json.dumps(root(request) + str(app.openapi_url)))
        return Response(script, media_type="text/javascript; charset=utf-8",
                        headers={**DOCS_HEADERS, "Cache-Control": "no-cache"})

    @app.get("/docs/assets/{name}", include_in_schema=False)
    def docs_asset(name: str) -> FileResponse:
        if name not in DOCS_FILES:
            raise NotFound(f"No docs asset {name!r}.", code="static_not_found")
        media_type = DOCS_FILES[name] + ("; charset=utf-8" if DOCS_FILES[name].startswith("text/") else "")
        return FileResponse(str(DOCS_ASSETS / name), media_type=media_type,
                            headers={**DOCS_HEADERS, "Cache-Control": "public, max-age=86400"})

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        page = REDOC_PAGE.format(title=html.escape(app.title), root=html.escape(root(request)),
                                 openapi=html.escape(str(app.openapi_url)))
        return HTMLResponse(page, headers={**DOCS_HEADERS, "Cache-Control": "no-cache"})


def install_middleware(app: FastAPI, settings: Settings, metrics: observability.Metrics) -> None:
    """From the outside in: the request id (so every response and log line carries it), metrics (which thus see
    every response, refusals included), CORS, API keys, the rate limit. Starlette wraps each middleware added
    around those added before it, so they are added from the inside out."""
    security.install(app, settings, on_limited=metrics.observe_rate_limited)  # the rate limit, then keys
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", observability.REQUEST_ID_HEADER],
            expose_headers=[observability.REQUEST_ID_HEADER, "Retry-After"],
        )
    observability.install(app, metrics)  # metrics, then the request id


def error_response(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    body: dict[str, str] = {"code": code, "message": message}
    if field:
        body["field"] = field
    return JSONResponse({"error": body}, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(CiteqaError)
    async def citeqa_error(request: Request, exc: CiteqaError) -> JSONResponse:
        if exc.status_code >= 500:
            log.warning("%s %s -> %d %s", request.method, request.url.path, exc.status_code, exc.code)
        return JSONResponse(exc.to_body(), status_code=exc.status_code, headers=exc.headers())

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {}
        location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
        field = ".".join(location) or None
        message = str(first.get("msg", "Invalid request."))
        if first.get("type") == "json_invalid":
            message, field = "The request body is not valid JSON.", None
        return error_response(422, "invalid_request", f"{field}: {message}" if field else message, field)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "Something went wrong on our side.")
