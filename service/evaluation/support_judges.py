"""Support judges for the evaluation: does the text an answer sentence cites support that sentence?

Two judges, both turning (claim, cited spans) into yes or no; the evaluation records which one produced the
support figure:

- :class:`OfflineJudge` (the default; no network): the claim is supported when its content words are mostly
  found in the cited text AND it means much the same, i.e. both

      lexical = share of the claim's content words (``service.answer.retrieval.tokenize``) found in the cited spans
                >= LEXICAL_MIN (0.5)
      cosine  = cosine similarity of the claim and the cited spans joined, with the embedding model
                >= COSINE_MIN (0.5)

  A sentence copied from its source (the extractive answerer's) scores 1 and 1. It is a screening check: it
  catches a sentence citing unrelated or off-topic text, not a subtle contradiction.
- :class:`LLMJudge` (``--judge-model``): asks a litellm model the ALCE-style entailment question of
  ``prompts/judge_entailment.md`` (premise: the cited spans; hypothesis: the sentence) and reads yes/no.

A sentence without any citation is never supported and is not shown to a judge.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Protocol

from ingest.embedding import LocalEmbedder
from service.answer.prompts import load_prompts
from service.answer.retrieval import tokenize
from service.settings import Settings

log = logging.getLogger(__name__)

LEXICAL_MIN = 0.5
COSINE_MIN = 0.5
JUDGE_PROMPTS = {"judge_entailment.md": {"premise", "claim"}}
_VERDICT = re.compile(r"\b(yes|no)\b", re.IGNORECASE)


class Judge(Protocol):
    name: str

    def supported(self, claim: str, spans: Sequence[str]) -> bool:
        """True when the cited ``spans`` (at least one) support ``claim``."""
        ...


def lexical_support(claim: str, spans: Sequence[str]) -> float:
    """The share of the claim's content words found in the spans (0.0 for a claim without content words)."""
    words = set(tokenize(claim))
    if not words:
        return 0.0
    found = set(tokenize(" ".join(spans)))
    return len(words & found) / len(words)


class OfflineJudge:
    def __init__(self, embedder: LocalEmbedder) -> None:
        self.embedder = embedder
        self.name = f"offline: lexical >= {LEXICAL_MIN} and cosine >= {COSINE_MIN} ({embedder.name})"

    def supported(self, claim: str, spans: Sequence[str]) -> bool:
        if not spans or lexical_support(claim, spans) < LEXICAL_MIN:
            return False
        vectors = self.embedder.embed_cached([claim, " ".join(spans)])
        return float(vectors[0] @ vectors[1]) >= COSINE_MIN


class LLMJudge:
    """An LLM reading ``prompts/judge_entailment.md``; any reply that is not yes/no counts as unsupported."""

    def __init__(self, settings: Settings, model: str, api_base: str | None = None) -> None:
        update: dict[str, object] = {"llm_model": model, "llm_temperature": 0.0}
        if api_base:
            update["llm_api_base"] = api_base
        self.settings = settings.model_copy(update=update)
        self.prompt = load_prompts(settings.prompts_dir, JUDGE_PROMPTS)["judge_entailment.md"]
        self.name = f"llm: {model} (prompts/judge_entailment.md)"
        self.unparsed = 0

    def supported(self, claim: str, spans: Sequence[str]) -> bool:
        from service.answer.llm import complete_text

        if not spans:
            return False
        premise = "\n".join(f"- {span}" for span in spans)
        message = self.prompt.render(premise=premise, claim=claim)
        reply = complete_text(self.settings, [{"role": "user", "content": message}], max_tokens=8)
        match = _VERDICT.search(reply)
        if match is None:
            self.unparsed += 1
            log.warning("judge reply is neither yes nor no: %r", reply[:80])
            return False
        return match.group(1).lower() == "yes"


def build_judge(settings: Settings, embedder: LocalEmbedder | None, model: str | None,
                api_base: str | None = None) -> Judge:
    if model:
        return LLMJudge(settings, model, api_base)
    if embedder is None:
        raise ValueError("the offline judge needs the embedding model")
    return OfflineJudge(embedder)
