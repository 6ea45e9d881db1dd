"""POST /chat: answer the last user message of a conversation, as one JSON body or as Server-Sent Events.

The client holds the history and sends it whole (``messages``). A follow-up is rewritten into a standalone
question first (:mod:`service.answer.condense`); the answer then comes from the one pipeline
(:mod:`service.answer.conversation`), whichever way it is delivered.

Streaming (``"stream": true``, or ``Accept: text/event-stream`` when ``stream`` is unset) sends, in order::

    event: sources    {"question", "asked", "condensed", "passages": [{n, doc_id, title, source, chunk_id,
                       start, end, text, score}]}
    event: delta      {"text": "..."}                       (one or more: the answer as it is written)
    event: citations  the same body as the JSON reply: the checked ``answer`` (markers renumbered, bogus ones
                      removed: a client replaces the streamed text with it), ``citations``, ``refused``, ...
    event: done       {"timings_ms": {...}}

If something fails once the stream has started, the last event is ``error`` with the usual error body
(``{"error": {"code", "message"}}``). Failures before it starts (bad input, the store, the condensing LLM) are
ordinary HTTP errors with a JSON body. The framing and the failure handling are :mod:`service.web.sse`'s.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from service.answer.conversation import Turn, start_turn
from service.answer.pipeline import AskResult, Event
from service.web import sse
from service.web.deps import ComponentsDep
from service.web.schemas import ERROR_RESPONSES, ChatRequest, ChatResponse

log = logging.getLogger(__name__)

router = APIRouter()


@router.post(
    "/chat",
    response_model=ChatResponse,
    responses={**ERROR_RESPONSES, 200: {"content": {sse.EVENT_STREAM: {}}, "description": "JSON, or events"}},
)
def chat(body: ChatRequest, request: Request, parts: ComponentsDep) -> ChatResponse | StreamingResponse:
    """Answer the conversation's last user message, citing the sentences that support it."""
    messages = [message.model_dump() for message in body.messages]
    turn = start_turn(parts, messages, body.k, body.documents)
    if not wants_stream(body.stream, request.headers.get("accept", "")):
        return respond(turn, turn.result())
    return sse.respond(events(turn), log=log, what="chat", error_event="error")


def wants_stream(stream: bool | None, accept: str) -> bool:
    return stream if stream is not None else sse.EVENT_STREAM in accept.lower()


def respond(turn: Turn, result: AskResult) -> ChatResponse:
    return ChatResponse.of_turn(result, turn.standalone.question, turn.standalone.condensed)


def events(turn: Turn) -> Iterator[sse.Event]:
    """The turn's events as the named SSE events of the module docstring."""
    for event in turn.events:
        yield sse.Event(payload(turn, event), event.kind)


def payload(turn: Turn, event: Event) -> Any:
    if event.kind == "sources":
        standalone = turn.standalone
        return {"question": standalone.question, "asked": standalone.asked, "condensed": standalone.condensed,
                "passages": event.data}
    if event.kind == "delta":
        return {"text": event.data}
    if event.kind == "citations":
        return respond(turn, event.data).model_dump()
    if event.kind == "done":
        return {"timings_ms": event.data}
    return event.data
