"""One conversation turn: condense the last user message, then run the one answer pipeline.

:func:`start_turn` is shared by every chat-shaped endpoint (``POST /chat`` and ``POST /v1/chat/completions``): it
checks the user's message, rewrites a follow-up into a standalone question (:mod:`service.answer.condense`), and
runs :meth:`AskPipeline.events <service.answer.pipeline.AskPipeline.events>` up to its first event (``sources``).
Everything that can fail before an answer starts (bad input, the condensing LLM, the store) therefore raises
there, before a response is sent, and becomes a normal HTTP error. :meth:`Turn.result` consumes the rest for a
JSON reply; a streaming reply iterates :attr:`Turn.events` instead. Both are the same events.

Where a turn is checked, on its way in:

- the request's shape (roles, how many messages and how long each, text-only content, the options citeqa cannot
  honour): the endpoint's schema (``service.web.schemas`` / ``schemas_openai``), before this module runs;
- the user's message (not empty, has words, not too long, no control characters) and ``k``: /ask's rules,
  :meth:`AskPipeline.validate <service.answer.pipeline.AskPipeline.validate>`, called here before any model is,
  the blame moved from ``question`` (a field a chat request does not have) to ``messages``;
- the last message being the user's: :func:`~service.answer.condense.standalone_question`.

``AskPipeline.events`` validates the question it is given again: for the message as asked that cannot fail once
the check here has passed; it checks a condensed question.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from service.answer.condense import Condenser, Message, Standalone, standalone_question
from service.answer.pipeline import AskPipeline, AskResult, Event
from service.errors import InvalidInput
from service.settings import Settings


class TurnParts(Protocol):
    """What a turn needs of the built parts (:class:`service.components.Components` has them; the answer
    package does not import the wiring that imports it)."""

    settings: Settings
    pipeline: AskPipeline
    condenser: Condenser


@dataclass
class Turn:
    standalone: Standalone
    events: Iterator[Event]  # sources, delta..., citations (an AskResult), done (timings)

    def result(self) -> AskResult:
        found = None
        for event in self.events:
            if event.kind == "citations":
                found = event.data
        assert found is not None, "the pipeline ended without a citations event"
        return found


def start_turn(parts: TurnParts, messages: Sequence[Message], k: int | None = None,
               documents: Sequence[str] | None = None) -> Turn:
    """Condense, validate and retrieve; raises :class:`~service.errors.CiteqaError` before any answer text."""
    try:
        if messages and messages[-1]["role"] == "user":
            parts.pipeline.validate(messages[-1]["content"], k)  # /ask's rules, before any model is called
        started = time.perf_counter()
        standalone = standalone_question(messages, parts.condenser, parts.settings.max_question_chars)
        condense_ms = round((time.perf_counter() - started) * 1000, 2)
        events = parts.pipeline.events(standalone.question, k, documents)
        first = next(events)
    except InvalidInput as exc:
        if exc.field == "question":  # a chat request has no "question" field: the user's message is to blame
            exc.field = "messages"
        raise
    return Turn(standalone, _with_condense_timing(itertools.chain([first], events), condense_ms))


def _with_condense_timing(events: Iterator[Event], condense_ms: float) -> Iterator[Event]:
    """Add the condensing time to the pipeline's timings (``condense``, and to ``total``)."""
    timings: dict[str, float] | None = None
    for event in events:
        if event.kind == "citations":
            result: AskResult = event.data
            timings = {**result.timings_ms, "condense": condense_ms}
            timings["total"] = round(timings.get("total", 0.0) + condense_ms, 2)
            result.timings_ms = timings
        elif event.kind == "done":
            event = Event("done", timings if timings is not None else event.data)
        yield event
