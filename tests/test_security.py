"""API keys, the rate limit and CORS: unit tests of the seams, then the real app over real HTTP."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from service.settings import Settings
from service.web.app import create_app
from service.web.security import KeyRing, TokenBuckets, under
from tests.conftest import make_parts, make_settings
from tests.servers import LiveServer

KEYS = ("k-alpha-0123456789", "k-beta-9876543210")
NOTE = ("note.txt", b"The lighthouse keeper lights the lamp at dusk.")


# --- seams ---------------------------------------------------------------------------------------------------
def test_key_ring_matches_any_key_and_nothing_else() -> None:
    ring = KeyRing(KEYS)
    assert ring.match(KEYS[0]) == 0 and ring.match(KEYS[1]) == 1
    assert ring.match("k-alpha") is None and ring.match("") is None and ring.match(KEYS[0] + "x") is None
    assert KEYS[0] not in repr(ring) and not KeyRing([])


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    now = [0.0]
    buckets = TokenBuckets(per_minute=60, burst=2, clock=lambda: now[0])
    assert buckets.take("a") == 0 and buckets.take("a") == 0
    assert buckets.take("a") == pytest.approx(1.0)  # empty: one token a second
    assert buckets.take("b") == 0  # each client has its own bucket
    now[0] = 0.5
    assert buckets.take("a") == pytest.approx(0.5)
    now[0] = 1.0
    assert buckets.take("a") == 0
    now[0] = 100.0
    buckets.take("c")
    assert len(buckets) == 1  # idle, refilled buckets are dropped


def test_path_prefixes() -> None:
    assert under("/chat", ["/chat"]) and under("/chat/stream", ["/chat"]) and not under("/chatter", ["/chat"])
    assert under("/v1/chat/completions", ["/ask", "/v1/chat/completions"])


def test_key_settings(tmp_path: Path) -> None:
    key_file = tmp_path / "keys"
    key_file.write_text(f"# deploy keys\n{KEYS[0]}\n\n{KEYS[1]}  # the second\n")
    assert make_settings(tmp_path, api_keys=str(key_file)).api_key_values() == list(KEYS)
    settings = make_settings(tmp_path, api_keys=f" {KEYS[0]} , {KEYS[1]} ")
    assert settings.api_key_values() == list(KEYS)
    assert KEYS[0] not in repr(settings) and KEYS[0] not in str(settings.model_dump())
    for bad in ({"api_keys": str(tmp_path / "missing")}, {"api_keys": " , "}, {"protect_reads": True},
                {"upload_max_file_bytes": 10, "upload_max_request_bytes": 5}, {"rate_limit_paths": "ask"}):
        with pytest.raises(ValidationError) as caught:
            make_settings(tmp_path, **bad)
        assert KEYS[0] not in str(caught.value)
    with pytest.raises(ValidationError) as caught:  # another field is wrong: the keys are not echoed
        make_settings(tmp_path, api_keys=KEYS[0], top_k=0)
    assert KEYS[0] not in str(caught.value)


# --- over HTTP -----------------------------------------------------------------------------------------------
def serve(settings: Settings, embedder) -> LiveServer:
    return LiveServer(create_app(settings, make_parts(settings, embedder)))


@pytest.fixture
def keyed(tmp_path: Path, embedder) -> Iterator[LiveServer]:
    with serve(make_settings(tmp_path / "store", api_keys=",".join(KEYS)), embedder) as server:
        yield server


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_writes_need_a_valid_key(keyed: LiveServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"{keyed.url}/documents"
    missing = httpx.post(url, files=[("files", NOTE)])
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert missing.json()["error"]["code"] == "api_key_missing"
    basic = httpx.post(url, files=[("files", NOTE)], headers={"Authorization": f"Basic {KEYS[0]}"})
    assert basic.status_code == 401
    wrong = httpx.post(url, files=[("files", NOTE)], headers=bearer("k-gamma-not-a-key"))
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "api_key_invalid"
    ok = httpx.post(url, files=[("files", NOTE)], headers=bearer(KEYS[1]), timeout=60)
    assert ok.status_code == 200, ok.text
    doc_id = ok.json()["documents"][0]["id"]
    assert httpx.delete(f"{url}/{doc_id}").status_code == 401
    assert httpx.delete(f"{url}/{doc_id}", headers=bearer("nope")).status_code == 403
    assert httpx.delete(f"{url}/{doc_id}", headers=bearer(KEYS[0])).status_code == 200
    # reads stay open by default
    assert httpx.get(url).status_code == 200
    assert httpx.post(f"{keyed.url}/ask", json={"question": "Who lights the lamp?"}, timeout=60).status_code == 200
    assert all(key not in caplog.text for key in KEYS)


def test_reads_can_be_closed(tmp_path: Path, embedder) -> None:
    settings = make_settings(tmp_path / "store", api_keys=KEYS[0], protect_reads=True)
    with serve(settings, embedder) as server:
        for method, path in (("GET", "/documents"), ("POST", "/ask"), ("GET", "/metrics"), ("GET", "/openapi.json")):
            response = httpx.request(method, f"{server.url}{path}", json={"question": "Who?"})
            assert response.status_code == 401, (method, path)
            assert response.json()["error"]["code"] == "api_key_missing"
        assert httpx.get(f"{server.url}/documents", headers=bearer("wrong")).status_code == 403
        assert httpx.get(f"{server.url}/documents", headers=bearer(KEYS[0])).status_code == 200
        assert httpx.get(f"{server.url}/healthz").status_code == 200  # health checks need no key


def test_rate_limit_answers_429_with_retry_after(tmp_path: Path, embedder) -> None:
    settings = make_settings(tmp_path / "store", api_keys=",".join(KEYS), rate_limit_per_minute=1,
                             rate_limit_burst=2)
    with serve(settings, embedder) as server:
        bad_question = {"question": ""}  # 422 quickly, but it still costs a token
        statuses = [httpx.post(f"{server.url}/ask", json=bad_question).status_code for _ in range(3)]
        assert statuses == [422, 422, 429]
        limited = httpx.post(f"{server.url}/ask", json=bad_question)
        assert limited.status_code == 429 and 1 <= int(limited.headers["retry-after"]) <= 60
        assert limited.json()["error"]["code"] == "rate_limited"
        # each key has a bucket of its own; keyless clients share their address's bucket
        keyed = [httpx.post(f"{server.url}/ask", json=bad_question, headers=bearer(KEYS[0])).status_code
                 for _ in range(3)]
        assert keyed == [422, 422, 429]
        assert httpx.post(f"{server.url}/ask", json=bad_question, headers=bearer(KEYS[1])).status_code == 422
        # a route that does not exist yet is covered by its prefix; other routes are not limited at all
        v1 = [httpx.post(f"{server.url}/v1/chat/completions", json={}, headers=bearer("unknown")).status_code
              for _ in range(3)]
        assert v1 == [429, 429, 429]  # an unknown key counts as no key: the address's bucket is empty
        assert all(httpx.get(f"{server.url}/documents").status_code == 200 for _ in range(5))
        metrics = httpx.get(f"{server.url}/metrics").text
        assert "citeqa_rate_limited_total 6.0" in metrics


def test_cors_is_closed_by_default(keyed: LiveServer) -> None:
    origin = {"Origin": "https://elsewhere.example"}
    response = httpx.get(f"{keyed.url}/documents", headers=origin)
    assert response.status_code == 200 and "access-control-allow-origin" not in response.headers
    preflight = httpx.options(f"{keyed.url}/ask", headers={**origin, "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers


def test_cors_allows_the_configured_origins(tmp_path: Path, embedder) -> None:
    settings = make_settings(tmp_path / "store", api_keys=KEYS[0], cors_origins="https://app.example")
    with serve(settings, embedder) as server:
        allowed = {"Origin": "https://app.example"}
        preflight = httpx.options(f"{server.url}/documents", headers={
            **allowed, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization"})  # preflights carry no key and need none
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://app.example"
        response = httpx.post(f"{server.url}/documents", headers=allowed, files=[("files", NOTE)])
        assert response.status_code == 401  # refusals carry the CORS headers, so the page can read them
        assert response.headers["access-control-allow-origin"] == "https://app.example"
        assert "x-request-id" in response.headers["access-control-expose-headers"].lower()
        other = httpx.get(f"{server.url}/documents", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
