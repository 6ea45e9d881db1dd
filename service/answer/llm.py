"""The LLM answerer: any model litellm can call, named by ``settings.llm_model``.

The only module that imports litellm. It passes ``model``, ``api_base``, ``api_key``, ``timeout`` and
``num_retries`` on every call, sets no litellm globals, and turns litellm's exceptions into
:class:`LLMError` / :class:`LLMTimeout` with our own messages (the provider's text goes to the log only).

Passages are shown to the model as delimited, untrusted data (``prompts/passage.md``), numbered from 1 in the
order retrieval ranked them; the model cites them as ``[n]``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from typing import Any

from ingest.models import Chunk
from service.answer.judge import Judgement
from service.answer.prompts import REFUSAL, load_prompts
from service.answer.retrieval import Passage
from service.errors import LLMError, LLMTimeout
from service.settings import Settings

log = logging.getLogger(__name__)


def warm_up() -> None:
    """Import litellm now (about 6 s), so that the first question does not pay for it."""
    _litellm()


def _litellm() -> Any:
    # Without this, importing litellm fetches the model cost map from the internet.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True  # display only: stops "Give Feedback" banners on stdout
    return litellm


class LiteLLMAnswerer:
    def __init__(self, settings: Settings) -> None:
        self.name = settings.llm_model
        self.settings = settings
        self.prompts = load_prompts(settings.prompts_dir)

    def messages(self, question: str, passages: Sequence[Chunk]) -> list[dict[str, str]]:
        shown = "\n\n".join(
            self.prompts["passage.md"].render(
                number=i, title=chunk.title, source=chunk.source, text=chunk.text
            )
            for i, chunk in enumerate(passages, start=1)
        )
        return [
            {"role": "system", "content": self.prompts["answer_system.md"].render(refusal=REFUSAL)},
            {"role": "user", "content": self.prompts["answer_user.md"].render(passages=shown, question=question)},
        ]

    def complete(self, messages: list[dict[str, str]], stream: bool) -> Any:
        return completion(self.settings, messages, stream=stream)

    def stream(self, question: str, passages: Sequence[Passage], judgement: Judgement) -> Iterator[str]:
        messages = self.messages(question, [passage.chunk for passage in passages])
        log.debug("LLM prompt: %s", messages)
        response = self.complete(messages, stream=True)
        produced = False
        try:
            for part in response:
                choices = getattr(part, "choices", None) or []
                delta = getattr(choices[0], "delta", None) if choices else None
                text = getattr(delta, "content", None) if delta is not None else None
                if text:
                    produced = True
                    yield text
        except LLMError:
            raise
        except Exception as exc:
            raise _translate(exc) from exc
        if not produced:
            raise LLMError("The language model returned no usable answer.", code="llm_bad_response")


def completion(settings: Settings, messages: list[dict[str, str]], *, stream: bool,
               max_tokens: int | None = None) -> Any:
    """One litellm call with the settings' model, endpoint, key, timeout and retries; errors become ours."""
    litellm = _litellm()
    key = settings.llm_api_key
    # A local OpenAI-compatible server (vLLM, Ollama, llama.cpp) needs no key, but the SDK insists on one.
    api_key = key.get_secret_value() if key else ("not-needed" if settings.llm_api_base else None)
    try:
        return litellm.completion(
            model=settings.llm_model,
            messages=messages,
            api_base=settings.llm_api_base,
            api_key=api_key,
            timeout=settings.llm_timeout,
            num_retries=settings.llm_num_retries,
            temperature=settings.llm_temperature,
            max_tokens=max_tokens or settings.llm_max_tokens,
            stream=stream,
        )
    except Exception as exc:
        raise _translate(exc) from exc


def complete_text(settings: Settings, messages: list[dict[str, str]], max_tokens: int | None = None) -> str:
    """A non-streaming completion's text (used to condense follow-up questions).

    Raises :class:`LLMError` (``llm_bad_response``) when the reply has no text.
    """
    response = completion(settings, messages, stream=False, max_tokens=max_tokens)
    try:
        text = response.choices[0].message.content
    except (AttributeError, IndexError, TypeError):
        text = None
    if not isinstance(text, str) or not text.strip():
        raise LLMError("The language model returned no usable answer.", code="llm_bad_response")
    return text


def _translate(exc: Exception) -> LLMError:
    litellm = _litellm()
    log.warning("LLM call failed: %s: %s", type(exc).__name__, exc)
    if isinstance(exc, litellm.Timeout) or "timeout" in type(exc).__name__.lower():
        return LLMTimeout("The language model did not answer in time.")
    if isinstance(exc, litellm.RateLimitError):
        return LLMError("The language model provider is rate limiting us; try again later.", code="llm_rate_limited")
    if isinstance(exc, litellm.AuthenticationError):
        return LLMError("The language model provider rejected our credentials.", code="llm_auth_failed")
    if isinstance(exc, litellm.APIConnectionError):
        return LLMError("The language model provider cannot be reached.", code="llm_unreachable")
    status = getattr(exc, "status_code", None)
    detail = f" (HTTP {status})" if isinstance(status, int) else ""
    return LLMError(f"The language model provider failed{detail}.")
