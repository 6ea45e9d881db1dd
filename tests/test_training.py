"""The judge's training (service/evaluation/training.py), on hand-made examples: no model, no store."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ingest.chunking import split_sentences
from ingest.models import Chunk
from service.answer.judge import CALIBRATION_FEATURES, FEATURES, Candidate, Candidates
from service.answer.retrieval import Passage
from service.evaluation.inputs import EvalQuestion, Evidence
from service.evaluation.training import (
    WITHHELD,
    Example,
    cache_file,
    document_groups,
    fit_logistic,
    folds,
    withhold_gold,
)
from service.settings import Settings

ANSWER = "The lighthouse was designed by Alan Stevenson. It was lit in 1844."
TOPIC = "The lighthouse stands on a reef. Storms often cut it off from the shore."


def unit(seed: int, n: int = 1) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(n, 384)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def passage(doc_id: str, text: str, seed: int) -> Passage:
    chunk = Chunk(id=f"{doc_id}:0", doc_id=doc_id, index=0, start=0, end=len(text), text=text, title=doc_id,
                  source=f"{doc_id}.txt")
    return Passage(chunk=chunk, score=1.0, vector=unit(seed)[0], sentence_vectors=unit(seed + 1,
                                                                                       len(split_sentences(text))))


def example(answerable: bool = True) -> Example:
    passages = [passage("a", ANSWER, 1), passage("b", TOPIC, 3)]
    gold = [("a", 0, ANSWER.index(" It"))] if answerable else []
    return Example("q1", "squad2", "Lighthouse", "Who designed the lighthouse?", answerable,
                   ["Alan Stevenson"] if answerable else [], gold,
                   Candidates([], np.zeros((0, len(FEATURES)), np.float32)), np.zeros(0, np.float32), [],
                   passages=passages, question_vector=unit(9)[0]).refeaturize()


def test_withholding_gold_makes_an_unanswerable_twin_from_the_passages_that_remain() -> None:
    asked, withheld = withhold_gold([example(), example(answerable=False)], ["squad2"])
    assert asked.set == withheld.set == "squad2" + WITHHELD
    assert asked.answerable and asked.labels.max() == 1.0 and asked.group == "Lighthouse"
    assert not withheld.answerable and withheld.gold == [] and withheld.group == "Lighthouse"  # same fold
    assert [p.chunk.doc_id for p in withheld.passages] == ["b"] and withheld.retrieved == [("b", 0, len(TOPIC))]
    assert withheld.candidates.items and all(c.doc_id == "b" for c in withheld.candidates.items)
    assert withheld.labels.max() == 0.0


def test_only_named_sets_are_withheld_and_nothing_when_no_passage_would_remain() -> None:
    assert withhold_gold([example()], ["clapnq"]) == []
    alone = example()
    alone.passages = alone.passages[:1]
    assert [e.answerable for e in withhold_gold([alone], ["squad2"])] == [True]  # only the question as asked


def test_a_folder_corpus_folds_by_the_document_that_answers() -> None:
    """Questions on the same document of a folder corpus are held out together; an unanswerable question (which
    names no document) on its own; the same file name in two corpora is two documents."""
    def asked(id: str, doc: str | None) -> EvalQuestion:
        return EvalQuestion(id, "q?", [], [Evidence(doc, "x")] if doc else [], doc is not None, 1)

    groups = document_groups([asked("a1", "xz.txt"), asked("a2", "xz.txt"), asked("a3", "zlib.md"),
                              asked("u1", None)], "realdocs")
    assert groups == {"a1": "realdocs:xz.txt", "a2": "realdocs:xz.txt", "a3": "realdocs:zlib.md", "u1": "u1"}
    assert document_groups([asked("b1", "xz.txt")], "heldout") == {"b1": "heldout:xz.txt"}
    examples = [replace(example(), id=id, set="docs", group=group) for id, group in groups.items()]
    fold_of = folds(examples)
    assert fold_of[("docs", "realdocs:xz.txt")] in range(5) and len(set(fold_of.values())) == 3


def test_the_candidates_cache_is_keyed_by_what_retrieval_reads_them_with(tmp_path, monkeypatch) -> None:
    """A cache made with another corpus, other questions, another encoder, chunk size or fusion, or by other
    retrieval code, is not reused."""
    settings = Settings(data_dir=tmp_path)
    corpus, asked = tmp_path / "docs", b'{"id": "q1"}\n'
    kept = cache_file(tmp_path, "docs", corpus, asked, 5, None, settings)
    assert kept == cache_file(tmp_path, "docs", corpus, asked, 5, None, Settings(data_dir=tmp_path))
    assert kept.name.startswith("docs-") and kept.name.endswith("-5-None.pkl")
    others = [cache_file(tmp_path, "docs", tmp_path / "other", asked, 5, None, settings),
              cache_file(tmp_path, "docs", corpus, asked + b"\n", 5, None, settings),
              *(cache_file(tmp_path, "docs", corpus, asked, 5, None, settings.model_copy(update=change))
                for change in ({"chunk_max_tokens": 128}, {"encoder": "torch"}, {"rrf_k": 30}, {"candidates": 50}))]
    assert kept not in others and len(set(others)) == len(others)
    from service.evaluation import training

    monkeypatch.setattr(training, "retrieval_code", lambda: "other code")
    assert cache_file(tmp_path, "docs", corpus, asked, 5, None, settings) not in [kept, *others]


def synthetic(seed: int, count: int = 300) -> list[Example]:
    """Questions of six candidates each: column ``lex_s`` says which candidate answers (noisily), column ``cos_p``
    only how high every candidate of a question scores (a level shared within the question, unrelated to which
    one answers); a third of the questions are unanswerable."""
    rng = np.random.default_rng(seed)
    lex, level = FEATURES.index("lex_s"), FEATURES.index("cos_p")
    out = []
    for i in range(count):
        rows = rng.normal(size=(6, len(FEATURES))).astype(np.float32) * 0.1
        rows[:, FEATURES.index("bias")] = 1.0
        answerable = i % 3 != 0
        labels = np.zeros(6, np.float32)
        if answerable:
            labels[rng.integers(6)] = 1.0
        rows[:, lex] += labels * 1.0 + rng.normal(size=6).astype(np.float32) * 0.6
        rows[:, level] = rng.normal() * 3 + (1.5 if answerable else 0.0)
        candidates = Candidates([Candidate(0, j, "d", 0, 1, f"s{j}", 0.0) for j in range(6)], rows)
        spans = [(f"d{i}", 10 * j, 10 * j + 9) for j in range(6)]
        gold = [spans[int(np.argmax(labels))]] if answerable else []
        out.append(Example(f"q{i}", "squad2", f"a{i % 5}", "?", answerable, [], gold, candidates, labels, spans))
    return out


def test_the_listwise_ranker_ranks_by_what_tells_candidates_of_one_question_apart() -> None:
    """Fitted listwise, the ranker weighs what separates a question's answering sentence from its neighbours and
    nothing that only moves a whole question up or down; the calibrated probability keeps its order."""
    from service.evaluation.training import fit_listwise

    ranker = fit_listwise(synthetic(0), FEATURES)
    weights = dict(zip(FEATURES, ranker.weights, strict=True))
    assert weights["lex_s"] > 1.0 and abs(weights["cos_p"]) < 1e-6 and weights["bias"] == 0.0
    held = [e for e in synthetic(1) if e.answerable]
    top1 = np.mean([e.labels[int(np.argmax(ranker.score(e.candidates.rows)))] > 0 for e in held])
    assert top1 > 0.6  # chance is 1/6
    again = fit_listwise(synthetic(0), FEATURES)
    assert np.array_equal(again.weights, ranker.weights)  # Newton's method: the same data, the same weights


def test_the_fitted_sentence_model_says_the_ranked_best_and_the_question_models_read_the_pointwise_one() -> None:
    from service.answer.judge import JudgeModel
    from service.evaluation.training import fit

    examples = synthetic(2)
    model = fit(examples, {"abstention_sets": None})
    for e in examples[:30]:
        p = model.sentence.predict(e.candidates.rows)
        assert np.all((0 <= p) & (p <= 1))
        assert np.argsort(-p).tolist() == np.argsort(-model.sentence.ranker.score(e.candidates.rows)).tolist()
    again = JudgeModel.from_json(model.to_json())
    rows = examples[0].candidates.rows
    assert np.allclose(again.sentence.predict(rows), model.sentence.predict(rows))
    assert np.allclose(again.sentence.pointwise.predict(rows), model.sentence.pointwise.predict(rows))


def test_the_calibration_never_reverses_the_rankers_order() -> None:
    """Labels that rise with the score but fall, more steeply, with its gap to the best would give a calibration
    that reverses the order within a question; it is then fitted on the score alone. A score that falls as the
    answering rises cannot be calibrated at all: a clear error."""
    import pytest

    from service.evaluation.inputs import EvalInputError
    from service.evaluation.training import fit_calibration, slope

    rng = np.random.default_rng(3)
    score, gap = rng.normal(size=(2, 2000)).astype(np.float32)
    labels = (rng.random(2000) < 1 / (1 + np.exp(-(score - 3.0 * gap)))).astype(np.float32)
    rows = np.column_stack([np.ones(2000, np.float32), score, gap])
    assert slope(fit_logistic(rows, labels, np.ones(2000), CALIBRATION_FEATURES)) < 0  # as fitted, reversed
    calibration = fit_calibration(rows, labels, np.ones(2000))
    assert slope(calibration) > 0 and abs(float(calibration.weights[2])) < 1e-6
    with pytest.raises(EvalInputError, match="does not rise"):
        fit_calibration(np.column_stack([np.ones(2000, np.float32), -score, gap]), labels, np.ones(2000))
