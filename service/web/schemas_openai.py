"""Request and response models of the OpenAI-compatible API (``/v1/chat/completions``, ``/v1/models``).

Only what citeqa uses is declared; the many other options OpenAI clients send (``temperature``, ``max_tokens``,
``stream_options``, ``tools``, ``user``...) are accepted and ignored, except those whose answer citeqa could not
honour (:meth:`ChatCompletionRequest.check_supported`). citeqa's own ``k`` and ``documents`` may be sent too
(``extra_body`` in the OpenAI SDK).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from service.answer.condense import Message
from service.answer.pipeline import AskResult
from service.errors import InvalidInput
from service.web.schemas import MAX_CHAT_MESSAGES, MAX_MESSAGE_CHARS, AskResponse, CitationOut, ClosestOut, SentenceOut

SOURCES_HEADER = "\n\nSources:\n"  # starts the block appended to an answer's text


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str = Field(description="Only 'text' parts are read; any other part type is rejected.")
    text: str | None = None


class OpenAIMessage(BaseModel):
    model_config = ConfigDict(extra="allow")  # name, tool_calls, refusal...: ignored

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = Field(
        default=None, description="A string, or a list of {type: 'text', text} parts (joined by newlines)."
    )


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, max_tokens, stream_options, user...: ignored

    model: str | None = Field(
        default=None, max_length=256,
        description="Any name is accepted; the answer names the model that wrote it (GET /v1/models lists it).",
    )
    messages: list[OpenAIMessage] = Field(
        min_length=1, max_length=MAX_CHAT_MESSAGES,
        description="The conversation, oldest first; the last message is the user's question. System and "
        "developer messages are ignored (citeqa keeps its own instructions); so are tool messages.",
    )
    stream: bool | None = Field(default=False, description="true: OpenAI chat.completion.chunk events.")
    n: int | None = Field(default=None, description="Only 1: citeqa gives one answer.")
    response_format: dict[str, Any] | None = Field(default=None, description="Only {'type': 'text'}.")
    tool_choice: str | dict[str, Any] | None = Field(
        default=None, description="citeqa calls no tools: only 'none' or 'auto' (tools are never called)."
    )
    k: int | None = Field(default=None, description="citeqa: how many passages to retrieve.")
    documents: list[str] | None = Field(
        default=None, max_length=1000, description="citeqa: only search these document ids."
    )

    def check_supported(self) -> None:
        """Refuse the options whose answer citeqa cannot give (422), rather than answer something else."""
        if self.n is not None and self.n != 1:
            raise InvalidInput("n must be 1: citeqa gives one answer per request.", field="n",
                               code="unsupported_parameter")
        if self.response_format is not None and self.response_format.get("type") != "text":
            raise InvalidInput("Only response_format {'type': 'text'} is supported: answers are cited prose.",
                               field="response_format", code="unsupported_parameter")
        if self.tool_choice is not None and self.tool_choice not in ("none", "auto"):
            raise InvalidInput("citeqa calls no tools: tool_choice may only be 'none' or 'auto'.",
                               field="tool_choice", code="unsupported_parameter")

    def conversation(self) -> list[Message]:
        """The messages as ``{role, content}`` for :func:`service.answer.conversation.start_turn`: text parts joined,
        tool messages left out, system/developer kept as 'system' (never used), and the sources block citeqa
        appended to its own earlier answers removed."""
        turns: list[Message] = []
        for index, message in enumerate(self.messages):
            if message.role in ("tool", "function"):
                continue
            text = message_text(message, index)
            if message.role == "assistant":
                text = text.split(SOURCES_HEADER, 1)[0]
            role = "system" if message.role in ("system", "developer") else message.role
            turns.append({"role": role, "content": text})
        return turns


def message_text(message: OpenAIMessage, index: int) -> str:
    if message.content is None:
        text = ""
    elif isinstance(message.content, str):
        text = message.content
    else:
        for part in message.content:
            if part.type != "text" or part.text is None:
                raise InvalidInput(f"Only text content parts are supported, not {part.type[:40]!r}.",
                                   field=f"messages.{index}.content", code="unsupported_content")
        text = "\n".join(part.text or "" for part in message.content)
    if len(text) > MAX_MESSAGE_CHARS:
        raise InvalidInput(f"A message may hold at most {MAX_MESSAGE_CHARS} characters.",
                           field=f"messages.{index}.content", code="message_too_long")
    return text


# --- responses ------------------------------------------------------------------------------------------------


class CiteqaInfo(BaseModel):
    question: str = Field(description="The standalone question that was retrieved for and answered.")
    condensed: bool = Field(description="The last message was a follow-up, rewritten into `question`.")
    refused: bool = Field(description="The sources do not answer the question (the text says so; no sources).")
    answer: str = Field(description="The checked answer text, without the sources block.")
    sentences: list[SentenceOut]
    dropped_citations: int = Field(description="Markers the answerer wrote that resolved to no passage.")
    degraded: bool = Field(description="The LLM failed and the extractive fallback answered.")
    confidence: float = Field(description="The judge's calibrated probability that the best source sentence "
                              "answers the question (as in POST /ask).")
    closest: ClosestOut | None = Field(default=None, description="On a refusal, the sentence closest to answering.")
    timings_ms: dict[str, float]

    @classmethod
    def of(cls, result: AskResult, question: str, condensed: bool) -> CiteqaInfo:
        answer = AskResponse.of(result)
        return cls(question=question, condensed=condensed, refused=result.refused, answer=result.answer,
                   sentences=answer.sentences, dropped_citations=result.dropped_citations, degraded=result.degraded,
                   confidence=answer.confidence, closest=answer.closest, timings_ms=result.timings_ms)


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str = Field(description="The answer with its [n] markers, then a 'Sources:' block (not on refusals).")


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"
    logprobs: None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str = Field(description="The answerer that wrote the answer ('extractive' or the LLM's name).")
    choices: list[Choice]
    citations: list[CitationOut] = Field(description="The checked citations: [n] in the text is citations[n-1].")
    citeqa: CiteqaInfo


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "citeqa"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


def sources_block(result: AskResult) -> str:
    """The citations as text a plain client can show: ``[n] title — "quote" (source, chars start–end)``.
    Empty for a refusal or an answer left without citations."""
    if result.refused or not result.citations:
        return ""
    lines = [
        f"[{c.n}] {c.title or c.source} — \"{' '.join(c.quote.split())}\" ({c.source}, chars {c.start}–{c.end})"
        for c in result.citations
    ]
    return SOURCES_HEADER + "\n".join(lines)
