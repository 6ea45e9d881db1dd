from __future__ import annotations

import pytest

from service.answer.retrieval import fused_top, reciprocal_rank_fusion, tokenize
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


def test_the_fused_top_keeps_each_rankings_first_hit() -> None:
    """Fusion alone ranks "z", BM25's first and nowhere in the dense ranking, below the chunks both find; the top
    keeps it in place of the lowest-fused one that is no ranking's first, in fused order with fused scores."""
    dense, bm25 = ["a", "b", "c", "d", "e"], ["z", "c", "b", "e", "a"]
    fused = reciprocal_rank_fusion([dense, bm25])
    assert "z" not in [cid for cid, _ in fused[:4]]
    top = fused_top([dense, bm25], 4)
    assert [cid for cid, _ in top] == [cid for cid, _ in fused if cid in {"a", "b", "c", "z"}]
    assert dict(top)["z"] == dict(fused)["z"]
    assert fused_top([dense, dense], 3) == fused[:0] + reciprocal_rank_fusion([dense, dense])[:3]  # both agree
    assert fused_top([dense, []], 2) == reciprocal_rank_fusion([dense])[:2]  # one ranking: its order
    assert fused_top([["a"], ["b"]], 1) == reciprocal_rank_fusion([["a"], ["b"]])[:1]  # no room for both firsts
    assert fused_top([], 3) == []


def test_tokenize_drops_stop_words() -> None:
    assert tokenize("Which NATO networks would the contract cover?") == ["nato", "networks", "contract", "cover"]


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_each_mode_finds_the_seed_sentence(seeded_parts, mode: str) -> None:
    retrieval = seeded_parts.retriever.retrieve(SEED_QUESTION, 2, mode=mode)
    assert len(retrieval.passages) == 2
    assert any("unclassified networks" in p.chunk.text for p in retrieval.passages)


def test_document_filter_and_bm25_refresh(seeded_parts, tmp_path) -> None:
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


def test_passages_are_the_fused_rankings_with_the_stored_chunks(seeded_parts) -> None:
    """The retriever fuses ids only and reads the k passages afterwards: they must be the stored chunks, in the
    order reciprocal rank fusion gives the dense and BM25 rankings, with their ranks and cosine."""
    parts = seeded_parts
    retrieval = parts.retriever.retrieve(SEED_QUESTION, 4)
    dense = parts.store.query(retrieval.query_embedding, parts.settings.candidates)
    lexical = parts.retriever.bm25.search(SEED_QUESTION, parts.settings.candidates)
    fused = fused_top([[hit.chunk.id for hit in dense], [chunk.id for chunk, _ in lexical]], 4)
    stored = {chunk.id: chunk for chunk in parts.store.all_chunks()}
    assert [(p.chunk, p.score) for p in retrieval.passages] == [(stored[cid], score) for cid, score in fused]
    for passage in retrieval.passages:
        dense_ids = [hit.chunk.id for hit in dense]
        if passage.chunk.id in dense_ids:
            assert passage.dense_rank == dense_ids.index(passage.chunk.id) + 1
            assert passage.dense_score == pytest.approx(dense[passage.dense_rank - 1].score)
        bm25_ids = [chunk.id for chunk, _ in lexical]
        assert passage.bm25_rank == (bm25_ids.index(passage.chunk.id) + 1 if passage.chunk.id in bm25_ids else None)
