"""End to end over real HTTP: uvicorn on a free port, the real model, a real embedded Chroma."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import SEED_QUESTION, UNANSWERABLE


def ask(server, **body):  # noqa: ANN001, ANN003, ANN201
    return httpx.post(f"{server.url}/ask", json=body, timeout=60)


def test_seed_question_is_answered_with_checked_citations(live_server) -> None:  # noqa: ANN001
    response = ask(live_server, question=SEED_QUESTION)
    assert response.status_code == 200
    body = response.json()
    assert body["refused"] is False and body["model"] == "extractive"
    assert "unclassified" in body["answer"]
    assert body["citations"] and body["dropped_citations"] == 0
    assert set(body["timings_ms"]) >= {"embed", "retrieve", "answer"}
    cited = [c for c in body["citations"] if "unclassified" in c["quote"]]
    assert cited, body
    for citation in body["citations"]:
        doc = httpx.get(f"{live_server.url}/documents/{citation['doc_id']}").json()
        assert doc["text"][citation["start"] : citation["end"]] == citation["quote"]
        assert citation["chunk_id"].startswith(citation["doc_id"])
        assert f"[{citation['n']}]" in body["answer"]
    # the quote is a whole sentence of the seed article
    assert cited[0]["quote"].startswith("OpenAI is negotiating") and cited[0]["quote"].endswith("Tuesday.")


def test_unanswerable_question_is_refused_without_citations(live_server) -> None:  # noqa: ANN001
    body = ask(live_server, question=UNANSWERABLE).json()
    assert body["refused"] is True
    assert body["citations"] == []
    assert body["answer"] == "The sources do not answer this question."


def test_documents_filter_and_k(live_server) -> None:  # noqa: ANN001
    docs = httpx.get(f"{live_server.url}/documents").json()
    assert len(docs) == 1 and docs[0]["chunks"] >= 1 and docs[0]["source"].endswith(".txt")
    body = ask(live_server, question=SEED_QUESTION, k=1, documents=[docs[0]["id"]]).json()
    assert {c["doc_id"] for c in body["citations"]} == {docs[0]["id"]}
    assert ask(live_server, question=SEED_QUESTION, documents=["no-such-doc"]).json()["refused"] is True


@pytest.mark.parametrize(
    "body, field",
    [
        ({"question": ""}, "question"),
        ({"question": "   \n\t "}, "question"),
        ({"question": "x" * 2001}, "question"),
        ({"question": 42}, "question"),
        ({}, "question"),
        ({"question": "ok?", "k": 0}, "k"),
        ({"question": "ok?", "k": 10_000}, "k"),
        ({"question": "ok?", "k": "many"}, "k"),
        ({"question": "ok?", "unknown": 1}, "unknown"),
    ],
)
def test_bad_questions_get_422_naming_the_field(live_server, body: dict, field: str) -> None:  # noqa: ANN001
    response = ask(live_server, **body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == field and error["message"] and error["code"]


def test_malformed_json_and_unknown_routes(live_server) -> None:  # noqa: ANN001
    response = httpx.post(f"{live_server.url}/ask", content=b"{nope", headers={"content-type": "application/json"})
    assert response.status_code == 422 and "JSON" in response.json()["error"]["message"]
    missing = httpx.get(f"{live_server.url}/documents/no-such-doc")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "document_not_found"
    assert httpx.get(f"{live_server.url}/documents/..%2F..%2Fetc%2Fpasswd").status_code in (404, 422)
    assert httpx.get(f"{live_server.url}/nope").json()["error"]["code"] == "not_found"
    assert httpx.get(f"{live_server.url}/ask").status_code == 405


def test_healthz(live_server) -> None:  # noqa: ANN001
    body = httpx.get(f"{live_server.url}/healthz").json()
    assert body["status"] == "ok" and body["store"]["status"] == "up" and body["store"]["chunks"] >= 1


def test_store_unavailable_is_a_503(live_server, monkeypatch) -> None:  # noqa: ANN001
    from service.errors import StoreUnavailable

    parts = live_server.server.config.app.state.components

    def broken(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise StoreUnavailable("The document store is unavailable; try again shortly.")

    monkeypatch.setattr(parts.store, "query", broken)
    monkeypatch.setattr(parts.store, "query_ids", broken)  # what the retriever's dense query calls
    monkeypatch.setattr(parts.store, "count_chunks", broken)
    response = ask(live_server, question=SEED_QUESTION)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "store_unavailable"
    assert httpx.get(f"{live_server.url}/healthz").status_code == 503
