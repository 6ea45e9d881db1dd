"""POST /chat over real HTTP (uvicorn on 127.0.0.1, the real model, a real embedded Chroma): JSON and
Server-Sent Events, follow-up condensing, and failures before and during a stream."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import SEED_QUESTION, UNANSWERABLE
from tests.servers import LiveServer

ALTMAN = "What did Sam Altman say the NATO contract would cover?"
MARKER = re.compile(r"\s*\[\d+(?:,\s*\d+)*\]")


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def chat(server: LiveServer, messages: list[dict[str, str]], **extra: Any) -> httpx.Response:
    return httpx.post(f"{server.url}/chat", json={"messages": messages, **extra}, timeout=60)


def parse_sse(lines: Iterator[str]) -> list[tuple[str, Any]]:
    """Server-Sent Events as (event, JSON data), read line by line as they arrive."""
    events, kind, data = [], None, []
    for line in lines:
        if line == "":
            if data:
                events.append((kind or "message", json.loads("\n".join(data))))
            kind, data = None, []
        elif line.startswith("event:"):
            kind = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())
    return events


def stream(server: LiveServer, messages: list[dict[str, str]], headers: dict[str, str] | None = None,
           **extra: Any) -> tuple[httpx.Response, list[tuple[str, Any]]]:
    body = {"messages": messages, **extra}
    with httpx.stream("POST", f"{server.url}/chat", json=body, headers=headers, timeout=60) as response:
        if response.headers["content-type"].startswith("text/event-stream"):
            return response, parse_sse(response.iter_lines())
        response.read()
        return response, []


def kinds(events: list[tuple[str, Any]]) -> list[str]:
    collapsed: list[str] = []
    for kind, _ in events:
        if not collapsed or collapsed[-1] != kind:
            collapsed.append(kind)
    return collapsed


def test_json_answer_returns_the_question_used(live_server) -> None:
    response = chat(live_server, [user(SEED_QUESTION)])
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["question"] == SEED_QUESTION and body["condensed"] is False
    assert "unclassified" in body["answer"] and body["refused"] is False
    assert set(body["timings_ms"]) >= {"condense", "embed", "retrieve", "answer", "total"}
    # the same pipeline as /ask
    ask = httpx.post(f"{live_server.url}/ask", json={"question": SEED_QUESTION}, timeout=60).json()
    assert (ask["answer"], ask["citations"]) == (body["answer"], body["citations"])


def test_follow_up_is_condensed_and_answered_from_the_source(live_server) -> None:
    first = chat(live_server, [user(ALTMAN)]).json()
    messages = [user(ALTMAN), {"role": "assistant", "content": first["answer"]}, user("Who corrected him?")]
    body = chat(live_server, messages).json()
    assert body["condensed"] is True
    assert body["question"] == f"Who corrected him? ({ALTMAN})"
    assert body["refused"] is False and "spokeswoman corrected" in body["answer"]
    doc = httpx.get(f"{live_server.url}/documents/{body['citations'][0]['doc_id']}").json()
    for citation in body["citations"]:
        assert doc["text"][citation["start"] : citation["end"]] == citation["quote"]
    # asked on its own, the same words are not rewritten
    alone = chat(live_server, [user("Who corrected him?")]).json()
    assert alone["question"] == "Who corrected him?" and alone["condensed"] is False


def test_stream_sends_sources_deltas_citations_done_and_matches_json(live_server) -> None:
    messages = [user(SEED_QUESTION)]
    response, events = stream(live_server, messages, stream=True)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert kinds(events) == ["sources", "delta", "citations", "done"]
    sources = events[0][1]
    assert sources["question"] == SEED_QUESTION and sources["condensed"] is False
    passages = sources["passages"]
    assert [p["n"] for p in passages] == list(range(1, len(passages) + 1))
    assert all(p["text"] and p["doc_id"] and p["chunk_id"] for p in passages)
    final = next(data for kind, data in events if kind == "citations")
    expected = chat(live_server, messages).json()
    for key in ("answer", "citations", "refused", "model", "sentences", "question", "condensed"):
        assert final[key] == expected[key], key
    # the deltas are the answer as written; the final text is the same words with checked, renumbered markers
    streamed = "".join(data["text"] for kind, data in events if kind == "delta")
    assert MARKER.sub("", streamed) == MARKER.sub("", final["answer"])
    numbers = {int(n) for n in re.findall(r"\[(\d+)\]", final["answer"])}
    assert numbers == {c["n"] for c in final["citations"]} == set(range(1, len(final["citations"]) + 1))
    timings = events[-1][1]["timings_ms"]
    assert set(timings) >= {"condense", "embed", "retrieve", "answer", "total"}


def test_accept_header_asks_for_a_stream_and_stream_false_wins(live_server) -> None:
    sse = {"Accept": "text/event-stream"}
    response, events = stream(live_server, [user(SEED_QUESTION)], headers=sse)
    assert kinds(events) == ["sources", "delta", "citations", "done"]
    response, events = stream(live_server, [user(SEED_QUESTION)], headers=sse, stream=False)
    assert response.headers["content-type"] == "application/json" and events == []


def test_refusal_streams_as_a_refusal(live_server) -> None:
    _, events = stream(live_server, [user(UNANSWERABLE)], stream=True)
    final = next(data for kind, data in events if kind == "citations")
    assert final["refused"] is True and final["citations"] == []
    assert kinds(events) == ["sources", "delta", "citations", "done"]


@pytest.mark.parametrize("body, field", [
    ({"messages": []}, "messages"),
    ({"messages": [user("Hi?"), {"role": "assistant", "content": "Hello."}]}, "messages"),
    ({"messages": [user("   ")]}, "messages"),
    ({"messages": [user("x" * 2001)]}, "messages"),
    ({"messages": [user("?!")]}, "messages"),
    ({"messages": [user("What\x00 is this?")]}, "messages"),
    ({"messages": [{"role": "robot", "content": "Hi?"}]}, "messages.0.role"),
    ({"messages": [{"role": "user"}]}, "messages.0.content"),
    ({"messages": "Hi?"}, "messages"),
    ({"messages": [user("ok?")], "k": 0}, "k"),
    ({"messages": [user("ok?")], "surprise": 1}, "surprise"),
])
def test_bad_requests_are_json_422_even_when_streaming(live_server, body: dict, field: str) -> None:
    response = httpx.post(f"{live_server.url}/chat", json={**body, "stream": True}, timeout=30,
                          headers={"Accept": "text/event-stream"})
    assert response.status_code == 422 and response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["field"] == field and error["message"] and error["code"]


def test_store_down_before_the_stream_is_a_json_503(live_server, monkeypatch) -> None:
    from service.errors import StoreUnavailable

    parts = live_server.server.config.app.state.components

    def broken(*args, **kwargs):
        raise StoreUnavailable("The document store is unavailable; try again shortly.")

    monkeypatch.setattr(parts.store, "query", broken)
    monkeypatch.setattr(parts.store, "query_ids", broken)  # what the retriever's dense query calls
    response, events = stream(live_server, [user(SEED_QUESTION)], stream=True)
    assert response.status_code == 503 and events == []
    assert response.json()["error"]["code"] == "store_unavailable"


def test_unexpected_failure_mid_stream_ends_with_an_internal_error_event(live_server, monkeypatch) -> None:
    # a fake at one seam (the answerer); the HTTP and SSE path is real
    parts = live_server.server.config.app.state.components

    def breaks_half_way(question, passages, judgement):
        yield "A first sentence [1]."
        raise RuntimeError("disk on fire at /secret/path")

    monkeypatch.setattr(parts.answerer, "stream", breaks_half_way)
    response, events = stream(live_server, [user(SEED_QUESTION)], stream=True)
    assert response.status_code == 200
    assert kinds(events) == ["sources", "delta", "error"]
    assert events[-1][1] == {"error": {"code": "internal_error", "message": "Something went wrong on our side."}}
    # the server survives and answers the next request
    monkeypatch.undo()
    assert chat(live_server, [user(SEED_QUESTION)]).status_code == 200


# --- with an LLM: a real OpenAI-compatible server on 127.0.0.1, called through litellm --------------------------


def test_llm_error_mid_stream_ends_with_an_error_event(llm_server) -> None:
    server, llm = llm_server
    llm.mode = "error_mid_stream"
    llm.content = "The contract covers NATO's unclassified networks [1]. Altman had said all classified networks."
    response, events = stream(server, [user(SEED_QUESTION)], stream=True)
    assert response.status_code == 200
    assert kinds(events) == ["sources", "delta", "error"]
    assert "".join(data["text"] for kind, data in events if kind == "delta").startswith("The contract")
    error = events[-1][1]["error"]
    assert error["code"] == "llm_error" and "language model" in error["message"]
    assert "exploded" not in json.dumps(events)


def test_llm_failing_before_any_text_is_an_error_event_after_sources(llm_server) -> None:
    server, llm = llm_server
    llm.mode = "error429"
    response, events = stream(server, [user(SEED_QUESTION)], stream=True)
    assert response.status_code == 200
    assert kinds(events) == ["sources", "error"]
    assert events[-1][1]["error"]["code"] == "llm_rate_limited"


def test_llm_stream_final_text_is_checked_and_equals_json(llm_server) -> None:
    server, llm = llm_server
    llm.content = "The contract covers NATO's unclassified networks [1]. It is worth billions [9]."
    _, events = stream(server, [user(SEED_QUESTION)], stream=True)
    streamed = "".join(data["text"] for kind, data in events if kind == "delta")
    final = next(data for kind, data in events if kind == "citations")
    assert streamed == llm.content  # what the model wrote, as it wrote it
    assert final["answer"] == "The contract covers NATO's unclassified networks [1]. It is worth billions."
    assert final["dropped_citations"] == 1
    assert chat(server, [user(SEED_QUESTION)]).json()["answer"] == final["answer"]


def test_llm_condenses_a_follow_up_with_the_prompt_from_prompts(llm_server) -> None:
    server, llm = llm_server
    standalone = "Who corrected Sam Altman about the NATO contract?"
    llm.replies = [f'"{standalone}"']
    llm.content = "An OpenAI spokeswoman corrected him [1]."
    messages = [user(ALTMAN), {"role": "assistant", "content": "He said all classified networks [1]."},
                user("Who corrected him?")]
    _, events = stream(server, messages, stream=True)
    sources = events[0][1]
    assert (sources["question"], sources["asked"], sources["condensed"]) == (standalone, "Who corrected him?", True)
    final = next(data for kind, data in events if kind == "citations")
    assert final["question"] == standalone and "spokeswoman" in final["citations"][0]["quote"]
    condense, answer = llm.requests
    assert condense.get("stream") is not True
    prompt = condense["messages"][0]["content"]
    assert "rewrite the last question" in prompt
    assert f"user: {ALTMAN}\nassistant: He said all classified networks." in prompt
    assert answer["stream"] is True and f"Question: {standalone}" in answer["messages"][1]["content"]


def test_llm_condense_failure_is_a_json_502_before_any_event(llm_server) -> None:
    server, llm = llm_server
    llm.mode = "error500"
    messages = [user(ALTMAN), {"role": "assistant", "content": "He said..."}, user("Who corrected him?")]
    response, events = stream(server, messages, stream=True)
    assert response.status_code == 502 and events == []
    assert response.json()["error"]["code"] == "llm_error"
