"""Server-Sent Events: the one way citeqa streams an answer (``POST /chat``, ``POST /v1/chat/completions``).

A route builds the events of one answer as :class:`Event` (a JSON payload, named or not) and hands them to
:func:`respond`. This module writes each one (``event: <name>`` when named, the payload as one ``data:`` line of
JSON, a blank line), sends them with the headers that keep proxies from buffering the stream, and decides what a
failure *after the stream has started* looks like: the status line has gone, so the failure becomes one last event
carrying the usual error body (``{"error": {"code", "message"}}``, named ``error_event``); an unforeseen failure
is logged and sent as ``internal_error``, its details kept back. ``done`` ends every stream, failed or not, as a
bare ``data:`` line (OpenAI's ``[DONE]``). Failures before the stream starts are ordinary HTTP errors, raised by
the route before it calls :func:`respond`.

FastAPI's own SSE support (``fastapi.sse``, ``response_class=EventSourceResponse``) is not used: it streams what a
*generator* path operation yields, so a route could neither fail with an ordinary HTTP error before the first
event nor answer with one JSON body when no stream is asked for; and its bytes differ from ours (JSON with
``ensure_ascii``, or pydantic's compact JSON, and ``: ping`` comments when the answer is slow), which clients and
tests read.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from fastapi.responses import StreamingResponse

from service.errors import CiteqaError

EVENT_STREAM = "text/event-stream"
INTERNAL_ERROR = {"error": {"code": "internal_error", "message": "Something went wrong on our side."}}
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # no proxy may buffer the stream


class Event(NamedTuple):
    data: Any  # JSON-serialisable
    name: str | None = None  # the ``event:`` line; None: none (a client's generic "message")


def encode(event: Event) -> str:
    # json.dumps writes no raw newline, so one data: line always holds the whole payload
    head = f"event: {event.name}\n" if event.name is not None else ""
    return f"{head}data: {json.dumps(event.data, ensure_ascii=False)}\n\n"


def respond(events: Iterable[Event], *, log: logging.Logger, what: str, error_event: str | None = None,
            done: str | None = None) -> StreamingResponse:
    """Stream ``events`` (see the module docstring); ``log`` and ``what`` name the stream in the failure log."""
    return StreamingResponse(write(events, log=log, what=what, error_event=error_event, done=done),
                             media_type=EVENT_STREAM, headers=HEADERS)


def write(events: Iterable[Event], *, log: logging.Logger, what: str, error_event: str | None = None,
          done: str | None = None) -> Iterator[str]:
    """The text of the stream :func:`respond` sends."""
    try:
        for event in events:
            yield encode(event)
    except CiteqaError as exc:
        log.warning("%s stream failed: %s %s", what, exc.code, exc.message)
        yield encode(Event(exc.to_body(), error_event))
    except Exception:
        log.exception("%s stream failed", what)
        yield encode(Event(INTERNAL_ERROR, error_event))
    if done is not None:
        yield f"data: {done}\n\n"
