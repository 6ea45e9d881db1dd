"""The judge's training (service/evaluation/training.py), on hand-made examples: no model, no store."""

from __future__ import annotations

import numpy as np

from ingest.chunking import split_sentences
from ingest.models import Chunk
from service.answer.judge import FEATURES, Candidates
from service.answer.retrieval import Passage
from service.evaluation.training import WITHHELD, Example, withhold_gold

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
