"""The streaming seam (service/web/sse.py) and what the two streaming routes hand it, byte for byte: no model,
no server. tests/test_chat.py and tests/test_openai_compat.py drive the same streams over real HTTP."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from service.answer.citations import CheckedAnswer
from service.answer.condense import Standalone
from service.answer.conversation import Turn
from service.answer.pipeline import Event as PipelineEvent
from service.errors import LLMError
from service.web import sse
from service.web.routes import chat, openai_compat

log = logging.getLogger("tests.sse")


def written(events: Iterator[sse.Event], **options: str) -> str:
    return "".join(sse.write(events, log=log, what="test", **options))


def failing(*events: sse.Event, error: Exception) -> Iterator[sse.Event]:
    yield from events
    raise error


def test_an_event_is_one_data_line_of_json_named_or_not() -> None:
    assert sse.encode(sse.Event({"text": "Zoë — “quoted”\nnext"}, "delta")) == (
        'event: delta\ndata: {"text": "Zoë — “quoted”\\nnext"}\n\n')  # not ASCII-escaped; no raw newline
    assert sse.encode(sse.Event([1, None])) == "data: [1, null]\n\n"


def test_a_stream_is_its_events_then_done() -> None:
    events = iter([sse.Event({"a": 1}, "one"), sse.Event({"b": 2})])
    assert written(events) == 'event: one\ndata: {"a": 1}\n\ndata: {"b": 2}\n\n'
    assert written(iter([sse.Event({})]), done="[DONE]") == "data: {}\n\ndata: [DONE]\n\n"


def test_a_failure_once_started_is_a_last_error_event_with_the_usual_body(caplog: pytest.LogCaptureFixture) -> None:
    error = LLMError("The language model failed.", code="llm_rate_limited")
    with caplog.at_level(logging.WARNING, logger="tests.sse"):
        text = written(failing(sse.Event({"n": 1}, "sources"), error=error), error_event="error")
    assert text == ('event: sources\ndata: {"n": 1}\n\n'
                    'event: error\ndata: {"error": {"code": "llm_rate_limited", "message": "The language model '
                    'failed."}}\n\n')
    assert "test stream failed: llm_rate_limited" in caplog.text


def test_an_unforeseen_failure_is_logged_and_sent_without_its_details(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="tests.sse"):
        text = written(failing(error=RuntimeError("disk on fire at /secret/path")), done="[DONE]")
    assert text == ('data: {"error": {"code": "internal_error", "message": "Something went wrong on our side."}}\n\n'
                    "data: [DONE]\n\n")  # [DONE] ends a failed stream too
    assert "test stream failed" in caplog.text and "disk on fire" in caplog.text  # in the log, not the stream


def test_the_response_is_an_unbuffered_event_stream() -> None:
    response = sse.respond(iter([]), log=log, what="test")
    assert response.media_type == "text/event-stream"
    assert response.headers["cache-control"] == "no-cache" and response.headers["x-accel-buffering"] == "no"
    assert response.headers["content-type"].startswith("text/event-stream")


def turn(*events: PipelineEvent, error: Exception | None = None) -> Turn:
    def run() -> Iterator[PipelineEvent]:
        yield from events
        if error is not None:
            raise error

    return Turn(Standalone("Who? (Earlier.)", "Who?", True), run())


SOURCES = PipelineEvent("sources", [{"n": 1, "doc_id": "d", "title": "T", "source": "s.txt", "chunk_id": "c",
                                     "start": 0, "end": 12, "text": "One sentence.", "score": 0.5}],
                        lambda raw: CheckedAnswer(raw, [], [], 0))


def test_chat_events_are_named_and_end_with_error_on_failure() -> None:
    events = chat.events(turn(SOURCES, PipelineEvent("delta", "One [1]"), error=RuntimeError("boom")))
    assert written(events, error_event="error") == (
        'event: sources\ndata: {"question": "Who? (Earlier.)", "asked": "Who?", "condensed": true, "passages": '
        '[{"n": 1, "doc_id": "d", "title": "T", "source": "s.txt", "chunk_id": "c", "start": 0, "end": 12, '
        '"text": "One sentence.", "score": 0.5}]}\n\n'
        'event: delta\ndata: {"text": "One [1]"}\n\n'
        'event: error\ndata: {"error": {"code": "internal_error", "message": "Something went wrong on our side."}}\n\n'
    )


def test_completion_chunks_are_unnamed_and_end_with_done_on_failure() -> None:
    chunks = openai_compat.Chunks("chatcmpl-1", "extractive")
    events = openai_compat.stream(turn(SOURCES, error=LLMError("The language model failed.")), chunks, hold=False)
    lines = written(events, done="[DONE]").split("\n\n")
    assert lines[0] == (
        f'data: {{"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": {chunks.created}, "model": '
        '"extractive", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": '
        'null, "logprobs": null}]}')
    assert lines[1:] == ['data: {"error": {"code": "llm_error", "message": "The language model failed."}}',
                         "data: [DONE]", ""]
