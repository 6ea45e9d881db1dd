"""Request ids, access logs and Prometheus metrics.

- :class:`RequestIdMiddleware` (outermost) gives every request an id: the caller's ``X-Request-ID`` when it is
  sane (1-128 of ``A-Z a-z 0-9 . _ : -``), else a new one. It is returned in the ``X-Request-ID`` response header,
  kept in a context variable that :class:`RequestIdFilter` adds to every log record (``%(request_id)s``), and
  closes each request with one access-log line on the ``citeqa.access`` logger. An unhandled error becomes the
  usual 500 JSON body here, so that response carries the id too.
- :class:`MetricsMiddleware` counts and times every response by method, route template (``/documents/{doc_id}``,
  never the raw path) and status, including the 401/403/429 answers of the security middlewares.
- :class:`Metrics` holds the metrics in a registry of its own per app (no process globals); ``GET /metrics``
  renders it in the Prometheus text format. Each replica exposes its own; Prometheus adds them up.

Metric definitions (all prefixed ``citeqa_``):

    http_requests_total{method,route,status}                  responses sent
    http_request_duration_seconds{method,route,status}        time to the last byte of the response
    retrieval_duration_seconds                                embedding the question + dense + BM25 retrieval
    answer_duration_seconds{model}                            the answerer (LLM or extractive), citations checked
    answers_total{model,refused}                              answers given, by whether they refused
    refusals_total{model}                                     answers that refused ("The sources do not ...")
    dropped_citations_total{model}                            [n] markers removed as naming no retrieved passage
    rate_limited_total                                        requests answered 429
    uploaded_files_total{outcome}                             files received by POST /documents, by outcome
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from service.errors import CiteqaError

if TYPE_CHECKING:  # starlette is imported where it is used, so the CLI's logging set-up stays instant
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from service.answer.pipeline import AskResult

log = logging.getLogger(__name__)
access_log = logging.getLogger("citeqa.access")

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_SCOPE = "citeqa.request_id"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_request_id: ContextVar[str] = ContextVar("citeqa_request_id", default="-")

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
UNMATCHED = "<unmatched>"


def current_request_id() -> str:
    """The id of the request being handled, or '-' outside a request."""
    return _request_id.get()


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record passing through the handler it is attached to."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        return True


def configure_logging(level: int) -> None:
    """The entry point's one logging set-up: every line carries the request id; access lines show at INFO."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s")
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
            handler.addFilter(RequestIdFilter())
    access_log.setLevel(min(level, logging.INFO))


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate = value.decode("latin-1").strip()
            return candidate if _SANE_ID.match(candidate) else None
    return None


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_id(scope) or uuid.uuid4().hex
        scope[REQUEST_ID_SCOPE] = request_id
        token = _request_id.set(request_id)
        started = time.perf_counter()
        status = {"code": 500, "sent": False}

        from starlette.datastructures import MutableHeaders

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
                status["code"], status["sent"] = message["status"], True
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if status["sent"]:
                raise  # the response has begun: all we can do is let the server close the connection
            await _internal_error(scope, receive, send_with_id)
        finally:
            access_log.info("%s %s %s %d %.1f ms", _client(scope), scope["method"], scope["path"], status["code"],
                            (time.perf_counter() - started) * 1000)
            _request_id.reset(token)


async def _internal_error(scope: Scope, receive: Receive, send: Send) -> None:
    from starlette.responses import JSONResponse

    error = CiteqaError("Something went wrong on our side.")
    await JSONResponse(error.to_body(), status_code=500)(scope, receive, send)


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return f"{client[0]}" if client else "-"


class Metrics:
    """The service's metrics (see the module docstring), in a registry of their own."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("citeqa_http_requests", "HTTP responses sent, by method, route template and status.",
                                ["method", "route", "status"], registry=r)
        self.request_seconds = Histogram(
            "citeqa_http_request_duration_seconds", "Time to the last byte of the response, by route and status.",
            ["method", "route", "status"], buckets=LATENCY_BUCKETS, registry=r,
        )
        self.retrieval_seconds = Histogram(
            "citeqa_retrieval_duration_seconds", "Embedding the question plus dense and BM25 retrieval.",
            buckets=LATENCY_BUCKETS, registry=r,
        )
        self.answer_seconds = Histogram(
            "citeqa_answer_duration_seconds", "The answerer (LLM or extractive), with the citation check.",
            ["model"], buckets=LATENCY_BUCKETS, registry=r,
        )
        self.answers = Counter("citeqa_answers", "Answers given, by model and whether they refused.",
                               ["model", "refused"], registry=r)
        self.refusals = Counter("citeqa_refusals", "Answers that refused: the sources do not answer the question.",
                                ["model"], registry=r)
        self.dropped_citations = Counter(
            "citeqa_dropped_citations", "Citation markers removed because they named no retrieved passage.",
            ["model"], registry=r,
        )
        self.rate_limited = Counter("citeqa_rate_limited", "Requests answered 429 by the rate limit.", registry=r)
        self.uploaded_files = Counter("citeqa_uploaded_files", "Files received by POST /documents, by outcome.",
                                      ["outcome"], registry=r)

    def observe_answer(self, result: AskResult) -> None:
        """Record one answer of the pipeline (however it was delivered: /ask, /chat, streaming or not)."""
        timings = result.timings_ms
        self.retrieval_seconds.observe((timings.get("embed", 0.0) + timings.get("retrieve", 0.0)) / 1000)
        self.answer_seconds.labels(result.model).observe(timings.get("answer", 0.0) / 1000)
        self.answers.labels(result.model, str(result.refused).lower()).inc()
        if result.refused:
            self.refusals.labels(result.model).inc()
        if result.dropped_citations:
            self.dropped_citations.labels(result.model).inc(result.dropped_citations)

    def observe_rate_limited(self, path: str) -> None:
        self.rate_limited.inc()

    def render(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_PLAIN_0_0_4


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics, routes_of: Any) -> None:
        self.app = app
        self.metrics = metrics
        self.routes_of = routes_of  # the FastAPI app, whose OpenAPI paths name a refused request's route
        self._templates: list[tuple[Any, str]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def send_and_note(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = self.route_template(scope)
            labels = (scope["method"], route, str(status["code"]))
            self.metrics.requests.labels(*labels).inc()
            self.metrics.request_seconds.labels(*labels).observe(time.perf_counter() - started)

    def route_template(self, scope: Scope) -> str:
        """The matched route's path template; for a request refused before routing (401, 403, 429), the
        documented route its path fits; else ``<unmatched>``, so raw paths never become label values."""
        path = getattr(scope.get("route"), "path", None)
        if isinstance(path, str) and path:
            return path
        return self._documented_template(scope["path"]) or UNMATCHED

    def _documented_template(self, path: str) -> str | None:
        if self._templates is None:
            from starlette.routing import compile_path

            try:  # the OpenAPI paths: the public list of every route's template, however routers are nested
                paths = list(self.routes_of.openapi().get("paths", {}))
            except Exception:  # a broken schema must not break the metrics
                log.warning("no OpenAPI paths to name refused requests by", exc_info=True)
                paths = []
            self._templates = [(compile_path(template)[0], template) for template in paths]
        return next((template for regex, template in self._templates if regex.match(path)), None)


def install(app: Any, metrics: Metrics) -> None:
    """Add metrics, then the request id around it (so the id is outermost and every line carries it)."""
    app.add_middleware(MetricsMiddleware, metrics=metrics, routes_of=app)
    app.add_middleware(RequestIdMiddleware)
