"""The OpenAI-compatible API: ``POST /v1/chat/completions`` and ``GET /v1/models``, so OpenAI clients and chat
front-ends can talk to citeqa (``base_url=http://host:8000/v1``).

A request is a ``POST /chat`` turn (:func:`service.answer.conversation.start_turn`: the last user message, condensed
when it is a follow-up, then the one pipeline) delivered in OpenAI's shapes:

- the message text is the checked answer with its ``[n]`` markers, then a ``Sources:`` block
  (``[n] title — "quote" (source, chars start–end)``), none on a refusal; the checked citations are also in
  ``citations`` (top level of the completion, and of the last streamed chunk), the rest in ``citeqa``;
- ``stream: true`` sends ``data: {chat.completion.chunk}`` lines: the role, then the answer **checked, a
  sentence at a time** (:class:`service.answer.checked_stream.CheckedStream`: an OpenAI client cannot replace text, so
  it is only sent once final), the sources block, a last chunk with ``finish_reason: "stop"`` and the
  citations, then ``data: [DONE]``. A failure once the stream has begun sends ``data: {"error": {code,
  message}}`` then ``data: [DONE]`` (the OpenAI SDK raises it as an ``APIError`` with our message); the framing
  and the failure handling are :mod:`service.web.sse`'s;
- ``model``: any name is accepted (clients insist on sending one); the response's ``model`` names the answerer
  that wrote the answer, the one ``GET /v1/models`` lists;
- errors before any answer are the usual ``{"error": {"code", "message", "field"?}}`` with their status; the
  SDK shows ``message``.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from service.answer.checked_stream import CheckedStream
from service.answer.conversation import Turn, start_turn
from service.answer.pipeline import AskResult
from service.errors import NotFound
from service.web import sse
from service.web.deps import ComponentsDep
from service.web.observability import current_request_id
from service.web.schemas import ERROR_RESPONSES, CitationOut
from service.web.schemas_openai import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionRequest,
    Choice,
    CiteqaInfo,
    ModelCard,
    ModelList,
    sources_block,
)

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["OpenAI-compatible"])

STARTED = int(time.time())  # the `created` of the one model listed


@router.get("/models", response_model=ModelList, responses=ERROR_RESPONSES)
def list_models(parts: ComponentsDep) -> ModelList:
    """The one model citeqa answers with: ``extractive`` or the configured LLM (``CITEQA_LLM_MODEL``)."""
    return ModelList(data=[ModelCard(id=parts.pipeline.model, created=STARTED)])


@router.get("/models/{model_id:path}", response_model=ModelCard, responses=ERROR_RESPONSES)
def get_model(model_id: str, parts: ComponentsDep) -> ModelCard:
    if model_id != parts.pipeline.model:
        raise NotFound("No such model: GET /v1/models lists the one model citeqa answers with.",
                       code="model_not_found")
    return ModelCard(id=model_id, created=STARTED)


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={**ERROR_RESPONSES, 200: {"content": {sse.EVENT_STREAM: {}}, "description": "JSON, or chunks"}},
)
def chat_completions(body: ChatCompletionRequest, parts: ComponentsDep) -> ChatCompletion | StreamingResponse:
    """Answer the conversation's last user message, OpenAI style, citing the sentences that support it."""
    body.check_supported()
    turn = start_turn(parts, body.conversation(), body.k, body.documents)
    completion_id = f"chatcmpl-{_request_id()}"
    if not body.stream:
        return completion(turn, turn.result(), completion_id)
    chunks = Chunks(completion_id, parts.pipeline.model)
    return sse.respond(stream(turn, chunks, hold=parts.pipeline.fallback is not None), log=log, what="completion",
                       done="[DONE]")


def completion(turn: Turn, result: AskResult, completion_id: str) -> ChatCompletion:
    content = result.answer + sources_block(result)
    return ChatCompletion(
        id=completion_id, created=int(time.time()), model=result.model,
        choices=[Choice(message=AssistantMessage(content=content))],
        citations=[CitationOut.of(c) for c in result.citations], citeqa=info(turn, result),
    )


def info(turn: Turn, result: AskResult) -> CiteqaInfo:
    return CiteqaInfo.of(result, turn.standalone.question, turn.standalone.condensed)


class Chunks:
    """The ``chat.completion.chunk`` objects of one streamed completion, as (unnamed) SSE events."""

    def __init__(self, completion_id: str, model: str) -> None:
        self.id = completion_id
        self.model = model
        self.created = int(time.time())

    def delta(self, delta: dict[str, str], finish_reason: str | None = None, **extra: Any) -> sse.Event:
        chunk = {
            "id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}], **extra,
        }
        return sse.Event(chunk)

    def text(self, text: str) -> sse.Event:
        return self.delta({"content": text})


def stream(turn: Turn, chunks: Chunks, hold: bool) -> Iterator[sse.Event]:
    """The turn's events as OpenAI chunks (see the module docstring)."""
    yield chunks.delta({"role": "assistant", "content": ""})
    released: CheckedStream | None = None
    for event in turn.events:
        if event.kind == "sources":
            assert event.check is not None, "the pipeline's sources event carries its citation checker"
            released = CheckedStream(event.check, hold=hold)
        elif event.kind == "delta" and released is not None:
            if text := released.feed(event.data):
                yield chunks.text(text)
        elif event.kind == "citations" and released is not None:
            result: AskResult = event.data
            chunks.model = result.model  # the fallback's name, should the LLM have failed
            for text in (released.finish(result.answer), sources_block(result)):
                if text:
                    yield chunks.text(text)
            citations = [CitationOut.of(c).model_dump() for c in result.citations]
            yield chunks.delta({}, "stop", citations=citations, citeqa=info(turn, result).model_dump())


def _request_id() -> str:
    request_id = current_request_id()
    return request_id if request_id != "-" else uuid.uuid4().hex
