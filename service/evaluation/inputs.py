"""The inputs of ``citeqa eval``: the question file, the corpus and the gold evidence spans.

:func:`load_questions` reads the question file (the format of ``shared/eval/clapnq/README.md``: one JSON object
a line with ``id``, ``question``, ``answers``, ``evidence`` [{``doc``, ``text``}], ``answerable``); every
malformed line is reported with its number and nothing runs. :func:`load_corpus` reads the corpus with the
ingestion loaders, and :func:`locate_gold` finds each gold sentence's character span in its document.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.loaders import LoadProblem, load_path
from ingest.models import Document
from service.errors import CiteqaError
from service.evaluation import scores


class EvalInputError(CiteqaError):
    """The question file or the corpus cannot be evaluated; ``problems`` lists each with its line."""

    code = "eval_input"

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


class EvalRunError(CiteqaError):
    """The run failed part-way (e.g. the service under ``--url`` answered with an error)."""

    code = "eval_failed"


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


def locate_gold(questions: Sequence[EvalQuestion], corpus: Corpus) -> dict[str, list[scores.Span]]:
    """Each question's gold evidence as spans ``(doc_id, start, end)`` of the corpus documents.

    A gold sentence is found by exact search in its document's text, then by a whitespace-normalised search;
    an unknown document or a sentence found in neither way stops the run (listed with the question's line).
    """
    index = _document_index(corpus.documents)
    gold: dict[str, list[scores.Span]] = {}
    problems: list[str] = []
    for q in questions:
        spans: list[scores.Span] = []
        for evidence in q.evidence:
            doc = index.get(evidence.doc)
            if doc is None:
                problems.append(f"line {q.line} ({q.id}): evidence document {evidence.doc!r} is not in the corpus")
                continue
            found = scores.locate(doc.text, evidence.text)
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
