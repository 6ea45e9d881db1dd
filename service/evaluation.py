"""``citeqa eval``: run a question set through the answer pipeline and score its citations.

1. :func:`load_questions` reads the question file (the format of ``shared/eval/clapnq/README.md``: one JSON
   object a line with ``id``, ``question``, ``answers``, ``evidence`` [{``doc``, ``text``}], ``answerable``);
   every malformed line is reported with its number and nothing runs.
2. :func:`load_corpus` reads the corpus (a ``.jsonl`` corpus, a folder or a file) with the ingestion loaders, and
   :func:`locate_gold` finds each gold sentence's character span in its document (``evidence[].doc`` names a
   document by id or by its ``source`` path); a gold sentence that cannot be found stops the run too.
3. A target answers the questions: :class:`LocalTarget` ingests the corpus into a collection of its own (named
   from the corpus path and the chunking settings, so an unchanged corpus is reused and embeds nothing) and
   calls the very :class:`~service.pipeline.AskPipeline` behind ``POST /ask``; :class:`HttpTarget` posts to a
   running service's ``/ask``.
4. :func:`evaluate` scores each answer (:mod:`service.metrics`, :mod:`service.judge`) and summarises.

Everything is deterministic for the same inputs: questions are sampled with ``--seed`` and run in file order.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ingest.loaders import LoadProblem, load_path
from ingest.models import Document
from service import metrics
from service.citations import MARKER
from service.errors import CiteqaError

log = logging.getLogger(__name__)

RETRIEVAL_DEPTH = 10  # retrieved chunks kept per question for recall@k and MRR (k <= 10)
MODES = ("dense", "bm25", "hybrid")
EMBEDDING_CACHE = 100_000  # texts (~150 MB of vectors)


class EvalInputError(CiteqaError):
    """The question file or the corpus cannot be evaluated; ``problems`` lists each with its line."""

    code = "eval_input"

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


# --- questions -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Evidence:
    doc: str
    text: str


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    question: str
    answers: list[str]
    evidence: list[Evidence]
    answerable: bool
    line: int


def _problem_in(record: Any) -> str | None:
    if not isinstance(record, dict):
        return "expected a JSON object"
    for key in ("id", "question"):
        if not isinstance(record.get(key), str) or not record[key].strip():
            return f"'{key}' must be a non-empty string"
    if not isinstance(record.get("answerable"), bool):
        return "'answerable' must be true or false"
    answers = record.get("answers", [])
    if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
        return "'answers' must be a list of strings"
    evidence = record.get("evidence", [])
    if not isinstance(evidence, list) or not all(
        isinstance(e, dict) and isinstance(e.get("doc"), str) and isinstance(e.get("text"), str)
        and e["doc"].strip() and e["text"].strip() for e in evidence
    ):
        return "'evidence' must be a list of {\"doc\": string, \"text\": string}"
    if record["answerable"] and not evidence:
        return "an answerable question needs at least one 'evidence' sentence"
    if not record["answerable"] and evidence:
        return "an unanswerable question must have no 'evidence'"
    return None


def load_questions(path: Path) -> list[EvalQuestion]:
    """Read and check every line; raise :class:`EvalInputError` listing all bad lines (``file:line: why``)."""
    if not path.is_file():
        raise EvalInputError(f"questions file {path} does not exist")
    questions: list[EvalQuestion] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalInputError(f"cannot read {path}: {exc}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path.name}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{where}: invalid JSON ({exc.msg} at column {exc.colno})")
            continue
        problem = _problem_in(record)
        if problem is None and record["id"] in seen:
            problem = f"duplicate id {record['id']!r} (first on line {seen[record['id']]})"
        if problem:
            problems.append(f"{where}: {problem}")
            continue
        seen[record["id"]] = number
        questions.append(EvalQuestion(
            id=record["id"], question=record["question"], answers=list(record.get("answers", [])),
            evidence=[Evidence(e["doc"], e["text"]) for e in record.get("evidence", [])],
            answerable=record["answerable"], line=number,
        ))
    if problems:
        raise EvalInputError(f"{path}: {len(problems)} malformed line(s); nothing was run", problems)
    if not questions:
        raise EvalInputError(f"{path} holds no questions")
    return questions


def sample(questions: Sequence[EvalQuestion], limit: int | None, seed: int) -> list[EvalQuestion]:
    """``limit`` questions drawn with ``seed``, answerable and unanswerable in their file proportions, kept in
    file order; all of them when ``limit`` is None or not smaller than the set."""
    if limit is None or limit >= len(questions):
        return list(questions)
    rng = random.Random(seed)
    answerable = [q for q in questions if q.answerable]
    unanswerable = [q for q in questions if not q.answerable]
    n_answerable = round(limit * len(answerable) / len(questions))
    if limit >= 2 and answerable and unanswerable:
        n_answerable = min(max(n_answerable, 1), limit - 1)
    picked = rng.sample(answerable, min(n_answerable, len(answerable)))
    picked += rng.sample(unanswerable, min(limit - len(picked), len(unanswerable)))
    return sorted(picked, key=lambda q: q.line)


def half_of(question_id: str) -> str:
    """A fixed split of any question set into halves "A" and "B" (by a hash of the id), for checking that a
    figure holds on both halves."""
    return "A" if hashlib.sha256(question_id.encode()).digest()[0] % 2 == 0 else "B"


# --- corpus and gold spans -----------------------------------------------------------------------------------
@dataclass
class Corpus:
    path: Path
    documents: list[Document]
    problems: list[LoadProblem] = field(default_factory=list)

    @property
    def hash(self) -> str:
        """Changes whenever any document's id or text changes."""
        digest = hashlib.sha256()
        for doc in sorted(self.documents, key=lambda d: d.id):
            digest.update(f"{doc.id}\0{doc.hash}\n".encode())
        return digest.hexdigest()


def load_corpus(path: Path) -> Corpus:
    if not path.exists():
        raise EvalInputError(f"corpus {path} does not exist")
    problems: list[LoadProblem] = []
    _, documents = load_path(path, problems)
    if not documents:
        raise EvalInputError(f"corpus {path} has no readable documents",
                             [f"{p.source}: {p.reason}" for p in problems])
    return Corpus(path=path, documents=documents, problems=problems)


def _document_index(documents: Sequence[Document]) -> dict[str, Document]:
    """Names by which ``evidence[].doc`` may refer to a document: its id, its source path, and (when unique)
    its file name and file name without extension."""
    index: dict[str, Document] = {}
    loose: dict[str, list[Document]] = {}
    for doc in documents:
        index[doc.id] = doc
        index.setdefault(doc.source, doc)
        name = doc.source.rsplit("/", 1)[-1]
        for alias in {name, name.rsplit(".", 1)[0]}:
            loose.setdefault(alias, []).append(doc)
    for alias, docs in loose.items():
        if len(docs) == 1:
            index.setdefault(alias, docs[0])
    return index


def locate_gold(questions: Sequence[EvalQuestion], corpus: Corpus) -> dict[str, list[metrics.Span]]:
    """Each question's gold evidence as spans ``(doc_id, start, end)`` of the corpus documents.

    A gold sentence is found by exact search in its document's text, then by a whitespace-normalised search;
    an unknown document or a sentence found in neither way stops the run (listed with the question's line).
    """
    index = _document_index(corpus.documents)
    gold: dict[str, list[metrics.Span]] = {}
    problems: list[str] = []
    for q in questions:
        spans: list[metrics.Span] = []
        for evidence in q.evidence:
            doc = index.get(evidence.doc)
            if doc is None:
                problems.append(f"line {q.line} ({q.id}): evidence document {evidence.doc!r} is not in the corpus")
                continue
            found = metrics.locate(doc.text, evidence.text)
            if found is None:
                problems.append(f"line {q.line} ({q.id}): evidence sentence not found in {evidence.doc!r}: "
                                f"{evidence.text[:60]!r}")
                continue
            spans.append((doc.id, *found))
        gold[q.id] = spans
    if problems:
        raise EvalInputError(f"{len(problems)} gold evidence sentence(s) cannot be located; nothing was run",
                             problems)
    return gold


# --- targets: what answers the questions ---------------------------------------------------------------------
@dataclass
class Outcome:
    """What the service did for one question, in the shape of the ``POST /ask`` response."""

    answer: str
    refused: bool
    model: str
    citations: list[dict[str, Any]]  # n, doc_id, start, end, quote
    sentences: list[dict[str, Any]]  # text, citations, supported
    dropped: int
    retrieved: list[metrics.Span]  # ranked, RETRIEVAL_DEPTH deep
    timings_ms: dict[str, float] = field(default_factory=dict)


class Target(Protocol):
    def describe(self) -> dict[str, Any]:
        """Settings, model and store of what is evaluated (for results.json)."""
        ...

    def answer(self, question: str, mode: str | None) -> Outcome:
        ...


def collection_name(corpus: Corpus, settings: Any) -> str:
    """The evaluation collection of a corpus: reused (and updated incrementally) while the corpus path, the
    encoder and the chunking stay the same; another chunk size or model gets a collection of its own."""
    key = "\0".join(str(part) for part in (
        corpus.path.resolve(), settings.embedding_model, getattr(settings, "encoder", "torch"),
        settings.chunk_max_tokens,
    ))
    stem = re.sub(r"[^a-zA-Z0-9]+", "-", corpus.path.stem).strip("-")[:20] or "corpus"
    return f"eval-{stem}-{hashlib.sha256(key.encode()).hexdigest()[:10]}"


class LocalTarget:
    """The corpus in a collection of its own, answered by the same :class:`AskPipeline` as ``POST /ask``."""

    def __init__(self, settings: Any, corpus: Corpus, k: int | None, progress: bool | None) -> None:
        from service import components

        self.settings = settings.model_copy(update={"collection": collection_name(corpus, settings)})
        embedder = components.build_embedder(self.settings)
        if hasattr(embedder, "_cache_size"):
            # remember every question, passage and sentence of the run: --compare's modes share most of them
            embedder._cache_size = max(embedder._cache_size, EMBEDDING_CACHE)
        self.parts = components.build(self.settings, embedder)
        self.k = k
        self.ingest = self.parts.indexer.ingest(corpus.path, progress=progress)
        log.info("eval collection %s: %s", self.settings.collection, self.ingest.summary())

    def describe(self) -> dict[str, Any]:
        s = self.settings
        return {
            "target": "local", "collection": s.collection,
            "model": self.parts.pipeline.model, "embedding_model": s.embedding_model,
            "encoder": getattr(s, "encoder", "torch"), "chunk_max_tokens": s.chunk_max_tokens,
            "top_k": self.k or s.top_k, "candidates": s.candidates, "rrf_k": s.rrf_k,
            "extractive_min_score": s.extractive_min_score, "extractive_margin": s.extractive_margin,
            "extractive_max_sentences": s.extractive_max_sentences, "ingest": self.ingest.summary(),
        }

    def answer(self, question: str, mode: str | None) -> Outcome:
        result = self.parts.pipeline.ask(question, self.k, mode=mode)  # type: ignore[arg-type]
        depth = max(RETRIEVAL_DEPTH, self.k or self.settings.top_k)
        ranking = self.parts.retriever.retrieve(question, depth, mode=mode).passages  # type: ignore[arg-type]
        return Outcome(
            answer=result.answer, refused=result.refused, model=result.model,
            citations=[{"n": c.n, "doc_id": c.doc_id, "start": c.start, "end": c.end, "quote": c.quote}
                       for c in result.citations],
            sentences=result.sentences, dropped=result.dropped_citations,
            retrieved=[(p.chunk.doc_id, p.chunk.start, p.chunk.end) for p in ranking],
            timings_ms=result.timings_ms,
        )

    @property
    def embedder(self) -> Any:
        return self.parts.embedder


class HttpTarget:
    """A running service: ``POST {url}/ask`` with ``retrieved`` asking for the ranked passages as well."""

    def __init__(self, url: str, k: int | None, api_key: str | None = None, timeout: float = 120.0) -> None:
        import httpx

        self.url = url.rstrip("/")
        self.k = k
        headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def describe(self) -> dict[str, Any]:
        return {"target": "http", "url": self.url, "top_k": self.k}

    def answer(self, question: str, mode: str | None) -> Outcome:
        import httpx

        body: dict[str, Any] = {"question": question, "retrieved": RETRIEVAL_DEPTH}
        if self.k:
            body["k"] = self.k
        try:
            response = self.client.post("/ask", json=body)
        except httpx.HTTPError as exc:
            raise EvalRunError(f"cannot reach {self.url}: {type(exc).__name__}") from None
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code != 200 or not isinstance(data, dict):
            error = (data or {}).get("error", {}) if isinstance(data, dict) else {}
            raise EvalRunError(f"{self.url}/ask answered HTTP {response.status_code}: "
                               f"{error.get('message', response.text[:200])}")
        return Outcome(
            answer=data["answer"], refused=data["refused"], model=data["model"],
            citations=[{key: c[key] for key in ("n", "doc_id", "start", "end", "quote")} for c in data["citations"]],
            sentences=data.get("sentences", []), dropped=data.get("dropped_citations", 0),
            retrieved=[(p["doc_id"], p["start"], p["end"]) for p in data.get("retrieved", [])],
            timings_ms=data.get("timings_ms", {}),
        )


class EvalRunError(CiteqaError):
    code = "eval_failed"


# --- the run -------------------------------------------------------------------------------------------------
@dataclass
class ConfigRun:
    """One configuration (a retrieval mode) over all questions."""

    name: str
    rows: list[dict[str, Any]]
    summary: dict[str, Any]
    halves: dict[str, dict[str, Any]]
    mean_timings_ms: dict[str, float]


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


def score(q: EvalQuestion, gold: list[metrics.Span], outcome: Outcome, judge: Any) -> dict[str, Any]:
    cited = [(c["doc_id"], c["start"], c["end"]) for c in outcome.citations]
    supported = judge_sentences(outcome, judge)
    row = metrics.score_question(
        answerable=q.answerable, refused=outcome.refused, gold=gold, answers=q.answers,
        retrieved=outcome.retrieved, cited=cited, answer=outcome.answer,
        markers_resolved=count_markers(outcome.answer), markers_dropped=outcome.dropped,
        sentences_supported=supported,
    )
    correct = metrics.correct_citations(cited, gold)
    return {
        "id": q.id, "question": q.question, "answerable": q.answerable, "answer": outcome.answer,
        "refused": outcome.refused, "model": outcome.model,
        "citations": [{"n": c["n"], "doc_id": c["doc_id"], "start": c["start"], "end": c["end"], "correct": ok}
                      for c, ok in zip(outcome.citations, correct, strict=True)],
        "sentences_supported": supported,
        "retrieved_docs": [span[0] for span in outcome.retrieved],
        "metrics": {key: value for key, value in row.items() if key not in ("answerable", "refused")},
        "_row": row, "_timings": outcome.timings_ms,
    }


def evaluate(
    questions: Sequence[EvalQuestion], gold: dict[str, list[metrics.Span]], target: Target,
    modes: Sequence[str | None], judge: Any, progress: bool | None = None,
    on_question: Callable[[], None] | None = None,
) -> list[ConfigRun]:
    """Answer and score every question under every mode (None: the target's own setting)."""
    runs = []
    bar = _progress_bar(len(questions) * len(modes), progress)
    try:
        for mode in modes:
            records = []
            for q in questions:
                records.append(score(q, gold[q.id], target.answer(q.question, mode), judge))
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
        half: metrics.summarize([row for row, rec in zip(rows, records, strict=True) if half_of(rec["id"]) == half])
        for half in ("A", "B")
    }
    keys = sorted({key for t in timings for key in t})
    mean_timings = {key: round(sum(t.get(key, 0.0) for t in timings) / len(timings), 2) for key in keys}
    return ConfigRun(name=name, rows=records, summary=metrics.summarize(rows), halves=halves,
                     mean_timings_ms=mean_timings)


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
    from service import report
    from service.judge import build_judge

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
    runs = evaluate(chosen, gold, target, request.modes, judge, request.progress)
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
