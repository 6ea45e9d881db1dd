"""The answerer seam: (question, passages) -> answer text whose ``[n]`` markers cite passage n (1-based).

Two implementations, picked by ``settings.llm_model``:

- ``extractive`` (the offline default, :mod:`service.extractive`): generates no text; it selects the source
  sentences that answer the question and cites each one, or refuses.
- anything else is a litellm model string (:mod:`service.llm`): a real LLM, prompted from ``prompts/``.

Whatever the answerer says goes through :func:`service.citations.check_citations` afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from ingest.embedding import Embedder
from ingest.models import Chunk
from service.settings import Settings


class Answerer(Protocol):
    name: str

    def stream(self, question: str, passages: Sequence[Chunk]) -> Iterator[str]:
        """Yield the answer text in pieces; raising :class:`service.errors.LLMError` on provider failure."""
        ...


def build_answerer(settings: Settings, embedder: Embedder) -> Answerer:
    if settings.uses_extractive:
        from service.extractive import ExtractiveAnswerer

        return ExtractiveAnswerer(embedder, settings)
    from service.llm import LiteLLMAnswerer

    return LiteLLMAnswerer(settings)
