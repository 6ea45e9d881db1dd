"""The app factory: ``create_app(settings)`` builds the FastAPI app; its lifespan builds the parts once."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from service import components, observability, security
from service.errors import CiteqaError
from service.routes import ask, chat, documents, health, metrics, openai_compat, page, upload
from service.settings import Settings

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
            from service import llm

            llm.warm_up()  # and import litellm, not in the first answer
        app.state.components = built
        built.pipeline.observers.append(app_metrics.observe_answer)
        log.info("citeqa ready: model=%s store=%s", built.pipeline.model, built.store.location)
        yield
        built.pipeline.observers.remove(app_metrics.observe_answer)

    app = FastAPI(title="citeqa", version="0.1.0", lifespan=lifespan,
                  description="Answers with citations that resolve to a document, a chunk and a character span.")
    app.state.settings = settings
    app.state.metrics = app_metrics = observability.Metrics()
    for module in (ask, chat, documents, health, metrics, openai_compat, page, upload):
        app.include_router(module.router)
    install_error_handlers(app)
    install_middleware(app, settings, app_metrics)
    return app


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
