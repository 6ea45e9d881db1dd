"""Follow-up questions: the last user message of a conversation, rewritten to stand on its own.

Retrieval and the answerer see one question, never a conversation. :func:`standalone_question` takes the
messages (``{"role", "content"}`` dicts, oldest first, the last one from the user) and returns the question to
use and whether it was rewritten. A first question is used as it is and no model is called.

Two condensers, picked like the answerer by ``settings.llm_model`` (:func:`build_condenser`):

- a real LLM (:class:`LLMCondenser`) is given ``prompts/condense.md``: the last few turns (citation markers
  removed) and the question, and asked for the standalone question, one line. An empty reply falls back to the
  question as asked; a provider failure is an :class:`~service.errors.LLMError` like any LLM call.
- the extractive default (:class:`HeuristicCondenser`) generates no text, so it uses this rule. A user message
  is a *follow-up* when it contains a word that points back (he, him, his, she, her, it, its, they, them,
  their, this, these, those and their -self forms), starts with a connective (and, but, also, so, what about,
  how about, what else), or has fewer than two content words ("Why?", "When exactly?"). A follow-up's
  standalone question is the message followed, in parentheses, by the previous user messages, most recent
  first, back to the last one that was not a follow-up (at most three):

      "Who corrected him?"  after  "What did Altman say the NATO contract covered?"
      -> "Who corrected him? (What did Altman say the NATO contract covered?)"

  Retrieval (embedding and BM25) and the extractive answerer's scores then see the words the follow-up points
  back to. The assistant's answers are not used: they quote the sources already cited and would pull retrieval
  back to them. A message that is not a follow-up is used as it is.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from service.answer.citations import MARKER
from service.answer.retrieval import tokenize
from service.errors import InvalidInput
from service.settings import Settings

log = logging.getLogger(__name__)

Message = Mapping[str, str]  # {"role": "user" | "assistant" | "system", "content": str}

REFERRING = frozenset("""
he him his himself she her hers herself it its itself they them their theirs themselves this these those
""".split())
CONNECTIVES = ("and ", "but ", "also ", "so ", "what about ", "how about ", "what else")
MIN_CONTENT_WORDS = 2
MAX_CONTEXT_TURNS = 3
LLM_HISTORY_MESSAGES = 6  # the last turns shown to the LLM condenser
LLM_TURN_CHARS = 1000  # each shown turn is cut to this
LLM_MAX_TOKENS = 128


@dataclass(frozen=True)
class Standalone:
    question: str  # what retrieval and the answerer are given
    asked: str  # the last user message, as written
    condensed: bool  # question != asked


class Condenser(Protocol):
    name: str

    def condense(self, history: Sequence[Message], question: str) -> str:
        """Rewrite ``question`` (the last user message) given the earlier ``history``; return it unchanged
        when it stands on its own."""
        ...


def is_follow_up(text: str) -> bool:
    lowered = " ".join(text.lower().split())
    words = re.findall(r"\w+", lowered)
    return (
        any(word in REFERRING for word in words)
        or lowered.startswith(CONNECTIVES)
        or len(tokenize(lowered)) < MIN_CONTENT_WORDS
    )


class HeuristicCondenser:
    """The extractive default's rule (see the module docstring). Calls no model."""

    name = "heuristic"

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars

    def condense(self, history: Sequence[Message], question: str) -> str:
        if not is_follow_up(question):
            return question
        earlier = [m["content"].strip() for m in reversed(history) if m["role"] == "user" and m["content"].strip()]
        context: list[str] = []
        for turn in earlier[:MAX_CONTEXT_TURNS]:
            candidate = f"{question} ({' '.join([*context, turn])})"
            if len(candidate) > self.max_chars:
                break
            context.append(turn)
            if not is_follow_up(turn):
                break
        return f"{question} ({' '.join(context)})" if context else question


class LLMCondenser:
    """Asks the configured LLM, with ``prompts/condense.md``, for the standalone question."""

    def __init__(self, settings: Settings) -> None:
        from service.answer.prompts import load_prompts

        self.name = settings.llm_model
        self.settings = settings
        self.prompt = load_prompts(settings.prompts_dir)["condense.md"]

    def messages(self, history: Sequence[Message], question: str) -> list[dict[str, str]]:
        shown = [m for m in history if m["role"] in ("user", "assistant") and m["content"].strip()]
        lines = [f"{m['role']}: {_one_line(m['content'])}" for m in shown[-LLM_HISTORY_MESSAGES:]]
        text = self.prompt.render(conversation="\n".join(lines), question=_one_line(question))
        return [{"role": "user", "content": text}]

    def condense(self, history: Sequence[Message], question: str) -> str:
        from service.answer.llm import complete_text

        messages = self.messages(history, question)
        log.debug("condense prompt: %s", messages)
        return _clean(complete_text(self.settings, messages, max_tokens=LLM_MAX_TOKENS)) or question


def build_condenser(settings: Settings) -> Condenser:
    if settings.uses_extractive:
        return HeuristicCondenser(settings.max_question_chars)
    return LLMCondenser(settings)


def standalone_question(messages: Sequence[Message], condenser: Condenser, max_chars: int) -> Standalone:
    """The question to answer for a conversation whose last message is the user's.

    Raises :class:`InvalidInput` when the last message is not the user's. The question itself is checked once,
    before this, by ``Pipeline.validate`` (:func:`service.answer.conversation.start_turn`).
    """
    if not messages or messages[-1]["role"] != "user":
        raise InvalidInput("The last message must be the user's question.", field="messages",
                           code="last_message_not_user")
    asked = messages[-1]["content"].strip()
    history = messages[:-1]
    if not any(m["role"] == "user" and m["content"].strip() for m in history):
        return Standalone(asked, asked, False)
    question = condenser.condense(history, asked).strip()
    if not question or len(question) > max_chars:
        log.warning("condenser %s gave an unusable question; using the question as asked", condenser.name)
        question = asked
    if question != asked:
        log.info("condensed follow-up %r -> %r", asked, question)
    return Standalone(question, asked, question != asked)


def _one_line(text: str) -> str:
    text = " ".join(MARKER.sub("", text).split())
    return text if len(text) <= LLM_TURN_CHARS else text[:LLM_TURN_CHARS].rsplit(" ", 1)[0] + " …"


def _clean(reply: str) -> str:
    """The first non-empty line of the reply, without quotes or a 'Standalone question:' preamble."""
    line = next((line.strip() for line in reply.splitlines() if line.strip()), "")
    line = re.sub(r"^(?:your reply|standalone question|rewritten question|question)\s*:\s*", "", line, flags=re.I)
    return line.strip().strip("\"'“”‘’`").strip()
