"""Request ids (headers and logs) and the Prometheus metrics, over real HTTP."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from service.web.app import create_app
from service.web.observability import RequestIdFilter
from tests.conftest import SEED_QUESTION, UNANSWERABLE, make_parts
from tests.servers import LiveServer


def samples(server: LiveServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = httpx.get(f"{server.url}/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def test_request_ids_are_made_or_kept(live_server: LiveServer) -> None:
    made = httpx.get(f"{live_server.url}/healthz").headers["x-request-id"]
    assert len(made) == 32 and int(made, 16) >= 0
    assert httpx.get(f"{live_server.url}/healthz").headers["x-request-id"] != made
    kept = httpx.get(f"{live_server.url}/healthz", headers={"X-Request-ID": "trace-42:abc.def_1"})
    assert kept.headers["x-request-id"] == "trace-42:abc.def_1"
    for insane in ("x" * 129, "bad id", "<script>", ""):
        replaced = httpx.get(f"{live_server.url}/healthz", headers={"X-Request-ID": insane})
        assert replaced.headers["x-request-id"] != insane and len(replaced.headers["x-request-id"]) == 32
    for response in (httpx.get(f"{live_server.url}/nope"), httpx.post(f"{live_server.url}/ask", json={})):
        assert response.status_code in (404, 422) and len(response.headers["x-request-id"]) == 32


def test_an_unexpected_error_is_a_500_with_the_request_id(live_server: LiveServer,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    parts = live_server.server.config.app.state.components

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(parts.store, "documents", broken)
    response = httpx.get(f"{live_server.url}/documents", headers={"X-Request-ID": "req-500"})
    assert response.status_code == 500 and response.headers["x-request-id"] == "req-500"
    assert response.json() == {"error": {"code": "internal_error", "message": "Something went wrong on our side."}}
    assert value(samples(live_server), "citeqa_http_requests_total", method="GET", route="/documents",
                 status="500") == 1


def test_log_lines_carry_the_request_id(live_server: LiveServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.handler.addFilter(RequestIdFilter())
    caplog.set_level(logging.INFO)
    httpx.post(f"{live_server.url}/ask", json={"question": SEED_QUESTION}, headers={"X-Request-ID": "ask-1"},
               timeout=60)
    by_logger = {record.name: record for record in caplog.records}
    assert by_logger["citeqa.access"].request_id == "ask-1"  # type: ignore[attr-defined]
    assert "POST /ask 200" in by_logger["citeqa.access"].getMessage()
    assert by_logger["service.answer.pipeline"].request_id == "ask-1"  # logged in the worker thread of the route
    assert all(record.request_id in ("ask-1", "-") for record in caplog.records)  # type: ignore[attr-defined]


def test_metrics_count_requests_by_route_template_and_answers(live_server: LiveServer) -> None:
    url = live_server.url
    doc_id = httpx.get(f"{url}/documents").json()[0]["id"]
    httpx.get(f"{url}/documents/{doc_id}")
    httpx.get(f"{url}/documents/no-such-doc")
    httpx.get(f"{url}/no/such/route")
    assert httpx.post(f"{url}/ask", json={"question": SEED_QUESTION}, timeout=60).json()["refused"] is False
    assert httpx.post(f"{url}/ask", json={"question": UNANSWERABLE}, timeout=60).json()["refused"] is True
    found = samples(live_server)
    requests = "citeqa_http_requests_total"
    assert value(found, requests, method="GET", route="/documents/{doc_id}", status="200") == 1
    assert value(found, requests, method="GET", route="/documents/{doc_id}", status="404") == 1
    assert value(found, requests, method="GET", route="<unmatched>", status="404") == 1
    assert value(found, requests, method="POST", route="/ask", status="200") == 2
    assert value(found, "citeqa_http_request_duration_seconds_count", method="POST", route="/ask",
                 status="200") == 2
    assert value(found, "citeqa_answers_total", model="extractive", refused="true") == 1
    assert value(found, "citeqa_answers_total", model="extractive", refused="false") == 1
    assert value(found, "citeqa_refusals_total", model="extractive") == 1
    assert value(found, "citeqa_retrieval_duration_seconds_count") == 2
    assert value(found, "citeqa_answer_duration_seconds_count", model="extractive") == 2
    assert not any(doc_id in name or doc_id in str(labels) for name, labels in found)  # templates, not paths


@pytest.fixture
def llm_server(seeded_settings, embedder, openai_server) -> Iterator[LiveServer]:
    settings = seeded_settings.model_copy(update={"llm_model": "openai/test-model",
                                                   "llm_api_base": openai_server.api_base})
    openai_server.content = "It would cover unclassified networks [1]. It was signed in Paris [9]."
    with LiveServer(create_app(settings, make_parts(settings, embedder))) as server:
        yield server


def test_dropped_citations_are_counted(llm_server: LiveServer) -> None:
    body = httpx.post(f"{llm_server.url}/ask", json={"question": SEED_QUESTION}, timeout=60).json()
    assert body["dropped_citations"] == 1
    found = samples(llm_server)
    assert value(found, "citeqa_dropped_citations_total", model="openai/test-model") == 1
    assert value(found, "citeqa_answer_duration_seconds_count", model="openai/test-model") == 1
