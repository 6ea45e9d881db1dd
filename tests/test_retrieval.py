from __future__ import annotations

import pytest

from service.retrieval import reciprocal_rank_fusion, tokenize
from tests.conftest import SEED_QUESTION


def test_rrf_scores_and_order() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["c", "a"]], k=60)
    assert [item for item, _ in fused] == ["a", "c", "b"]
    scores = dict(fused)
    assert scores["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert scores["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert scores["b"] == pytest.approx(1 / 62)


def test_rrf_ties_are_deterministic() -> None:
    assert reciprocal_rank_fusion([["x", "y"], ["y", "x"]]) == reciprocal_rank_fusion([["y", "x"], ["x", "y"]])
    assert reciprocal_rank_fusion([]) == []


def test_tokenize_drops_stop_words() -> None:
    assert tokenize("Which NATO networks would the contract cover?") == ["nato", "networks", "contract", "cover"]


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_each_mode_finds_the_seed_sentence(seeded_parts, mode: str) -> None:  # noqa: ANN001
    retrieval = seeded_parts.retriever.retrieve(SEED_QUESTION, 2, mode=mode)
    assert len(retrieval.passages) == 2
    assert any("unclassified networks" in p.chunk.text for p in retrieval.passages)


def test_document_filter_and_bm25_refresh(seeded_parts, tmp_path) -> None:  # noqa: ANN001
    other = tmp_path / "other"
    other.mkdir()
    (other / "zebra.txt").write_text("Zebras have black and white stripes. They live in Africa.")
    parts = seeded_parts
    assert not parts.retriever.bm25.search("zebras stripes", 5)
    report = parts.indexer.ingest(other, progress=False)
    zebra_id = report.added[0]
    hits = parts.retriever.bm25.search("zebras stripes", 5)  # the index notices the new revision
    assert [chunk.doc_id for chunk, _ in hits] == [zebra_id]
    only_zebra = parts.retriever.retrieve(SEED_QUESTION, 5, doc_ids=[zebra_id])
    assert {p.chunk.doc_id for p in only_zebra.passages} == {zebra_id}
