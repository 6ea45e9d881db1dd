"""End to end over real HTTP: uvicorn on a free port, the real model, a real embedded Chroma."""

from __future__ import annotations

import httpx
import pytest

from ingest.chunking import split_sentences
from service.store import UNAVAILABLE
from tests.conftest import SEED_QUESTION, UNANSWERABLE


def ask(server, **body):
    return httpx.post(f"{server.url}/ask", json=body, timeout=60)


def test_seed_question_is_answered_with_checked_citations(live_server) -> None:
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
    # the quote is a whole sentence of the seed article (one of the two that state the scope: "on NATO's
    # unclassified networks", "the contract scope is limited to unclassified systems")
    doc = httpx.get(f"{live_server.url}/documents/{cited[0]['doc_id']}").json()
    assert (cited[0]["start"], cited[0]["end"]) in split_sentences(doc["text"])


def test_unanswerable_question_is_refused_without_citations(live_server) -> None:
    body = ask(live_server, question=UNANSWERABLE).json()
    assert body["refused"] is True
    assert body["citations"] == []
    assert body["answer"] == "The sources do not answer this question."


def test_documents_filter_and_k(live_server) -> None:
    docs = httpx.get(f"{live_server.url}/documents").json()
    assert len(docs) == 1 and docs[0]["chunks"] >= 1 and docs[0]["source"].endswith(".txt")
    body = ask(live_server, question=SEED_QUESTION, k=1, documents=[docs[0]["id"]]).json()
    assert {c["doc_id"] for c in body["citations"]} == {docs[0]["id"]}


def test_an_unknown_document_id_is_a_404_naming_it(live_server) -> None:
    known = httpx.get(f"{live_server.url}/documents").json()[0]["id"]
    user = [{"role": "user", "content": SEED_QUESTION}]
    requests = [
        ("/ask", {"question": SEED_QUESTION}),
        ("/chat", {"messages": user}),
        ("/chat", {"messages": user, "stream": True}),  # before the stream starts: a JSON error
        ("/v1/chat/completions", {"model": "citeqa", "messages": user}),
        ("/v1/chat/completions", {"model": "citeqa", "messages": user, "stream": True}),
    ]
    for path, body in requests:
        response = httpx.post(f"{live_server.url}{path}", json={**body, "documents": [known, "no-such-doc"]},
                              timeout=60)
        assert response.status_code == 404, (path, response.text)
        assert response.headers["content-type"].startswith("application/json")
        error = response.json()["error"]
        assert error["code"] == "document_not_found" and error["field"] == "documents", (path, error)
        assert "'no-such-doc'" in error["message"] and known not in error["message"]
    two = ask(live_server, question=SEED_QUESTION, documents=["nope-1", "nope-2"]).json()["error"]["message"]
    assert "'nope-1'" in two and "'nope-2'" in two
    assert ask(live_server, question=SEED_QUESTION, documents=[known]).status_code == 200


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
def test_bad_questions_get_422_naming_the_field(live_server, body: dict, field: str) -> None:
    response = ask(live_server, **body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == field and error["message"] and error["code"]


def test_malformed_json_and_unknown_routes(live_server) -> None:
    response = httpx.post(f"{live_server.url}/ask", content=b"{nope", headers={"content-type": "application/json"})
    assert response.status_code == 422 and "JSON" in response.json()["error"]["message"]
    missing = httpx.get(f"{live_server.url}/documents/no-such-doc")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "document_not_found"
    assert httpx.get(f"{live_server.url}/documents/..%2F..%2Fetc%2Fpasswd").status_code in (404, 422)
    assert httpx.get(f"{live_server.url}/nope").json()["error"]["code"] == "not_found"
    assert httpx.get(f"{live_server.url}/ask").status_code == 405


def test_healthz(live_server) -> None:
    body = httpx.get(f"{live_server.url}/healthz").json()
    assert body["status"] == "ok" and body["store"]["status"] == "up" and body["store"]["chunks"] >= 1
    assert body["store"]["revision"]


def test_healthz_reports_a_store_whose_reads_fail(live_server, monkeypatch) -> None:
    """Reads failing in chromadb itself (not a heartbeat, not a mocked store method), on every client the store
    opens: /healthz is a 503 saying so, and says up again once reads work, without a restart."""
    from chromadb.api.models.Collection import Collection
    from chromadb.errors import InternalError

    def failing(*args, **kwargs):
        raise InternalError("Error executing plan: Internal error: Error finding id")

    with monkeypatch.context() as patch:
        patch.setattr(Collection, "get", failing)
        patch.setattr(Collection, "query", failing)
        response = httpx.get(f"{live_server.url}/healthz")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "degraded" and body["store"]["status"] == "down"
        assert body["store"]["error"] == UNAVAILABLE and "Error finding id" not in response.text  # no chromadb text
        assert ask(live_server, question=SEED_QUESTION).status_code == 503
    assert httpx.get(f"{live_server.url}/healthz").status_code == 200
    assert ask(live_server, question=SEED_QUESTION).status_code == 200


def test_store_unavailable_is_a_503(live_server, monkeypatch) -> None:
    from service.errors import StoreUnavailable

    parts = live_server.server.config.app.state.components

    def broken(*args, **kwargs):
        raise StoreUnavailable("The document store is unavailable; try again shortly.")

    monkeypatch.setattr(parts.store, "query", broken)
    monkeypatch.setattr(parts.store, "query_ids", broken)  # what the retriever's dense query calls
    monkeypatch.setattr(parts.store, "check", broken)  # what /healthz reads
    response = ask(live_server, question=SEED_QUESTION)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "store_unavailable"
    assert httpx.get(f"{live_server.url}/healthz").status_code == 503


def test_docs_work_offline(live_server) -> None:
    """/docs and /redoc load their scripts and styles from the app itself, nothing from elsewhere."""
    import re

    for page, wanted in (("/docs", {"swagger-ui-bundle.js", "swagger-ui.css", "swagger-init.js"}),
                         ("/redoc", {"redoc.standalone.js"})):
        response = httpx.get(f"{live_server.url}{page}")
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
        assert "script-src 'self';" in response.headers["content-security-policy"]
        urls = re.findall(r'(?:src|href)="([^"]+)"', response.text)
        assert wanted <= {url.rsplit("/", 1)[-1] for url in urls}
        assert "<script>" not in response.text  # no inline script: the CSP allows none
        for url in urls:
            assert url.startswith("/") and not url.startswith("//"), url  # the app's own
            asset = httpx.get(f"{live_server.url}{url}")
            assert asset.status_code == 200 and len(asset.content) > 0, url
            kind = asset.headers["content-type"]
            assert kind.startswith({"js": "text/javascript", "css": "text/css", "png": "image/png"}[
                url.rsplit(".", 1)[-1]]), (url, kind)
    init = httpx.get(f"{live_server.url}/docs/assets/swagger-init.js").text
    assert '"/openapi.json"' in init
    assert httpx.get(f"{live_server.url}/openapi.json").json()["paths"]["/ask"]
    assert httpx.get(f"{live_server.url}/docs/assets/nope.js").status_code == 404
    assert httpx.get(f"{live_server.url}/docs/assets/..%2F..%2Fcore.py").status_code == 404


def test_docs_list_the_operations_in_chromium(live_server) -> None:
    """Debian's headless Chromium runs /docs' scripts (what a person sees): every operation is listed, and the
    page's Content-Security-Policy blocks nothing it needs."""
    import subprocess
    from pathlib import Path

    chromium = "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.fail(f"{chromium} is missing: apt-get install -y --no-install-recommends chromium (.ci/run does)")
    done = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--enable-logging=stderr", "--v=0", "--virtual-time-budget=20000", "--dump-dom", f"{live_server.url}/docs"],
        capture_output=True, text=True, timeout=120,
    )
    dom = done.stdout
    schema = httpx.get(f"{live_server.url}/openapi.json").json()
    for path in schema["paths"]:
        assert f'data-path="{path}"' in dom, path
    assert dom.count('class="opblock-summary-path"') == sum(len(item) for item in schema["paths"].values())
    assert "Content Security Policy" not in done.stderr, done.stderr[-2000:]
