"""``citeqa train-judge``: fit the judge of answers (:mod:`service.answer.judge`) from question sets with gold
sentences.

1. Each question set (the format of ``citeqa eval``: SQuAD 2.0's training subset, CLAPnq's public questions, and
   ``docs``: the questions written on documents collected on this machine, a set of several corpora:
   ``service.cli.TRAINING_SETS``) is ingested into its evaluation collection and every
   question retrieved exactly as ``POST /ask`` does (top ``k`` passages, hybrid), with the vectors the passages
   carry; a candidate sentence is gold when it overlaps a gold evidence sentence.
2. Folds: SQuAD by article, a folder of documents by the document that holds the answer (an unanswerable
   question by itself), every other set by question (a hash of its id), so no article or document is both
   fitted and scored. Each fold's model is fitted on the other folds and scores the held-out one; the
   thresholds are chosen on the fitted folds' own predictions. The fold figures (:func:`fold_report`) are what
   evals/README.md reports.
3. The model written (``service/answer/judge_model.json``) is fitted on everything, with the same seed and settings.

Logistic regression by Newton's method with an L2 penalty: deterministic, a second or two for ~150k sentences.
"""

from __future__ import annotations

import hashlib
import io
import logging
import pickle
import sys
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from service.answer.judge import (
    ANSWERABLE_FEATURES,
    CALIBRATION_FEATURES,
    CONFIDENCE_FEATURES,
    FEATURES,
    Candidates,
    JudgeModel,
    Linear,
    SentenceModel,
    answerable_row,
    calibration_rows,
    confidence_rows,
    features,
    question_features,
)
from service.answer.reader import ReaderWeights
from service.evaluation import reader_training, scores
from service.evaluation.inputs import EvalInputError
from service.evaluation.report import fmt

log = logging.getLogger(__name__)

FOLDS = 5
L2 = 1.0
MAX_SENTENCES = 4
SET_WEIGHT = {"squad2": 1.0}  # per-question weight by set; others (CLAPnq, docs) get DEFAULT_WEIGHT
DEFAULT_WEIGHT = 4.0  # CLAPnq's 399 questions (docs' 955) against SQuAD's 4,719: each about as much say as SQuAD


@dataclass
class Example:
    """One question, its retrieved candidates (with their feature rows) and what is gold."""

    id: str
    set: str  # the question set's name
    group: str  # fold group: the article for SQuAD, the document for a folder corpus, the question for others
    question: str
    answerable: bool
    answers: list[str]
    gold: list[scores.Span]
    candidates: Candidates
    labels: np.ndarray  # 1.0 for a candidate overlapping a gold sentence
    spans: list[scores.Span]  # each candidate's span in its document
    retrieved: list[scores.Span] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)  # the passages' texts, in retrieval order
    passages: list[Any] = field(default_factory=list, repr=False)  # as retrieved, with their vectors
    question_vector: Any = field(default=None, repr=False)
    # the reader's logit of each candidate (by its text), from a reader that never saw this question's fold
    reader_logits: dict[str, float] | None = field(default=None, repr=False)

    def answering_passages(self) -> frozenset[int]:
        """The indices of the retrieved passages that hold a gold sentence."""
        return frozenset(i for i, p in enumerate(self.passages)
                         if scores.overlaps_any((p.chunk.doc_id, p.chunk.start, p.chunk.end), self.gold))

    def read(self, question: str, sentences: Sequence[str]) -> list[float]:
        logits = self.reader_logits or {}
        return [logits.get(sentence, 0.0) for sentence in sentences]

    def refeaturize(self) -> Example:
        """The same question with its candidates' features computed again (after :func:`features` changed, or
        with new ``reader_logits``)."""
        found = features(self.question, self.question_vector, self.passages,
                         self.read if self.reader_logits is not None else None)
        spans = [(p.chunk.doc_id, p.chunk.start + c.start, p.chunk.start + c.end)
                 for c in found.items for p in [self.passages[c.passage]]]
        labels = np.asarray([scores.overlaps_any(span, self.gold) for span in spans], dtype=np.float32)
        return replace(self, candidates=found, labels=labels, spans=spans)


# where the classes a --cache file holds were before service/ was split into packages: older caches still load
MOVED = {"service.judge_training": "service.evaluation.training", "service.judge": "service.answer.judge",
         "service.retrieval": "service.answer.retrieval"}


class _CacheUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        return super().find_class(MOVED.get(module, module), name)


def load_cached(data: bytes) -> list[Example]:
    """The examples of a ``--cache`` file (one written before the modules moved too)."""
    return _CacheUnpickler(io.BytesIO(data)).load()


def article_groups(questions: Sequence[Any]) -> dict[str, str]:
    """SQuAD's article of each question: its evidence document's article, or (an unanswerable question, which
    names none) the article of the answerable question before it in the file, which is ordered by article."""
    out: dict[str, str] = {}
    current = ""
    for q in questions:
        if q.evidence:
            current = q.evidence[0].doc.rsplit("-", 1)[0]
        out[q.id] = current or q.id
    return out


def document_groups(questions: Sequence[Any], corpus_name: str) -> dict[str, str]:
    """The document of each question of a folder corpus (``corpus_name:doc``): its first evidence document's, or
    (an unanswerable question, which names none) its own id."""
    return {q.id: f"{corpus_name}:{q.evidence[0].doc}" if q.evidence else q.id for q in questions}


def collect(settings: Any, corpus_path: Path, questions_path: Path, name: str, k: int,
            limit: int | None = None, progress: Callable[[int, int], None] | None = None) -> list[Example]:
    """Retrieve every question of a set as ``POST /ask`` does and turn its passages into candidates."""
    from service import components
    from service.evaluation import harness
    from service.evaluation.targets import collection_name

    questions = harness.load_questions(questions_path)
    corpus = harness.load_corpus(corpus_path)
    gold = harness.locate_gold(questions, corpus)
    groups = (article_groups(questions) if name == "squad2" else
              document_groups(questions, questions_path.parent.name) if corpus_path.is_dir() else
              {q.id: q.id for q in questions})
    chosen = harness.sample(questions, limit, seed=0)
    # the corpus's evaluation collection, as `citeqa eval` ingests it; retrieval only (no judge is loaded)
    settings = settings.model_copy(update={"collection": collection_name(corpus, settings)})
    search = components.build_search(settings, components.build_embedder(settings))
    search.indexer.ingest(corpus.path, progress=False)
    retriever = search.retriever
    out = []
    for n, q in enumerate(chosen, start=1):
        retrieval = retriever.retrieve(q.question, k)
        assert retrieval.query_embedding is not None, "the judge needs dense or hybrid retrieval"
        example = Example(q.id, name, groups[q.id], q.question, q.answerable, list(q.answers), gold[q.id],
                          Candidates([], np.zeros((0, len(FEATURES)), np.float32)), np.zeros(0, np.float32), [],
                          [(p.chunk.doc_id, p.chunk.start, p.chunk.end) for p in retrieval.passages],
                          [p.chunk.text for p in retrieval.passages], list(retrieval.passages),
                          retrieval.query_embedding)
        out.append(example.refeaturize())
        if progress:
            progress(n, len(chosen))
    return out


# --- fitting -----------------------------------------------------------------------------------------------------
def fit_logistic(rows: np.ndarray, labels: np.ndarray, weights: np.ndarray, names: tuple[str, ...],
                 l2: float = L2, iterations: int = 50) -> Linear:
    """Weighted logistic regression on standardised features (the ``bias`` column kept as is), L2-penalised
    except for the bias, by Newton's method: the same data always gives the same weights."""
    x = rows.astype(np.float64)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    bias = [i for i, n in enumerate(names) if n == "bias"]
    mean[bias], scale[bias] = 0.0, 1.0
    scale[scale < 1e-6] = 1.0
    z = (x - mean) / scale
    w = np.zeros(z.shape[1])
    penalty = np.full(z.shape[1], l2)
    penalty[bias] = 0.0
    total = weights.sum()
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ w, -30, 30)))
        gradient = z.T @ (weights * (p - labels)) / total + penalty * w / total
        hessian = (z * (weights * p * (1 - p))[:, None]).T @ z / total + np.diag(penalty / total + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-7:
            break
    return Linear(names, mean.astype(np.float32), scale.astype(np.float32), w.astype(np.float32))


def fit_listwise(examples: Sequence[Example], names: tuple[str, ...], l2: float = L2,
                 iterations: int = 50) -> Linear:
    """A linear score over standardised features that ranks each question's candidates: a softmax over the
    candidates of each answerable question with a gold candidate, each gold sentence an equal share of the target
    (so the loss is convex), each question weighed by its set (:func:`_weight`), L2-penalised; by Newton's method,
    so the same data always gives the same weights. The score is shift-invariant within a question: the ``bias``
    weight stays 0 (the calibration adds one)."""
    asked = [e for e in examples if e.answerable and len(e.labels) and e.labels.max() > 0]
    if not asked:
        raise EvalInputError("no answerable question has an answering sentence among its candidates: nothing to rank")
    x = np.vstack([e.candidates.rows for e in asked]).astype(np.float64)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    z = (x - mean) / scale
    z[:, [i for i, n in enumerate(names) if n == "bias"]] = 0.0
    starts = np.cumsum([0] + [len(e.labels) for e in asked])[:-1]
    question = np.repeat(np.arange(len(asked)), [len(e.labels) for e in asked])
    gold = np.concatenate([e.labels > 0 for e in asked]).astype(np.float64)
    target = gold / np.add.reduceat(gold, starts)[question]
    weight = np.asarray([_weight(e) for e in asked])
    weight *= len(asked) / weight.sum()

    def log_softmax(w: np.ndarray) -> np.ndarray:
        s = z @ w
        s = s - np.maximum.reduceat(s, starts)[question]
        return s - np.log(np.add.reduceat(np.exp(s), starts))[question]

    def loss(w: np.ndarray) -> float:
        return float(-(weight[question] * target * log_softmax(w)).sum() + l2 / 2 * w @ w)

    w = np.zeros(z.shape[1])
    current = loss(w)
    for _ in range(iterations):
        p = np.exp(log_softmax(w))
        gradient = z.T @ (weight[question] * (p - target)) + l2 * w
        mean_z = np.add.reduceat(p[:, None] * z, starts)  # per question, the expected feature row
        hessian = ((z * (weight[question] * p)[:, None]).T @ z - (mean_z * weight[:, None]).T @ mean_z
                   + l2 * np.eye(len(w)))
        step = np.linalg.solve(hessian, gradient)
        # damped: the full Newton step when it lowers the loss (it always has, near the optimum), else halved
        # until it does (features that nearly repeat others once sent the undamped steps off to thousands)
        for _ in range(30):
            trial = loss(w - step)
            if trial <= current:
                break
            step = step / 2
        else:
            break  # no step lowers the loss: at the optimum, as far as float64 tells
        w -= step
        current = trial
        if np.abs(step).max() < 1e-7:
            break
    return Linear(names, mean.astype(np.float32), scale.astype(np.float32), w.astype(np.float32))


def slope(calibration: Linear) -> float:
    """How the calibrated logit moves with the ranking score within one question (where the score and its gap to
    the best move together): positive, or the calibration would reverse the ranker's order."""
    per = {name: float(w / s) for name, w, s in zip(calibration.names, calibration.weights, calibration.scale,
                                                     strict=True)}
    return per["score"] + per["score_gap"]


def fit_calibration(rows: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> Linear:
    """The logistic calibration of the ranking score (:data:`CALIBRATION_FEATURES`), kept monotone: should the
    score and its gap pull against each other so that a higher score gave a lower probability within a question,
    it is fitted on the score alone (the gap column held at 0), which a ranker worth its name rises with."""
    calibration = fit_logistic(rows, labels, weights, CALIBRATION_FEATURES)
    if slope(calibration) > 0:
        return calibration
    flat = rows.copy()
    flat[:, CALIBRATION_FEATURES.index("score_gap")] = 0.0
    calibration = fit_logistic(flat, labels, weights, CALIBRATION_FEATURES)
    if slope(calibration) <= 0:
        raise EvalInputError("the sentences' ranking score does not rise with their answering: nothing to calibrate")
    return calibration


def _weight(example: Example) -> float:
    return SET_WEIGHT.get(example.set, DEFAULT_WEIGHT)


WITHHELD = "-withheld"  # the name of a set made by withholding its gold passages: "squad2" -> "squad2-withheld"


def withhold_gold(examples: Sequence[Example], names: Sequence[str]) -> list[Example]:
    """The set ``<name>-withheld`` of each set in ``names``: every answerable question as asked (answerable), and
    the same question with each retrieved passage that holds a gold sentence taken away (unanswerable), when
    another passage remains. What remains is on topic, often from the same article, and does not hold the
    answer: the question a user writes about a document that looks answerable and is not, which neither
    CLAPnq's search queries nor SQuAD's own unanswerable questions (two articles, the answer's paragraph kept)
    teach. Only the answerable model and the refusal threshold learn from these (:func:`fit`); they share their
    question's fold group, so a fold never sees its own held-out questions this way either."""
    out: list[Example] = []
    wanted = set(names)
    for e in examples:
        if e.set not in wanted or not e.answerable:
            continue
        name = e.set + WITHHELD
        out.append(replace(e, id=e.id + ":asked", set=name))
        answering = e.answering_passages()
        kept = [p for i, p in enumerate(e.passages) if i not in answering]
        if kept and len(kept) < len(e.passages):
            withheld = replace(e, id=e.id + ":withheld", set=name, answerable=False, answers=[], gold=[],
                               passages=kept, texts=[p.chunk.text for p in kept],
                               retrieved=[(p.chunk.doc_id, p.chunk.start, p.chunk.end) for p in kept]).refeaturize()
            if len(withheld.candidates.items):
                out.append(withheld)
    return out


def fit(examples: Sequence[Example], recipe: dict[str, Any]) -> JudgeModel:
    """The three models and both thresholds from ``examples``. The sentence model (its ranker from the answerable
    questions, its calibration from every candidate) and the confidence model learn from the question sets as
    they are; the answerable model and the refusal threshold from the sets of
    ``recipe["abstention_sets"]`` only (all sets when none is named): CLAPnq and SQuAD with its gold passages
    withheld (:func:`withhold_gold`). SQuAD 2.0's own unanswerable questions come from two of its ten articles,
    and fitting on them made abstention worse on the held-out folds of both sets (evals/README.md). The sentence
    threshold is chosen on the sets of ``recipe["sentence_sets"]`` (all sets when none is named)."""
    with_candidates = [e for e in examples if len(e.candidates.items)]
    base = [e for e in with_candidates if not e.set.endswith(WITHHELD)]
    labels = np.concatenate([e.labels for e in base])
    # each question weighs the same whatever its number of candidates (times its set's weight)
    weights = np.concatenate([np.full(len(e.labels), _weight(e) / len(e.labels)) for e in base])
    weights *= len(base) / max(1e-9, weights.sum())
    ranker = fit_listwise(base, FEATURES)
    pointwise = fit_logistic(np.vstack([e.candidates.rows for e in base]), labels, weights, FEATURES)
    calibration = fit_calibration(np.vstack([calibration_rows(ranker.score(e.candidates.rows)) for e in base]),
                                  labels, weights)
    sentence = SentenceModel(ranker, pointwise, calibration)
    # each question's row for the question-level models, from the pointwise probabilities, computed once
    question_rows = {id(e): question_features(e.candidates, pointwise.predict(e.candidates.rows))
                     for e in with_candidates}
    abstaining = in_sets(with_candidates, recipe.get("abstention_sets"))
    a_rows = np.vstack([question_rows[id(e)] for e in abstaining])
    # balanced: answerable and unanswerable questions weigh the same in each set
    names = tuple(recipe.get("answerable_features") or ANSWERABLE_FEATURES)
    answerable = fit_logistic(answerable_row(a_rows, names), np.asarray([float(e.answerable) for e in abstaining]),
                              np.asarray([_weight(e) for e in abstaining]) * _balance(abstaining), names)
    q_rows = np.vstack([question_rows[id(e)] for e in base])
    # the confidence is that the sentence said (the ranker's best) answers: it reads that sentence's probability
    said = [sentence.predict(e.candidates.rows) for e in base]
    best_gold = np.asarray([float(e.answerable and e.labels[int(np.argmax(p))] > 0) for e, p in zip(base, said,
                                                                                                    strict=True)])
    confidence = fit_logistic(
        confidence_rows(q_rows, answerable.predict(answerable_row(q_rows, names)), np.asarray([p.max() for p in said])),
        best_gold, np.asarray([_weight(e) for e in base]), CONFIDENCE_FEATURES)
    model = JudgeModel(sentence, answerable, confidence, 0.5, 0.5, recipe)
    refuse_threshold = choose_refuse_threshold(abstaining, model)
    sentence_threshold = choose_sentence_threshold(in_sets(base, recipe.get("sentence_sets")), model, refuse_threshold)
    return JudgeModel(sentence, answerable, confidence, sentence_threshold, refuse_threshold, recipe)


def in_sets(examples: Sequence[Example], names: Sequence[str] | None) -> list[Example]:
    """The examples of the sets ``names`` (all of them when none is named or present)."""
    wanted = set(names or ())
    return [e for e in examples if e.set in wanted] or list(examples)


def _balance(examples: Sequence[Example]) -> np.ndarray:
    """Per question, the weight that makes each set's answerable and unanswerable halves weigh the same."""
    counts: dict[tuple[str, bool], int] = {}
    for e in examples:
        counts[(e.set, e.answerable)] = counts.get((e.set, e.answerable), 0) + 1
    sizes = {name: sum(n for (s, _), n in counts.items() if s == name) for name, _ in counts}
    return np.asarray([sizes[e.set] / (2 * counts[(e.set, e.answerable)]) for e in examples])


# --- deciding and scoring ----------------------------------------------------------------------------------------
@dataclass
class Decision:
    answerable: float
    confidence: float
    chosen: list[int]  # candidate indices said, in document order; empty for a refusal
    best: int  # the best candidate (the closest passage of a refusal)


@dataclass
class Judged:
    """An example with the model's outputs, computed once."""

    example: Example
    probabilities: np.ndarray
    answerable: float
    confidence: float


def judged(examples: Sequence[Example], model: JudgeModel) -> list[Judged]:
    out = []
    for e in examples:
        if len(e.candidates.items):
            out.append(Judged(e, *model.judge(e.candidates)))
    return out


def decide(item: Judged, model: JudgeModel, sentence_threshold: float, refuse_threshold: float,
           max_sentences: int = MAX_SENTENCES) -> Decision:
    """What the extractive answerer does with this question (the rule of ``ExtractiveAnswerer.select``)."""
    from service.answer.extractive import choose

    e, p = item.example, item.probabilities
    best = int(np.argmax(p))
    if not model.answers(item.answerable, item.confidence, refuse_threshold):
        return Decision(item.answerable, item.confidence, [], best)
    keys = [(c.doc_id, e.spans[i][1], float(p[i])) for i, c in enumerate(e.candidates.items)]
    return Decision(item.answerable, item.confidence, choose(keys, best, sentence_threshold, max_sentences), best)


def score_rows(examples: Sequence[Example], decisions: Sequence[Decision], text: bool = True) -> list[dict[str, Any]]:
    """``citeqa eval``'s per-question rows (:func:`service.evaluation.scores.score_question`) for these decisions;
    without ``text``, the answer-text scores (token F1, ROUGE-L: most of the cost) are left at 0."""
    rows = []
    for e, d in zip(examples, decisions, strict=True):
        cited = [e.spans[i] for i in d.chosen]
        said = " ".join(e.candidates.items[i].text for i in d.chosen) if text else ""
        rows.append(scores.score_question(
            answerable=e.answerable, refused=not d.chosen, gold=e.gold, answers=e.answers, retrieved=e.retrieved,
            cited=cited, answer=said,
            markers_resolved=len(cited), markers_dropped=0, sentences_supported=[True] * len(cited),
        ))
    return rows


def choose_refuse_threshold(examples: Sequence[Example], model: JudgeModel) -> float:
    """The refusal threshold with the best balanced abstention accuracy, the mean over the sets of ``examples``
    (the abstention sets of the fitted folds)."""
    items = judged(examples, model)
    names = sorted({item.example.set for item in items})
    best_refuse, best_accuracy = 0.5, -1.0
    for threshold in np.round(np.arange(0.05, 0.951, 0.01), 2):
        accuracy = 0.0
        for name in names:
            part = [item for item in items if item.example.set == name]
            yes = [model.answers(item.answerable, item.confidence, threshold) for item in part
                   if item.example.answerable]
            no = [not model.answers(item.answerable, item.confidence, threshold) for item in part
                  if not item.example.answerable]
            accuracy += 0.5 * ((sum(yes) / len(yes) if yes else 0.0) + (sum(no) / len(no) if no else 0.0))
        if accuracy > best_accuracy + 1e-9:
            best_refuse, best_accuracy = float(threshold), accuracy
    return best_refuse


def choose_sentence_threshold(examples: Sequence[Example], model: JudgeModel, refuse_threshold: float) -> float:
    """The sentence threshold with the best min(citation precision / 0.80, citation recall / 0.60), summed over the
    sets of ``examples``, on the answerable questions answered at ``refuse_threshold``."""
    items = judged(examples, model)
    names = sorted({item.example.set for item in items})
    answered = [item for item in items
                if item.example.answerable and model.answers(item.answerable, item.confidence, refuse_threshold)]
    best_sentence, best_goal = 0.5, -1.0
    for threshold in np.round(np.arange(0.1, 0.91, 0.05), 2):
        goal = 0.0
        for name in names:
            part = [item for item in answered if item.example.set == name]
            if not part:
                continue
            decisions = [decide(item, model, float(threshold), refuse_threshold) for item in part]
            summary = scores.summarize(score_rows([item.example for item in part], decisions, text=False))
            goal += min((summary["citation_precision"] or 0) / 0.80, (summary["citation_recall"] or 0) / 0.60)
        if goal > best_goal + 1e-9:
            best_sentence, best_goal = float(threshold), goal
    return best_sentence


def folds(examples: Sequence[Example]) -> dict[tuple[str, str], int]:
    """The fold of each (set, group): a set's groups (SQuAD's articles, a folder's documents, others' questions)
    in sorted order, dealt round-robin, so the folds are as even as the groups allow."""
    out: dict[tuple[str, str], int] = {}
    for name in sorted({e.set for e in examples}):
        groups = sorted({e.group for e in examples if e.set == name},
                        key=lambda g: hashlib.sha256(g.encode()).hexdigest() if name != "squad2" else g)
        out.update({(name, group): i % FOLDS for i, group in enumerate(groups)})
    return out


def judged_out_of_fold(examples: Sequence[Example], recipe: dict[str, Any],
                       sets: Collection[str] | None = None) -> list[tuple[Judged, JudgeModel]]:
    """Each example (of ``sets``; all when None) judged by the model fitted on the other folds, with that model."""
    out: list[tuple[Judged, JudgeModel]] = []
    fold_of = folds(examples)
    for fold in range(FOLDS):
        train = [e for e in examples if fold_of[(e.set, e.group)] != fold]
        held = [e for e in examples if fold_of[(e.set, e.group)] == fold and len(e.candidates.items)
                and (sets is None or e.set in sets)]
        model = fit(train, recipe)
        out += [(item, model) for item in judged(held, model)]
    return out


def cross_validate(examples: Sequence[Example], recipe: dict[str, Any]) -> dict[str, list[tuple[Example, Decision]]]:
    """Each example decided by the model fitted on the other folds: {set name: [(example, decision)]}."""
    out: dict[str, list[tuple[Example, Decision]]] = {}
    for item, model in judged_out_of_fold(examples, recipe):
        decision = decide(item, model, model.sentence_threshold, model.refuse_threshold)
        out.setdefault(item.example.set, []).append((item.example, decision))
    return out


def auroc(scores: Sequence[float], positives: Sequence[bool]) -> float | None:
    """The probability that a positive scores above a negative (ties count half)."""
    pos = [s for s, y in zip(scores, positives, strict=True) if y]
    neg = [s for s, y in zip(scores, positives, strict=True) if not y]
    if not pos or not neg:
        return None
    order = np.argsort(np.asarray(pos + neg), kind="stable")
    ranks = np.empty(len(order))
    values = np.asarray(pos + neg)[order]
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[i]:
            j += 1
        ranks[order[i: j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def fold_report(folded: dict[str, list[tuple[Example, Decision]]]) -> dict[str, dict[str, Any]]:
    """Per set: top-1 (the best-rated candidate is gold, answerable questions), the eval's citation and abstention
    metrics, the confidence's AUROC (answerable vs not) and its calibration, and today's cosine for comparison."""
    from service.evaluation import harness

    column = FEATURES.index("cos_s")
    report: dict[str, dict[str, Any]] = {}
    for name, pairs in sorted(folded.items()):
        examples = [e for e, _ in pairs]
        decisions = [d for _, d in pairs]
        answerable = [(e, d) for e, d in pairs if e.answerable]
        summary = scores.summarize(score_rows(examples, decisions))
        cosine_best = [int(np.argmax(e.candidates.rows[:, column])) for e in examples]
        report[name] = {
            "questions": len(pairs),
            "answerable": len(answerable),
            "top1": float(np.mean([e.labels[d.best] > 0 for e, d in answerable])),
            # the "the top-ranked sentence holds the answer": gold, or another that states a gold answer
            "top1_answer": float(np.mean([e.labels[d.best] > 0 or scores.holds_answer(
                e.candidates.items[d.best].text, e.answers) for e, d in answerable])),
            "top1_cosine": float(np.mean([e.labels[b] > 0 for e, b in zip(examples, cosine_best, strict=True)
                                          if e.answerable])),
            "gold_in_candidates": float(np.mean([e.labels.max() > 0 for e, _ in answerable])),
            "auroc": auroc([d.answerable for d in decisions], [e.answerable for e in examples]),
            "auroc_confidence": auroc([d.confidence for d in decisions], [e.answerable for e in examples]),
            "auroc_cosine": auroc([float(e.candidates.rows[:, column].max()) for e in examples],
                                  [e.answerable for e in examples]),
            "reliability": harness.reliability([(d.confidence, bool(e.answerable and e.labels[d.best] > 0))
                                        for e, d in pairs if d.chosen]),
            **{key: summary[key] for key in ("citation_precision", "citation_recall", "abstention_balanced_accuracy",
                                             "refused_unanswerable", "answered_answerable", "recall@5",
                                             "citations_per_answer")},
        }
    return report


# --- the reader --------------------------------------------------------------------------------------------------
def read_out_of_fold(examples: Sequence[Example], seed: int, echo: Callable[[str], None],
                     cache: Path | None = None) -> tuple[list[Example], ReaderWeights]:
    """The examples with their reader features, each from the reader fitted on the other folds (so the models
    stacked on them, and the fold figures, see only held-out reader scores), and the reader fitted on all of
    them, which the packaged judge reads with. With ``cache`` (a folder), the readers' outputs are kept there
    under a key of everything they are trained from (:func:`reader_key`) and reused: refitting the logistic
    models then takes a minute, not fifteen."""
    kept = cache / f"reader-{reader_key(examples, seed)}.pkl" if cache is not None else None
    if kept is not None and kept.is_file():
        echo(f"readers: reusing {kept}")
        saved = pickle.loads(kept.read_bytes())
        logits, final = saved["logits"], ReaderWeights(saved["weights"])
    else:
        found = reader_training.pieces(examples)
        fold_of = folds(examples)
        logits = {}
        for fold in range(FOLDS):
            echo(f"reader, fold {fold + 1}/{FOLDS}:")
            reader = reader_training.train([e for e in examples if fold_of[(e.set, e.group)] != fold], found, seed,
                                           echo=echo)
            logits.update(reader_training.logits(reader, found,
                                                 [e for e in examples if fold_of[(e.set, e.group)] == fold]))
        echo("reader, all folds:")
        final = reader_training.export(reader_training.train(examples, found, seed, echo=echo))
        if kept is not None:
            kept.parent.mkdir(parents=True, exist_ok=True)
            temporary = kept.with_suffix(".tmp")
            temporary.write_bytes(pickle.dumps({"logits": logits, "weights": final.arrays}))
            temporary.replace(kept)
    return [replace(e, reader_logits=logits.get(e.id, {})).refeaturize() for e in examples], final


def reader_key(examples: Sequence[Example], seed: int) -> str:
    """A digest of what the readers are trained from: the recipe, the seed, the folds, the reader's code, and each
    question with its candidates, labels and passages (what :func:`reader_training.targets` reads)."""
    from service.answer import reader

    digest = hashlib.sha256()
    for source in (reader_training.__file__, reader.__file__):
        digest.update(Path(source).read_bytes())
    digest.update(repr((sorted(reader_training.RECIPE.items()), seed, FOLDS)).encode())
    for e in examples:
        digest.update(repr((e.id, e.set, e.group, e.question, e.answerable, e.gold, e.retrieved,
                            [(c.passage, c.text) for c in e.candidates.items])).encode())
        digest.update(e.labels.astype(np.float32).tobytes())
    return digest.hexdigest()[:16]


# --- the command -------------------------------------------------------------------------------------------------
@dataclass
class TrainRequest:
    sets: list[tuple[str, Path, Path]]  # (name, corpus, questions)
    out: Path
    k: int = 5
    limit: int | None = None
    cache: Path | None = None
    seed: int = 0
    abstention_sets: tuple[str, ...] = ("clapnq", "squad2" + WITHHELD)
    withheld_sets: tuple[str, ...] = ("squad2",)  # sets whose gold passages are withheld (withhold_gold)
    answerable_features: tuple[str, ...] = ANSWERABLE_FEATURES  # what the answerable model reads
    # the sets the sentence threshold is chosen on (all when empty). With SQuAD and docs, whose gold is the one
    # sentence that answers, beside CLAPnq (2.7 sentences a question) it is 0.55-0.65 (by the draw): one sentence
    # an answer (evals/README.md); with squad2 and clapnq only it was 0.25, two sentences an answer
    sentence_sets: tuple[str, ...] = ()


def text_versions() -> str:
    """The loaders' and the splitter's versions: how a corpus's text and sentences were read."""
    from ingest.chunking import SPLITTER_VERSION
    from ingest.loaders import LOADER_VERSION

    return f"{LOADER_VERSION}; {SPLITTER_VERSION}"


def retrieval_code() -> str:
    """A digest of the code that ranks and fuses what is retrieved (:mod:`service.answer.retrieval`)."""
    from service.answer import retrieval

    return hashlib.sha256(Path(retrieval.__file__).read_bytes()).hexdigest()[:16]


def cache_file(cache: Path, name: str, corpus: Path, questions: bytes, k: int, limit: int | None,
               settings: Any) -> Path:
    """Where ``--cache`` keeps a question file's retrieved candidates: by set name and a digest of the corpus's path,
    the questions (a set may span several corpora, like docs) and what retrieval reads them with (the loaders' and
    splitter's versions, the encoder, the chunk size, the retrieval mode and its fusion settings, the retrieval
    code: a change to any of them retrieves again), ``k`` and ``limit``."""
    reading = (f"{text_versions()}; {settings.embedding_model}; {settings.encoder}; "
               f"{settings.chunk_max_tokens}; {settings.retrieval_mode}; {settings.sentence_vectors}; "
               f"{settings.candidates}; {settings.rrf_k}; {retrieval_code()}")
    key = hashlib.sha256(str(corpus.resolve()).encode() + questions + reading.encode()).hexdigest()[:8]
    return cache / f"{name}-{key}-{k}-{limit}.pkl"


def train(settings: Any, request: TrainRequest, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Collect, cross-validate, fit on everything, write the model; returns the fold report."""
    started = time.perf_counter()
    examples: list[Example] = []
    counts: list[int] = []
    digests: list[str] = []
    for name, corpus, questions in request.sets:
        asked = questions.read_bytes()
        digests.append(hashlib.sha256(asked).hexdigest()[:16])
        cache = (cache_file(request.cache, name, corpus, asked, request.k, request.limit, settings)
                 if request.cache else None)
        if cache is not None and cache.is_file():
            found = [e.refeaturize() for e in load_cached(cache.read_bytes())]
        else:
            echo(f"{name}: retrieving and judging the questions of {questions} ...")
            found = collect(settings, corpus, questions, name, request.k, request.limit, _bar(name))
            if cache is not None:
                cache.parent.mkdir(parents=True, exist_ok=True)
                cache.write_bytes(pickle.dumps(found))
        examples += found
        counts.append(len(found))
    seen: set[tuple[str, str]] = set()
    for e in examples:  # the readers' outputs and the folds know a question by its set and id
        if (e.set, e.id) in seen:
            raise EvalInputError(f"question id {e.id!r} appears twice in the set {e.set!r}")
        seen.add((e.set, e.id))
    examples, reader = read_out_of_fold(examples, request.seed, echo, request.cache)
    examples += withhold_gold(examples, request.withheld_sets)
    from service.answer.judge import FEATURE_VERSION

    recipe = {
        "name": "features+listwise", "feature_version": FEATURE_VERSION, "sets": [
            {"name": name, "questions": f"{questions.parent.name}/{questions.name}",
             "sha256": digest, "count": count, "limit": request.limit}
            for (name, _, questions), count, digest in zip(request.sets, counts, digests, strict=True)],
        "abstention_sets": list(request.abstention_sets), "withheld_sets": list(request.withheld_sets),
        "answerable_features": list(request.answerable_features), "sentence_sets": list(request.sentence_sets),
        "k": request.k, "folds": FOLDS, "l2": L2,
        "seed": request.seed, "retrieval_mode": settings.retrieval_mode, "encoder": settings.encoder,
        "embedding_model": settings.embedding_model, "chunk_max_tokens": settings.chunk_max_tokens,
        "sentence_vectors": "pooled" if settings.sentence_vectors else "computed",
        "text": text_versions(), "reader": reader_training.RECIPE,
    }
    report = fold_report(cross_validate(examples, recipe))
    model = replace(fit(examples, recipe), reader=reader)
    model.save(request.out)
    echo(f"wrote {request.out} in {time.perf_counter() - started:.0f} s (sentence threshold "
         f"{model.sentence_threshold}, refusal threshold {model.refuse_threshold})")
    return report


def _bar(name: str) -> Callable[[int, int], None]:
    state: dict[str, Any] = {}

    def update(n: int, total: int) -> None:
        if "bar" not in state and sys.stderr.isatty():
            from tqdm import tqdm

            state["bar"] = tqdm(total=total, unit="question", desc=name, file=sys.stderr)
        if "bar" in state:
            state["bar"].update(1)
            if n == total:
                state["bar"].close()

    return update


def format_report(report: dict[str, dict[str, Any]]) -> str:
    """The fold figures as a plain table, one column per question set."""
    keys = [("questions", "questions"), ("top1", "top-1 gold (judge)"),
            ("top1_answer", "top-1 holds an answer"), ("top1_cosine", "top-1 gold (cosine)"),
            ("gold_in_candidates", "gold among candidates"), ("auroc", "AUROC answerable (judge)"),
            ("auroc_cosine", "AUROC answerable (cosine)"), ("citation_precision", "citation precision"),
            ("citation_recall", "citation recall"), ("abstention_balanced_accuracy", "balanced abstention"),
            ("citations_per_answer", "citations per answer")]
    names = sorted(report)
    lines = [["held-out folds"] + names]
    for key, label in keys:
        lines.append([label] + [fmt(report[name].get(key)) for name in names])
    widths = [max(len(row[i]) for row in lines) for i in range(len(lines[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in lines)
