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
ordinary HTTP errors with a JSON body.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from service.answer.conversation import Turn, start_turn
from service.answer.pipeline import AskResult, Event
from service.errors import CiteqaError
from service.web.deps import ComponentsDep
from service.web.schemas import ERROR_RESPONSES, ChatRequest, ChatResponse

log = logging.getLogger(__name__)

router = APIRouter()

EVENT_STREAM = "text/event-stream"
INTERNAL_ERROR = {"error": {"code": "internal_error", "message": "Something went wrong on our side."}}


@router.post(
    "/chat",
    response_model=ChatResponse,
    responses={**ERROR_RESPONSES, 200: {"content": {EVENT_STREAM: {}}, "description": "JSON, or events"}},
)
def chat(body: ChatRequest, request: Request, parts: ComponentsDep) -> ChatResponse | StreamingResponse:
    """Answer the conversation's last user message, citing the sentences that support it."""
    messages = [message.model_dump() for message in body.messages]
    turn = start_turn(parts, messages, body.k, body.documents)
    if not wants_stream(body.stream, request.headers.get("accept", "")):
        return respond(turn, turn.result())
    return StreamingResponse(
        sse(turn), media_type=EVENT_STREAM,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},  # no proxy may buffer the stream
    )


def wants_stream(stream: bool | None, accept: str) -> bool:
    return stream if stream is not None else EVENT_STREAM in accept.lower()


def respond(turn: Turn, result: AskResult) -> ChatResponse:
    return ChatResponse.of_turn(result, turn.standalone.question, turn.standalone.condensed)


def sse(turn: Turn) -> Iterator[str]:
    """The turn's events as SSE text; an exception after the first event becomes a final ``error`` event."""
    try:
        for event in turn.events:
            yield encode(event.kind, payload(turn, event))
    except CiteqaError as exc:
        log.warning("chat stream failed: %s %s", exc.code, exc.message)
        yield encode("error", exc.to_body())
    except Exception:
        log.exception("chat stream failed")
        yield encode("error", INTERNAL_ERROR)


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


def encode(kind: str, data: Any) -> str:
    # json.dumps writes no raw newline, so one data: line always holds the whole payload
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
