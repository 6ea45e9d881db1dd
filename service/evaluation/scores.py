"""Citation-accuracy metrics: pure functions over spans and texts, each defined in its docstring.

A span is ``(doc_id, start, end)``: a half-open character range ``[start, end)`` of a document's text. Gold
evidence sentences, retrieved chunks and cited spans are all spans of the same documents, so every "is this
right?" question below is one test: :func:`overlaps`.

Per question, :func:`score_question` turns what the system did (retrieved chunks, citations, the answer, whether
it refused) and the gold (evidence spans, answers, answerable) into counts and scores; :func:`summarize` turns
the rows of many questions into the headline figures. The definitions, as in ``evals/README.md``:

- **gold-passage recall@k**: for an answerable question, the share of its gold passages (documents holding
  evidence) that have a chunk among the top k retrieved overlapping one of their gold evidence spans; averaged
  over answerable questions.
- **MRR**: 1 / the rank of the first retrieved chunk overlapping a gold evidence span (0 when none of the
  retrieved chunks does); averaged over answerable questions.
- **citation precision** (micro): over all citations of answerable questions, the share whose span overlaps at
  least one gold evidence span. **ALCE-style** (per response): the same share computed per answer, averaged
  over answerable questions whose answer has at least one citation.
- **citation recall**: over all gold evidence sentences of answerable questions, the share overlapped by at
  least one cited span (a refused answer covers none).
- **citation validity**: the share of the answerer's ``[n]`` markers that resolved to a retrieved passage
  (the citation checker drops and counts the others).
- **token F1 / ROUGE-L**: of the answer (markers removed) against the best-matching gold answer, over
  answerable questions; a refusal scores 0.
- **abstention**: the share of unanswerable questions refused, the share of answerable questions answered,
  and their mean (balanced abstention accuracy).
- **support**: the share of the sentences of non-refused answers that their cited spans support, according
  to a named judge (see :mod:`service.evaluation.support_judges`); a sentence without a citation is unsupported.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from service.answer.citations import MARKER

Span = tuple[str, int, int]

RECALL_AT = (1, 3, 5, 10)


# --- spans ---------------------------------------------------------------------------------------------------
def overlaps(a: Span, b: Span) -> bool:
    """True when two spans are in the same document and share at least one character."""
    return a[0] == b[0] and a[1] < b[2] and b[1] < a[2]


def overlaps_any(span: Span, gold: Iterable[Span]) -> bool:
    return any(overlaps(span, g) for g in gold)


def locate(text: str, sentence: str) -> tuple[int, int] | None:
    """Where ``sentence`` stands in ``text``: the first exact occurrence, else the first occurrence once runs
    of whitespace are treated as equal (and the sentence's own outer whitespace ignored). None if absent."""
    start = text.find(sentence)
    if start >= 0 and sentence:
        return start, start + len(sentence)
    words = sentence.split()
    if not words:
        return None
    pattern = r"\s+".join(re.escape(word) for word in words)
    match = re.search(pattern, text)
    return (match.start(), match.end()) if match else None


# --- retrieval -----------------------------------------------------------------------------------------------
def first_hit_rank(retrieved: Sequence[Span], gold: Sequence[Span]) -> int | None:
    """1-based rank of the first retrieved chunk overlapping a gold span; None when none does."""
    for rank, chunk in enumerate(retrieved, start=1):
        if overlaps_any(chunk, gold):
            return rank
    return None


def gold_passage_recall(retrieved: Sequence[Span], gold: Sequence[Span], k: int) -> float:
    """Share of the gold passages (distinct documents of ``gold``) that some chunk among the top ``k`` of
    ``retrieved`` hits, a hit being an overlap with a gold span of that document."""
    passages = sorted({doc for doc, _, _ in gold})
    if not passages:
        raise ValueError("gold_passage_recall needs at least one gold span")
    found = {chunk[0] for chunk in retrieved[:k] if overlaps_any(chunk, gold)}
    return len(found & set(passages)) / len(passages)


def reciprocal_rank(retrieved: Sequence[Span], gold: Sequence[Span]) -> float:
    """1 / rank of the first retrieved chunk overlapping a gold span; 0.0 when none does."""
    rank = first_hit_rank(retrieved, gold)
    return 0.0 if rank is None else 1.0 / rank


# --- citations -----------------------------------------------------------------------------------------------
def holds_answer(text: str, answers: Iterable[str]) -> bool:
    """Whether ``text`` states one of ``answers`` (a gold answer string, as a whole word or phrase, case aside): the
    SQuAD sense of "the sentence holds the answer", which a sentence other than the one the annotator marked can
    meet ("Beyoncé would perform alongside Coldplay at Super Bowl 50" for "Who would Beyoncé perform with?")."""
    return any(re.search(rf"(?<!\w){re.escape(answer.strip())}(?!\w)", text, re.IGNORECASE)
               for answer in answers if answer.strip())


def correct_citations(cited: Sequence[Span], gold: Sequence[Span]) -> list[bool]:
    """Per cited span: does it overlap at least one gold evidence span?"""
    return [overlaps_any(span, gold) for span in cited]


def covered_gold(cited: Sequence[Span], gold: Sequence[Span]) -> list[bool]:
    """Per gold evidence span: is it overlapped by at least one cited span?"""
    return [overlaps_any(span, cited) for span in gold]


def citation_precision(cited: Sequence[Span], gold: Sequence[Span]) -> float | None:
    """The share of ``cited`` overlapping a gold span (one response); None when nothing is cited."""
    if not cited:
        return None
    return sum(correct_citations(cited, gold)) / len(cited)


def citation_recall(cited: Sequence[Span], gold: Sequence[Span]) -> float:
    """The share of gold spans overlapped by a cited span (one response)."""
    if not gold:
        raise ValueError("citation_recall needs at least one gold span")
    return sum(covered_gold(cited, gold)) / len(gold)


# --- answer text ---------------------------------------------------------------------------------------------
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans({char: " " for char in string.punctuation + "`´‘’“”"})


def strip_markers(answer: str) -> str:
    """The answer without its ``[n]`` citation markers (:data:`service.answer.citations.MARKER`, as the citation
    checker reads them; the spaces before a marker go with it, a line break stays: tokens are what is scored)."""
    return MARKER.sub("", answer).strip()


def answer_tokens(text: str) -> list[str]:
    """SQuAD normalisation: lower case, punctuation and the articles a/an/the removed, split on whitespace."""
    return _ARTICLES.sub(" ", text.lower().translate(_PUNCT)).split()


def token_f1(prediction: str, gold: str) -> float:
    """SQuAD token F1: harmonic mean of the shares of shared tokens (counted with multiplicity) in the
    prediction (precision) and in the gold answer (recall), after :func:`answer_tokens`. 1.0 when both are
    empty, 0.0 when only one is."""
    pred, ref = answer_tokens(prediction), answer_tokens(gold)
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    previous = [0] * (len(b) + 1)
    for token in a:
        current = [0]
        for j, other in enumerate(b, start=1):
            current.append(previous[j - 1] + 1 if token == other else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def rouge_l(prediction: str, gold: str) -> float:
    """ROUGE-L F1: with L the length of the longest common subsequence of the two token lists
    (:func:`answer_tokens`), precision L/len(prediction), recall L/len(gold), and their harmonic mean."""
    pred, ref = answer_tokens(prediction), answer_tokens(gold)
    if not pred or not ref:
        return float(pred == ref)
    length = _lcs(pred, ref)
    if length == 0:
        return 0.0
    precision, recall = length / len(pred), length / len(ref)
    return 2 * precision * recall / (precision + recall)


def best_against(score: Any, prediction: str, answers: Sequence[str]) -> float:
    """The best of ``score(prediction, answer)`` over the gold answers (0.0 when there are none)."""
    return max((score(prediction, answer) for answer in answers), default=0.0)


# --- per question and summary --------------------------------------------------------------------------------
def score_question(
    *,
    answerable: bool,
    refused: bool,
    gold: Sequence[Span],
    answers: Sequence[str],
    retrieved: Sequence[Span],
    cited: Sequence[Span],
    answer: str,
    markers_resolved: int,
    markers_dropped: int,
    sentences_supported: Sequence[bool],
) -> dict[str, Any]:
    """The per-question counts and scores that :func:`summarize` aggregates (see the module docstring)."""
    row: dict[str, Any] = {
        "answerable": answerable,
        "refused": refused,
        "citations": len(cited),
        "markers_resolved": markers_resolved,
        "markers_dropped": markers_dropped,
        "sentences": len(sentences_supported),
        "sentences_supported": sum(sentences_supported),
    }
    if not answerable:
        return row
    correct = correct_citations(cited, gold)
    covered = covered_gold(cited, gold)
    text = "" if refused else strip_markers(answer)
    rank = first_hit_rank(retrieved, gold)
    row.update({
        "citations_correct": sum(correct),
        "gold_sentences": len(gold),
        "gold_covered": sum(covered),
        "first_hit_rank": rank,
        "reciprocal_rank": 0.0 if rank is None else 1.0 / rank,
        **{f"recall@{k}": gold_passage_recall(retrieved, gold, k) for k in RECALL_AT},
        "token_f1": best_against(token_f1, text, answers) if text else 0.0,
        "rouge_l": best_against(rouge_l, text, answers) if text else 0.0,
    })
    return row


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def summarize(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Aggregate :func:`score_question` rows into the headline metrics (None where a metric has no cases)."""
    answerable = [row for row in rows if row["answerable"]]
    unanswerable = [row for row in rows if not row["answerable"]]
    cited = [row for row in answerable if row["citations"]]
    answered = [row for row in rows if not row["refused"]]
    refused_unanswerable = _share(sum(row["refused"] for row in unanswerable), len(unanswerable))
    answered_answerable = _share(sum(not row["refused"] for row in answerable), len(answerable))
    rates = [rate for rate in (refused_unanswerable, answered_answerable) if rate is not None]
    markers = sum(row["markers_resolved"] + row["markers_dropped"] for row in rows)
    summary: dict[str, Any] = {
        "questions": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        **{f"recall@{k}": _mean([row[f"recall@{k}"] for row in answerable]) for k in RECALL_AT},
        "mrr": _mean([row["reciprocal_rank"] for row in answerable]),
        "citation_precision": _share(sum(row["citations_correct"] for row in answerable),
                                     sum(row["citations"] for row in answerable)),
        "citation_precision_alce": _mean([row["citations_correct"] / row["citations"] for row in cited]),
        "citation_recall": _share(sum(row["gold_covered"] for row in answerable),
                                  sum(row["gold_sentences"] for row in answerable)),
        "citation_validity": _share(sum(row["markers_resolved"] for row in rows), markers),
        "token_f1": _mean([row["token_f1"] for row in answerable]),
        "rouge_l": _mean([row["rouge_l"] for row in answerable]),
        "refused_unanswerable": refused_unanswerable,
        "answered_answerable": answered_answerable,
        "abstention_balanced_accuracy": sum(rates) / len(rates) if len(rates) == 2 else None,
        "support": _share(sum(row["sentences_supported"] for row in answered),
                          sum(row["sentences"] for row in answered)),
        "citations_per_answer": _mean([row["citations"] for row in answered]),
    }
    return summary
