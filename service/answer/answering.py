"""The answerer seam: (question, passages, the judge's judgement) -> answer text whose ``[n]`` markers cite
passage n (1-based).

Two implementations, picked by ``settings.llm_model``:

- ``extractive`` (the offline default, :mod:`service.answer.extractive`): generates no text; it says the source
  sentences the judge (:mod:`service.answer.judge`) rates as answering the question, each cited, or refuses.
- anything else is a litellm model string (:mod:`service.answer.llm`): a real LLM, prompted from ``prompts/``.

Whatever the answerer says goes through :func:`service.answer.citations.check_citations` afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from service.answer.judge import Judgement, JudgeModel
from service.answer.retrieval import Passage
from service.settings import Settings


class Answerer(Protocol):
    name: str

    def stream(self, question: str, passages: Sequence[Passage], judgement: Judgement) -> Iterator[str]:
        """Yield the answer text in pieces; raising :class:`service.errors.LLMError` on provider failure."""
        ...


def build_answerer(settings: Settings, model: JudgeModel) -> Answerer:
    if settings.uses_extractive:
        from service.answer.extractive import ExtractiveAnswerer

        return ExtractiveAnswerer(
            model,
            settings.judge_sentence_threshold if settings.judge_sentence_threshold is not None
            else model.sentence_threshold,
            settings.judge_refuse_threshold if settings.judge_refuse_threshold is not None
            else model.refuse_threshold,
            settings.extractive_max_sentences,
        )
    from service.answer.llm import LiteLLMAnswerer

    return LiteLLMAnswerer(settings)
