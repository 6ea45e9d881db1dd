"""The OpenAI-compatible API through the official ``openai`` SDK, against the real app under uvicorn (the real
model, a real embedded Chroma with the seed article): completions streamed and not, follow-ups, refusals, the
model list, errors the SDK surfaces with our message, API keys, and failures half-way through a stream."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI

from service.answer.prompts import REFUSAL
from service.web.app import create_app
from tests.conftest import SEED_QUESTION, UNANSWERABLE, make_parts, make_settings
from tests.servers import LiveServer

ALTMAN = "What did Sam Altman say the NATO contract would cover?"
KEY = "k-openai-client-0123456789"
SOURCE_LINE = re.compile(r'^\[(\d+)\] (.+) — "(.+)" \((.+), chars (\d+)–(\d+)\)$')


def client(server: LiveServer, api_key: str = "unused") -> OpenAI:
    return OpenAI(base_url=f"{server.url}/v1", api_key=api_key, max_retries=0, timeout=60)


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def split_sources(content: str) -> tuple[str, list[str]]:
    answer, _, block = content.partition("\n\nSources:\n")
    return answer, block.splitlines() if block else []


def check_citations_resolve(server: LiveServer, answer: str, citations: list[dict[str, Any]],
                            source_lines: list[str]) -> None:
    """Every [n] of the text is citations[n-1], whose quote is the document's text[start:end], and the sources
    block says the same."""
    numbers = {int(n) for n in re.findall(r"\[(\d+)\]", answer)}
    assert numbers == {c["n"] for c in citations} == set(range(1, len(citations) + 1))
    assert len(source_lines) == len(citations)
    for citation, line in zip(citations, source_lines, strict=True):
        doc = httpx.get(f"{server.url}/documents/{citation['doc_id']}", timeout=30).json()
        assert doc["text"][citation["start"] : citation["end"]] == citation["quote"]
        n, title, quote, source, start, end = SOURCE_LINE.match(line).groups()  # type: ignore[union-attr]
        assert (int(n), title, source, int(start), int(end)) == (
            citation["n"], citation["title"], citation["source"], citation["start"], citation["end"])
        assert quote == " ".join(citation["quote"].split())


def streamed(completion_stream: Iterator[Any]) -> tuple[list[Any], str]:
    chunks = list(completion_stream)
    return chunks, "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


# --- non-streaming ---------------------------------------------------------------------------------------------


def test_completion_answers_with_markers_citations_and_a_sources_block(live_server) -> None:
    completion = client(live_server).chat.completions.create(
        model="gpt-4o-mini", messages=[user(SEED_QUESTION)],
        temperature=0.2, max_tokens=5, user="someone", extra_body={"k": 5},  # ignored, and citeqa's own k
        extra_headers={"X-Request-ID": "req-42"},
    )
    assert completion.object == "chat.completion" and completion.id == "chatcmpl-req-42"  # the request id
    assert completion.model == "extractive"  # any model name is accepted; the answerer is reported
    (choice,) = completion.choices
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    answer, source_lines = split_sources(choice.message.content or "")
    assert "unclassified" in answer and "[1]" in answer
    citations = completion.model_extra["citations"]  # type: ignore[index]
    assert any("unclassified" in c["quote"] for c in citations)
    check_citations_resolve(live_server, answer, citations, source_lines)
    extra = completion.model_extra["citeqa"]  # type: ignore[index]
    assert extra["answer"] == answer and extra["refused"] is False and extra["question"] == SEED_QUESTION
    # the same turn as POST /chat
    chat = httpx.post(f"{live_server.url}/chat", json={"messages": [user(SEED_QUESTION)]}, timeout=60).json()
    assert (chat["answer"], chat["citations"]) == (answer, citations)


def test_follow_up_is_condensed_as_chat_does(live_server) -> None:
    sdk = client(live_server)
    first = sdk.chat.completions.create(model="citeqa", messages=[user(ALTMAN)])
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},  # ignored
        user(ALTMAN),
        {"role": "assistant", "content": first.choices[0].message.content},  # sources block and all
        {"role": "user", "content": [{"type": "text", "text": "Who corrected him?"}]},
    ]
    completion = sdk.chat.completions.create(model="citeqa", messages=messages)  # type: ignore[arg-type]
    extra = completion.model_extra["citeqa"]  # type: ignore[index]
    assert extra["condensed"] is True and extra["question"] == f"Who corrected him? ({ALTMAN})"
    answer, source_lines = split_sources(completion.choices[0].message.content or "")
    citations = completion.model_extra["citations"]  # type: ignore[index]
    assert "spokeswoman corrected" in answer
    check_citations_resolve(live_server, answer, citations, source_lines)
    # the same answer as POST /chat gives for the conversation
    chat = httpx.post(f"{live_server.url}/chat", timeout=60, json={"messages": [
        user(ALTMAN), {"role": "assistant", "content": extra["answer"]}, user("Who corrected him?")]}).json()
    assert (chat["question"], chat["answer"], chat["citations"]) == (extra["question"], answer, citations)


def test_refusal_is_plain_text_without_sources(live_server) -> None:
    sdk = client(live_server)
    completion = sdk.chat.completions.create(model="citeqa", messages=[user(UNANSWERABLE)])
    assert completion.choices[0].message.content == REFUSAL
    assert completion.model_extra["citations"] == [] and completion.model_extra["citeqa"]["refused"] is True  # type: ignore[index]
    chunks, text = streamed(sdk.chat.completions.create(model="citeqa", messages=[user(UNANSWERABLE)], stream=True))
    assert text == REFUSAL and chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].model_extra["citations"] == []  # type: ignore[index]


def test_models_list_names_the_answerer(live_server) -> None:
    sdk = client(live_server)
    models = sdk.models.list()
    assert [m.id for m in models.data] == ["extractive"] and models.data[0].owned_by == "citeqa"
    assert sdk.models.retrieve("extractive").id == "extractive"
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.models.retrieve("gpt-4o")
    assert caught.value.code == "model_not_found" and "GET /v1/models" in str(caught.value)


# --- streaming -------------------------------------------------------------------------------------------------


def test_stream_sends_the_checked_text_sources_and_citations(live_server) -> None:
    sdk = client(live_server)
    whole = sdk.chat.completions.create(model="citeqa", messages=[user(SEED_QUESTION)])
    chunks, text = streamed(sdk.chat.completions.create(model="citeqa", messages=[user(SEED_QUESTION)],
                                                        stream=True))
    assert all(c.object == "chat.completion.chunk" and c.id == chunks[0].id for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert text == whole.choices[0].message.content  # what a client shows equals the non-streamed answer
    answer, source_lines = split_sources(text)
    assert "unclassified" in answer
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop" and not last.choices[0].delta.content
    assert [c.choices[0].finish_reason for c in chunks[:-1]] == [None] * (len(chunks) - 1)
    citations = last.model_extra["citations"]  # type: ignore[index]
    assert citations == whole.model_extra["citations"]  # type: ignore[index]
    check_citations_resolve(live_server, answer, citations, source_lines)
    assert last.model_extra["citeqa"]["answer"] == answer  # type: ignore[index]


def test_stream_is_openai_server_sent_events_ending_with_done(live_server) -> None:
    body = {"model": "x", "messages": [user(SEED_QUESTION)], "stream": True}
    with httpx.stream("POST", f"{live_server.url}/v1/chat/completions", json=body, timeout=60) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines) and lines[-1] == "data: [DONE]"
    payloads = [json.loads(line[6:]) for line in lines[:-1]]
    assert {p["object"] for p in payloads} == {"chat.completion.chunk"}


# --- errors ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, code, field, words", [
    ({"messages": [user("   ")]}, "question_empty", "messages", "The question is empty."),
    ({"messages": [user("Hi?"), {"role": "assistant", "content": "Hello."}]}, "last_message_not_user",
     "messages", "must be the user's"),
    ({"messages": [user(SEED_QUESTION)], "n": 2}, "unsupported_parameter", "n", "n must be 1"),
    ({"messages": [user(SEED_QUESTION)], "response_format": {"type": "json_object"}}, "unsupported_parameter",
     "response_format", "response_format"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:,"}}]}]},
     "unsupported_content", "messages.0.content", "Only text content parts"),
    ({"messages": []}, "invalid_request", "messages", "messages"),
])
@pytest.mark.parametrize("stream", [False, True])
def test_bad_requests_raise_sdk_errors_with_our_message(live_server, kwargs: dict, code: str, field: str,
                                                        words: str, stream: bool) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        client(live_server).chat.completions.create(model="citeqa", stream=stream, **kwargs)
    error = caught.value
    assert error.status_code == 422 and error.code == code
    assert error.body["field"] == field and set(error.body) <= {"code", "message", "field"}  # type: ignore[index]
    assert words in error.body["message"] and error.body["message"] in str(error)  # type: ignore[index]


def test_api_key_is_the_sdk_api_key(seeded_settings, embedder) -> None:
    settings = make_settings(seeded_settings.data_dir, api_keys=KEY, protect_reads=True)
    with LiveServer(create_app(settings, make_parts(settings, embedder))) as server:
        completion = client(server, api_key=KEY).chat.completions.create(
            model="citeqa", messages=[user(SEED_QUESTION)])
        assert "unclassified" in (completion.choices[0].message.content or "")
        assert [m.id for m in client(server, api_key=KEY).models.list().data] == ["extractive"]
        with pytest.raises(openai.PermissionDeniedError) as caught:
            client(server, api_key="not-a-key").chat.completions.create(model="c", messages=[user(SEED_QUESTION)])
        assert caught.value.code == "api_key_invalid" and "not valid" in str(caught.value)
        with pytest.raises(openai.PermissionDeniedError):
            list(client(server, api_key="not-a-key").models.list())


def test_failure_mid_stream_ends_with_an_error_the_sdk_raises(live_server, monkeypatch) -> None:
    # a fake at one seam (the answerer); the HTTP, SSE and SDK path is real
    parts = live_server.server.config.app.state.components

    def breaks_half_way(question, passages, judgement):
        yield "The first sentence [1]. The second"
        raise RuntimeError("disk on fire at /secret/path")

    monkeypatch.setattr(parts.answerer, "stream", breaks_half_way)
    received: list[Any] = []
    stream = client(live_server).chat.completions.create(model="c", messages=[user(SEED_QUESTION)], stream=True)
    with pytest.raises(openai.APIError) as caught:
        for chunk in stream:
            received.append(chunk)
    assert caught.value.message == "Something went wrong on our side." and caught.value.code == "internal_error"
    assert "".join(c.choices[0].delta.content or "" for c in received) == "The first sentence [1]."
    # the raw stream: the error chunk, then [DONE]
    body = {"messages": [user(SEED_QUESTION)], "stream": True}
    with httpx.stream("POST", f"{live_server.url}/v1/chat/completions", json=body, timeout=60) as response:
        lines = [line for line in response.iter_lines() if line]
    assert lines[-2:] == ['data: {"error": {"code": "internal_error", "message": "Something went wrong on our '
                          'side."}}', "data: [DONE]"]
    assert "secret" not in "".join(lines)


# --- with an LLM: a real OpenAI-compatible server on 127.0.0.1, called through litellm --------------------------


def test_llm_stream_is_released_checked_sentence_by_sentence(llm_server) -> None:
    server, llm = llm_server
    llm.content = "The contract covers NATO's unclassified networks [2]. It is worth billions [9]. Talks go on [2]."
    sdk = client(server)
    chunks, text = streamed(sdk.chat.completions.create(model="x", messages=[user(SEED_QUESTION)], stream=True))
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    # the model streamed word by word; the client got whole checked sentences: [2] renumbered, [9] removed; each
    # marker resolves to the sentence of passage 2 the judge rates best for its own sentence ("Talks go on" names
    # nothing, so which sentence is the judge's call: the same as the first one's, [1], or another, [2])
    assert pieces[:2] == ["The contract covers NATO's unclassified networks [1].", " It is worth billions."]
    assert pieces[2] in (" Talks go on [1].", " Talks go on [2].")
    assert pieces[3].startswith("\n\nSources:\n[1] ")
    assert chunks[-1].model == "openai/test-model" and chunks[-1].model_extra["citeqa"]["dropped_citations"] == 1  # type: ignore[index]
    whole = sdk.chat.completions.create(model="x", messages=[user(SEED_QUESTION)])
    assert text == whole.choices[0].message.content and whole.model == "openai/test-model"
    assert [m.id for m in sdk.models.list().data] == ["openai/test-model"]


def test_llm_failure_mid_stream_keeps_the_sentences_sent_and_raises_our_message(llm_server) -> None:
    server, llm = llm_server
    llm.mode = "error_mid_stream"  # the model sends half its words, then an error
    llm.content = ("The contract covers NATO's unclassified networks [1]. Altman had said all classified networks "
                   "were covered by the deal at first.")
    received: list[Any] = []
    stream = client(server).chat.completions.create(model="x", messages=[user(SEED_QUESTION)], stream=True)
    with pytest.raises(openai.APIError) as caught:
        for chunk in stream:
            received.append(chunk)
    assert caught.value.code == "llm_error" and "language model" in caught.value.message
    assert "exploded" not in caught.value.message
    assert "".join(c.choices[0].delta.content or "" for c in received) == (
        "The contract covers NATO's unclassified networks [1].")


def test_llm_condenses_without_the_sources_block_of_earlier_answers(llm_server) -> None:
    server, llm = llm_server
    standalone = "Who corrected Sam Altman about the NATO contract?"
    llm.content = "An OpenAI spokeswoman corrected him [1]."
    sdk = client(server)
    first = sdk.chat.completions.create(model="x", messages=[user(ALTMAN)]).choices[0].message.content or ""
    assert "\n\nSources:\n[1] " in first
    llm.replies = [standalone]
    messages = [user(ALTMAN), {"role": "assistant", "content": first}, user("Who corrected him?")]
    completion = sdk.chat.completions.create(model="x", messages=messages)  # type: ignore[arg-type]
    assert completion.model_extra["citeqa"]["question"] == standalone  # type: ignore[index]
    prompt = llm.requests[-2]["messages"][0]["content"]
    assert "assistant: An OpenAI spokeswoman corrected him." in prompt and "Sources:" not in prompt


def test_llm_failure_before_the_stream_is_an_sdk_status_error(llm_server) -> None:
    server, llm = llm_server
    llm.mode = "error500"
    messages = [user(ALTMAN), {"role": "assistant", "content": "He said..."}, user("Who corrected him?")]
    with pytest.raises(openai.InternalServerError) as caught:  # the condensing call fails: 502
        client(server).chat.completions.create(model="x", messages=messages, stream=True)  # type: ignore[arg-type]
    assert caught.value.status_code == 502 and caught.value.code == "llm_error"
