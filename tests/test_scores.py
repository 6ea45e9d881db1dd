"""The evaluation's scores (service/evaluation/scores.py) on hand-made cases whose answers are worked out by hand."""

from __future__ import annotations

import pytest

from service.evaluation import scores

GOLD = [("d1", 10, 20), ("d1", 30, 40), ("d2", 0, 5)]


def test_overlap_is_half_open_and_per_document() -> None:
    assert scores.overlaps(("d1", 0, 11), ("d1", 10, 20))
    assert not scores.overlaps(("d1", 0, 10), ("d1", 10, 20))  # touching is not overlapping
    assert not scores.overlaps(("d1", 20, 30), ("d1", 10, 20))
    assert not scores.overlaps(("d2", 12, 15), ("d1", 10, 20))
    assert scores.overlaps(("d1", 0, 100), ("d1", 10, 20))  # containment


def test_locate_exact_then_whitespace_normalised() -> None:
    text = "First one.  Second\n sentence here. Third."
    assert scores.locate(text, "First one.") == (0, 10)
    assert scores.locate(text, "Second sentence here.") == (12, 34)
    assert text[12:34] == "Second\n sentence here."
    assert scores.locate(text, " Third. ") == (35, 41)
    assert scores.locate(text, "Fourth.") is None
    assert scores.locate(text, "   ") is None


def test_retrieval_recall_and_reciprocal_rank() -> None:
    gold = [("g", 100, 150), ("g", 200, 250)]
    retrieved = [("x", 0, 500), ("g", 0, 100), ("g", 90, 120), ("h", 0, 10)]
    assert scores.first_hit_rank(retrieved, gold) == 3
    assert scores.reciprocal_rank(retrieved, gold) == pytest.approx(1 / 3)
    assert scores.gold_passage_recall(retrieved, gold, 1) == 0.0
    assert scores.gold_passage_recall(retrieved, gold, 2) == 0.0  # right document, but no gold sentence in it
    assert scores.gold_passage_recall(retrieved, gold, 3) == 1.0
    assert scores.reciprocal_rank(retrieved[:2], gold) == 0.0
    # two gold passages, one found
    two = [("g", 100, 150), ("k", 0, 10)]
    assert scores.gold_passage_recall(retrieved, two, 10) == 0.5
    with pytest.raises(ValueError):
        scores.gold_passage_recall(retrieved, [], 5)


def test_citation_precision_and_recall() -> None:
    cited = [("d1", 15, 25), ("d1", 20, 30), ("d2", 4, 9), ("d3", 0, 100)]
    assert scores.correct_citations(cited, GOLD) == [True, False, True, False]
    assert scores.citation_precision(cited, GOLD) == 0.5
    assert scores.covered_gold(cited, GOLD) == [True, False, True]
    assert scores.citation_recall(cited, GOLD) == pytest.approx(2 / 3)
    assert scores.citation_precision([], GOLD) is None
    assert scores.citation_recall([], GOLD) == 0.0
    # one long citation covering two gold sentences counts once for precision, twice for recall
    assert scores.citation_precision([("d1", 0, 50)], GOLD) == 1.0
    assert scores.citation_recall([("d1", 0, 50)], GOLD) == pytest.approx(2 / 3)


def test_a_sentence_holds_an_answer_as_a_whole_word_or_phrase() -> None:
    said = "On January 7, 2016, Pepsi announced Beyoncé would perform alongside Coldplay at Super Bowl 50."
    assert scores.holds_answer(said, ["coldplay"])  # case aside
    assert scores.holds_answer(said, ["Bruno Mars", "Super Bowl 50"])  # any of the answers
    assert not scores.holds_answer(said, ["C"])  # a letter inside a word is not the answer 'C'
    assert not scores.holds_answer(said, ["201"]) and not scores.holds_answer(said, ["", "  "])
    assert scores.holds_answer("It fell by 80% in a year.", ["80%"]) and scores.holds_answer("use -spy.", ["-spy"])


def test_token_f1() -> None:
    # tokens: pred [cat, sat, on, mat] (the/a dropped), gold [cat, sat] -> P 2/4, R 2/2, F1 2/3
    assert scores.token_f1("The cat sat on a mat.", "the cat sat") == pytest.approx(2 / 3)
    assert scores.token_f1("Paris", "paris!") == 1.0
    assert scores.token_f1("London", "Paris") == 0.0
    assert scores.token_f1("", "") == 1.0
    assert scores.token_f1("", "Paris") == 0.0
    # multiplicity: pred [a?] -> tokens [x, x, y], gold [x, y, y] -> common 2, P 2/3, R 2/3
    assert scores.token_f1("x x y", "x y y") == pytest.approx(2 / 3)


def test_rouge_l() -> None:
    # LCS of [1 2 3 4 5] and [1 3 5 7] is [1 3 5] = 3: P 3/5, R 3/4, F 2*0.6*0.75/1.35 = 2/3
    assert scores.rouge_l("1 2 3 4 5", "1 3 5 7") == pytest.approx(2 / 3)
    assert scores.rouge_l("y z", "z y") == pytest.approx(0.5)  # order matters, unlike token F1
    assert scores.token_f1("y z", "z y") == 1.0
    assert scores.rouge_l("x", "y") == 0.0


def test_strip_markers_and_best_answer() -> None:
    assert scores.strip_markers("It was 1960 [1]. Then more [2, 3].") == "It was 1960. Then more."
    assert scores.best_against(scores.token_f1, "paris", ["London", "Paris France"]) == pytest.approx(2 / 3)
    assert scores.best_against(scores.token_f1, "paris", []) == 0.0


def test_strip_markers_removes_what_the_citation_checker_reads_as_markers() -> None:
    from service.answer.citations import MARKER

    assert scores.strip_markers("Then [ 2 ,3 ] more [12345].\n[1] Done.") == "Then more [12345].\n Done."
    assert all(scores.strip_markers(marker) == "" for marker in ("[1]", " [1, 2]", "\t[ 9 ]"))
    assert scores.strip_markers("[12345]") == "[12345]" and not MARKER.search("[12345]")


def _row(answerable: bool, refused: bool, cited: list, gold: list, retrieved: list, answer: str = "",
         answers: tuple = (), supported: tuple = (), dropped: int = 0) -> dict:
    return scores.score_question(
        answerable=answerable, refused=refused, gold=gold, answers=list(answers), retrieved=retrieved, cited=cited,
        answer=answer, markers_resolved=len(cited), markers_dropped=dropped, sentences_supported=list(supported),
    )


def test_summary_of_four_questions() -> None:
    rows = [
        # answerable, answered: 2 citations (1 right), covers 1 of 2 gold; gold chunk ranked 2nd
        _row(True, False, [("a", 0, 10), ("a", 50, 60)], [("a", 0, 10), ("a", 20, 30)],
             [("z", 0, 9), ("a", 0, 40)], answer="red fox [1]. blue [2].", answers=["red fox"],
             supported=(True, False)),
        # answerable, refused: nothing cited, gold chunk ranked 1st
        _row(True, True, [], [("b", 5, 9)], [("b", 0, 40)], answer="The sources do not answer this question."),
        # unanswerable, refused
        _row(False, True, [], [], [("c", 0, 10)]),
        # unanswerable, answered with one citation and one dropped marker
        _row(False, False, [("c", 0, 10)], [], [("c", 0, 10)], answer="c [1].", supported=(True,), dropped=1),
    ]
    s = scores.summarize(rows)
    assert (s["questions"], s["answerable"], s["unanswerable"]) == (4, 2, 2)
    assert s["recall@1"] == 0.5 and s["recall@3"] == 1.0
    assert s["mrr"] == pytest.approx((1 / 2 + 1) / 2)
    assert s["citation_precision"] == 0.5  # 1 of the 2 citations of answerable questions
    assert s["citation_precision_alce"] == 0.5  # one answer with citations, precision 1/2
    assert s["citation_recall"] == pytest.approx(1 / 3)  # 1 of 3 gold sentences
    assert s["citation_validity"] == pytest.approx(3 / 4)  # 3 resolved markers, 1 dropped
    assert s["refused_unanswerable"] == 0.5 and s["answered_answerable"] == 0.5
    assert s["abstention_balanced_accuracy"] == 0.5
    assert s["support"] == pytest.approx(2 / 3)  # sentences of the two answered questions: True, False, True
    # F1: "red fox. blue." vs "red fox": P 2/3, R 1 -> 0.8; the refusal scores 0
    assert s["token_f1"] == pytest.approx(0.4)
    assert s["citations_per_answer"] == pytest.approx(1.5)


def test_summary_without_cases_gives_none() -> None:
    s = scores.summarize([_row(False, True, [], [], [])])
    assert s["citation_precision"] is None and s["recall@5"] is None and s["citation_validity"] is None
    assert s["abstention_balanced_accuracy"] is None and s["refused_unanswerable"] == 1.0
