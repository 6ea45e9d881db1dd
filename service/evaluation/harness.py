"""``citeqa eval``: run a question set through the answer pipeline and score its citations.

1. :mod:`service.evaluation.inputs` reads the question file (every malformed line reported with its number; nothing
   runs on a broken file) and the corpus, and locates each gold evidence sentence's span in its document.
2. A target (:mod:`service.evaluation.targets`) answers each question: the very ``AskPipeline`` behind ``POST /ask``
   over the corpus's own collection, or a running service over HTTP (``--url``).
3. :func:`evaluate` scores each answer (:mod:`service.evaluation.scores`, :mod:`service.evaluation.support_judges`)
   per retrieval mode and summarises, overall and on the two fixed halves of the set, and measures how well the
   answers' confidence is calibrated (:func:`reliability`, :func:`expected_calibration_error`);
   :mod:`service.evaluation.report` writes the files.

Everything is deterministic for the same inputs: questions are sampled with ``--seed`` and run in file order.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.answer.citations import MARKER
from service.evaluation import scores
from service.evaluation.inputs import (  # noqa: F401 - the names callers use from here
    Corpus,
    EvalInputError,
    EvalQuestion,
    EvalRunError,
    Evidence,
    half_of,
    load_corpus,
    load_questions,
    locate_gold,
    sample,
)
from service.evaluation.report import ConfigRun
from service.evaluation.targets import (  # noqa: F401 - the names callers use from here
    RETRIEVAL_DEPTH,
    HttpTarget,
    LocalTarget,
    Outcome,
    Target,
    collection_name,
)

log = logging.getLogger(__name__)

MODES = ("dense", "bm25", "hybrid")


# --- the run -------------------------------------------------------------------------------------------------
def count_markers(answer: str) -> int:
    return sum(len(match.group(1).split(",")) for match in MARKER.finditer(answer))


def judge_sentences(outcome: Outcome, judge: Any) -> list[bool]:
    """Per answer sentence of a non-refused answer: do its cited spans support it (per ``judge``)?"""
    if outcome.refused:
        return []
    quotes = {c["n"]: c["quote"] for c in outcome.citations}
    verdicts = []
    for sentence in outcome.sentences:
        spans = [quotes[n] for n in sentence.get("citations", []) if n in quotes]
        verdicts.append(bool(spans) and judge.supported(sentence["text"], spans))
    return verdicts


def gold_texts(q: EvalQuestion, gold: Sequence[scores.Span], texts: Mapping[str, str] | None) -> list[dict]:
    """The gold sentences as ``{doc_id, start, end, text}``, the text cut from the corpus document (``texts``:
    doc_id -> text); without the corpus, the evidence text of the question file (``locate_gold`` keeps its
    order)."""
    out = []
    for i, (doc_id, start, end) in enumerate(gold):
        if texts is not None and doc_id in texts:
            text = texts[doc_id][start:end]
        else:
            text = q.evidence[i].text if i < len(q.evidence) else ""
        out.append({"doc_id": doc_id, "start": start, "end": end, "text": text})
    return out


def score(q: EvalQuestion, gold: list[scores.Span], outcome: Outcome, judge: Any,
          texts: Mapping[str, str] | None = None) -> dict[str, Any]:
    cited = [(c["doc_id"], c["start"], c["end"]) for c in outcome.citations]
    supported = judge_sentences(outcome, judge)
    row = scores.score_question(
        answerable=q.answerable, refused=outcome.refused, gold=gold, answers=q.answers,
        retrieved=outcome.retrieved, cited=cited, answer=outcome.answer,
        markers_resolved=count_markers(outcome.answer), markers_dropped=outcome.dropped,
        sentences_supported=supported,
    )
    correct = scores.correct_citations(cited, gold)
    record: dict[str, Any] = {
        "id": q.id, "question": q.question, "answerable": q.answerable, "answer": outcome.answer,
        "refused": outcome.refused, "model": outcome.model, "confidence": outcome.confidence,
        "citations": [{"n": c["n"], "doc_id": c["doc_id"], "start": c["start"], "end": c["end"], "correct": ok,
                       "quote": c.get("quote", "")}
                      for c, ok in zip(outcome.citations, correct, strict=True)],
    }
    if outcome.closest is not None:
        span = (outcome.closest["doc_id"], outcome.closest["start"], outcome.closest["end"])
        # whether the refusal's closest passage is a gold sentence: an answer the refusal held back
        record["closest"] = {**outcome.closest, "correct": scores.overlaps_any(span, gold)}
    if q.answerable:
        record["gold"] = gold_texts(q, gold, texts)
    return {
        **record,
        "sentences_supported": supported,
        "retrieved_docs": [span[0] for span in outcome.retrieved],
        "metrics": {key: value for key, value in row.items() if key not in ("answerable", "refused")},
        "_row": row, "_timings": outcome.timings_ms,
    }


def evaluate(
    questions: Sequence[EvalQuestion], gold: dict[str, list[scores.Span]], target: Target,
    modes: Sequence[str | None], judge: Any, progress: bool | None = None,
    on_question: Callable[[], None] | None = None, texts: Mapping[str, str] | None = None,
) -> list[ConfigRun]:
    """Answer and score every question under every mode (None: the target's own setting); ``texts`` (doc_id ->
    the corpus document's text) gives the rows the gold sentences' texts."""
    runs = []
    bar = _progress_bar(len(questions) * len(modes), progress)
    try:
        for mode in modes:
            records = []
            for q in questions:
                records.append(score(q, gold[q.id], target.answer(q.question, mode), judge, texts))
                bar.update(1)
                if on_question:
                    on_question()
            runs.append(_config_run(mode or "default", records))
    finally:
        bar.close()
    return runs


def _config_run(name: str, records: list[dict[str, Any]]) -> ConfigRun:
    rows = [record.pop("_row") for record in records]
    timings = [record.pop("_timings") for record in records]
    halves = {
        half: scores.summarize([row for row, rec in zip(rows, records, strict=True) if half_of(rec["id"]) == half])
        for half in ("A", "B")
    }
    keys = sorted({key for t in timings for key in t})
    mean_timings = {key: round(sum(t.get(key, 0.0) for t in timings) / len(timings), 2) for key in keys}
    bins = reliability(answer_outcomes(records))
    return ConfigRun(name=name, rows=records, summary=scores.summarize(rows), halves=halves,
                     mean_timings_ms=mean_timings, reliability=bins, ece=expected_calibration_error(bins))


# --- calibration ---------------------------------------------------------------------------------------------
RELIABILITY_BINS = 10


def answer_right(record: Mapping[str, Any]) -> bool:
    """An answer is right when its citations include at least one gold sentence (an unanswerable question has
    none, so an answer to it never is)."""
    return bool(record.get("answerable")) and any(c["correct"] for c in record.get("citations", []))


def answer_outcomes(records: Sequence[Mapping[str, Any]]) -> list[tuple[float, bool]]:
    """``(confidence, right)`` of every answer (refusals left out), answerable or not; see :func:`answer_right`."""
    return [(float(r.get("confidence", 0.0)), answer_right(r)) for r in records if not r["refused"]]


def reliability(outcomes: Sequence[tuple[float, bool]], bins: int = RELIABILITY_BINS) -> list[dict[str, Any]]:
    """**Reliability bins**: the answers ``(confidence, right)`` grouped by confidence into ``bins`` equal-width
    bins of [0, 1] (``[lo, hi)``, the last one closed; a confidence outside [0, 1] counts in the end bin).
    Per non-empty bin, in increasing order: ``lo``, ``hi``, ``answers`` (the count), ``right`` (how many are
    right), ``confidence`` (their mean confidence) and ``observed`` (the observed precision: right / answers).
    A calibrated answerer has ``observed`` close to ``confidence`` in every bin. Empty bins are left out."""
    if bins < 1:
        raise ValueError("reliability needs at least one bin")
    grouped: dict[int, list[tuple[float, bool]]] = {}
    for confidence, right in outcomes:
        index = min(max(int(confidence * bins), 0), bins - 1)
        grouped.setdefault(index, []).append((confidence, right))
    out = []
    for index in sorted(grouped):
        members = grouped[index]
        count = len(members)
        correct = sum(right for _, right in members)
        out.append({
            "lo": round(index / bins, 6), "hi": round((index + 1) / bins, 6), "answers": count, "right": correct,
            "confidence": round(sum(c for c, _ in members) / count, 6), "observed": round(correct / count, 6),
        })
    return out


def expected_calibration_error(bins: Sequence[Mapping[str, Any]]) -> float | None:
    """**Expected calibration error (ECE)**: the mean over the :func:`reliability` bins of
    ``|confidence - observed|`` (mean confidence vs observed precision), each bin weighted by its number of
    answers: ``sum(answers_b * |confidence_b - observed_b|) / sum(answers_b)``. 0 is perfectly calibrated;
    None when there is no answer."""
    total = sum(b["answers"] for b in bins)
    if not total:
        return None
    return round(sum(b["answers"] * abs(b["confidence"] - b["observed"]) for b in bins) / total, 6)


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress_bar(total: int, enabled: bool | None) -> Any:
    if enabled is False or (enabled is None and not sys.stderr.isatty()):
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, unit="question", desc="evaluating", file=sys.stderr)


# --- the whole command ---------------------------------------------------------------------------------------
@dataclass
class EvalRequest:
    corpus: Path
    questions: Path
    out: Path
    modes: list[str | None]
    limit: int | None = None
    seed: int = 0
    k: int | None = None
    url: str | None = None
    api_key: str | None = None
    judge_model: str | None = None
    judge_api_base: str | None = None
    progress: bool | None = None


def run(settings: Any, request: EvalRequest, echo: Callable[[str], None] = print) -> tuple[list[ConfigRun], dict]:
    """Check the inputs (nothing runs on a broken file), answer, score, write the files; returns the runs and
    the run's description (what results.json holds besides the metrics)."""
    from service.evaluation import report
    from service.evaluation.support_judges import build_judge

    questions = load_questions(request.questions)
    corpus = load_corpus(request.corpus)
    gold = locate_gold(questions, corpus)
    chosen = sample(questions, request.limit, request.seed)
    for problem in corpus.problems:
        echo(f"corpus: skipped {problem.source}: {problem.reason}")
    target: Target
    if request.url:
        target = HttpTarget(request.url, request.k, request.api_key)
        embedder = None
        if not request.judge_model:
            from service.components import build_embedder

            embedder = build_embedder(settings)
    else:
        echo(f"ingesting {corpus.path} into collection {collection_name(corpus, settings)} ...")
        local = LocalTarget(settings, corpus, request.k, request.progress)
        echo(f"  {local.ingest.summary()}")
        target, embedder = local, local.embedder
    judge = build_judge(settings, embedder, request.judge_model, request.judge_api_base)
    texts = {document.id: document.text for document in corpus.documents}
    runs = evaluate(chosen, gold, target, request.modes, judge, request.progress, texts=texts)
    info = {
        "questions": {
            "path": str(request.questions), "count": len(chosen), "in_file": len(questions),
            "answerable": sum(q.answerable for q in chosen), "unanswerable": sum(not q.answerable for q in chosen),
            "limit": request.limit, "seed": request.seed,
        },
        "corpus": {"path": str(request.corpus), "documents": len(corpus.documents), "hash": corpus.hash},
        "target": target.describe(),
        "judge": judge.name,
    }
    report.write(request.out, runs, info)
    return runs, info
