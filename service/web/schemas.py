"""Request and response models of the HTTP API (kept apart from the pipeline's own records)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from service.answer.citations import Citation
from service.answer.pipeline import AskResult


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(description="The question, in plain text.")
    k: int | None = Field(default=None, description="How many passages to retrieve (default: settings.top_k).")
    documents: list[str] | None = Field(
        default=None, max_length=1000, description="Only search these document ids."
    )
    retrieved: int | None = Field(
        default=None, ge=1, le=50,
        description="For evaluation: also return the top N retrieved passages, ranked, in `retrieved` (the "
        "answerer still sees k). Unset: the response has no `retrieved` field.",
    )


class RetrievedOut(BaseModel):
    rank: int
    doc_id: str
    chunk_id: str
    start: int = Field(description="Offset in the document's text where the chunk begins.")
    end: int
    score: float


class CitationOut(BaseModel):
    n: int = Field(description="The number used by the [n] markers of the answer.")
    doc_id: str
    title: str
    source: str
    chunk_id: str
    start: int = Field(description="Offset in the document's text where the quoted span begins.")
    end: int = Field(description="Offset in the document's text where the quoted span ends.")
    quote: str = Field(description="document.text[start:end]")
    page: int | None = Field(default=None, description="The 1-based page of a PDF the quote starts on; null for "
                                                       "documents without pages.")

    @classmethod
    def of(cls, citation: Citation) -> CitationOut:
        return cls(**citation.__dict__)


class ClosestOut(CitationOut):
    """A refusal's best candidate: the sentence the judge rated most likely to answer, though not enough."""

    n: int = Field(default=0, description="Always 0: the closest passage is not a citation of the answer.")
    probability: float = Field(description="The judge's probability that this sentence answers the question.")


class SentenceOut(BaseModel):
    text: str
    citations: list[int]
    supported: bool


class AskResponse(BaseModel):
    answer: str
    citations: list[CitationOut]
    refused: bool
    model: str
    sentences: list[SentenceOut]
    dropped_citations: int = Field(description="Markers the answerer wrote that resolved to no passage.")
    degraded: bool = Field(default=False, description="The LLM failed and the extractive fallback answered.")
    confidence: float = Field(
        description="The judge's calibrated probability (0-1) that the best source sentence answers the question: "
        "of answers given with confidence 0.8, about 80% cite a sentence that answers it.")
    closest: ClosestOut | None = Field(
        default=None, description="On a refusal: the sentence closest to answering (null when nothing was found).")
    timings_ms: dict[str, float]

    @classmethod
    def of(cls, result: AskResult) -> AskResponse:
        return cls(
            answer=result.answer,
            citations=[CitationOut.of(c) for c in result.citations],
            refused=result.refused,
            model=result.model,
            sentences=[SentenceOut(**s) for s in result.sentences],
            dropped_citations=result.dropped_citations,
            degraded=result.degraded,
            confidence=result.confidence,
            closest=(ClosestOut(**{**result.closest.__dict__, "probability": result.closest_probability or 0.0})
                     if result.closest is not None else None),
            timings_ms=result.timings_ms,
        )


class DocumentOut(BaseModel):
    id: str
    title: str
    source: str
    chunks: int


class DocumentFull(DocumentOut):
    text: str


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse} for status in (404, 422, 502, 503, 504)
}


# --- POST /chat ---------------------------------------------------------------------------------------------

MAX_CHAT_MESSAGES = 100
MAX_MESSAGE_CHARS = 20_000


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant", "system"]
    content: str = Field(max_length=MAX_MESSAGE_CHARS)


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    messages: list[ChatMessage] = Field(
        min_length=1, max_length=MAX_CHAT_MESSAGES,
        description="The conversation so far, oldest first; the last message is the user's question.",
    )
    stream: bool | None = Field(
        default=None,
        description="true: Server-Sent Events; false: one JSON body. Unset: events when the Accept header asks "
        "for text/event-stream.",
    )
    k: int | None = Field(default=None, description="How many passages to retrieve (default: settings.top_k).")
    documents: list[str] | None = Field(
        default=None, max_length=1000, description="Only search these document ids."
    )


class ChatResponse(AskResponse):
    question: str = Field(description="The standalone question that was retrieved for and answered.")
    condensed: bool = Field(description="The last message was a follow-up, rewritten into `question`.")

    @classmethod
    def of_turn(cls, result: AskResult, question: str, condensed: bool) -> ChatResponse:
        return cls(**AskResponse.of(result).model_dump(), question=question, condensed=condensed)
