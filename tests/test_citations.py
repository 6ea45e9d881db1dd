from __future__ import annotations

from ingest.models import Chunk
from service.answer.citations import check_citations


def chunk(cid: str, start: int, text: str) -> Chunk:
    return Chunk(id=cid, doc_id=f"doc-{cid}", index=0, start=start, end=start + len(text), text=text,
                 title=f"Title {cid}", source=f"{cid}.txt")


PASSAGES = [
    chunk("a", 100, "The sky is blue on clear days. Grass is green in spring."),
    chunk("b", 0, "Water boils at 100 degrees at sea level. Ice melts at zero degrees."),
]


def test_markers_resolve_to_the_best_sentence_of_the_passage() -> None:
    checked = check_citations("Grass turns green in spring [1]. Water boils at 100 degrees [2].", PASSAGES)
    assert checked.dropped == 0
    assert checked.text == "Grass turns green in spring [1]. Water boils at 100 degrees [2]."
    first, second = checked.citations
    assert (first.chunk_id, first.quote, first.start, first.end) == ("a", "Grass is green in spring.", 131, 156)
    assert PASSAGES[0].text[first.start - 100 : first.end - 100] == first.quote
    assert (second.doc_id, second.quote, second.start) == ("doc-b", "Water boils at 100 degrees at sea level.", 0)
    assert [s.supported for s in checked.sentences] == [True, True]


def test_unresolvable_markers_are_removed_and_counted() -> None:
    checked = check_citations("The sky is blue [1] [9]. Ice melts at zero [0, 2, 7].", PASSAGES)
    assert checked.dropped == 3
    assert checked.text == "The sky is blue [1]. Ice melts at zero [2]."
    assert [c.quote for c in checked.citations] == ["The sky is blue on clear days.", "Ice melts at zero degrees."]


def test_numbers_follow_first_appearance_and_repeat_for_the_same_span() -> None:
    checked = check_citations("Ice melts at zero [2]. The sky is blue [1]. Ice melts at zero degrees [2].", PASSAGES)
    assert checked.text == "Ice melts at zero [1]. The sky is blue [2]. Ice melts at zero degrees [1]."
    assert [c.n for c in checked.citations] == [1, 2]


def test_marker_after_the_full_stop_belongs_to_that_sentence() -> None:
    checked = check_citations("The sky is blue. [1] Water boils at 100 degrees. [2]", PASSAGES)
    assert [s.citations for s in checked.sentences] == [[1], [2]]


def test_unsupported_and_uncited_sentences_are_flagged() -> None:
    checked = check_citations("Cats rule the internet [1]. Nothing cites this.", PASSAGES)
    assert len(checked.citations) == 1  # the marker resolves, so the citation is kept...
    assert [s.supported for s in checked.sentences] == [False, False]  # ...but it supports nothing


def test_answer_without_markers_has_no_citations() -> None:
    checked = check_citations("Just text.", PASSAGES)
    assert checked.citations == [] and checked.dropped == 0 and checked.text == "Just text."
