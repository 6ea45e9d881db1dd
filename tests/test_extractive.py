"""The extractive answerer (service/answer/extractive.py) without a model: passages built by hand, carrying the
vectors of a hashing bag-of-words embedder (tests/fakes.py), judged by the real packaged judge."""

from __future__ import annotations

import re

import pytest

from ingest.chunking import split_sentences
from service.answer.citations import MARKER, Quote, cite_quotes
from service.answer.extractive import ExtractiveAnswerer, spoken
from service.answer.judge import Judge, Judgement
from service.answer.prompts import REFUSAL
from service.answer.retrieval import Passage
from tests.fakes import BRIDGE, LIGHTHOUSE, ZEBRAS, HashingEmbedder, make_passage

STRIPES = "What pattern of stripes does each zebra have?"
PENGUINS = "How do penguins keep their eggs warm in winter?"
HERDS_AT = ZEBRAS.index("Zebras live in herds")  # the zebra article cut in two passages here


@pytest.fixture(scope="module")
def fake() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture(scope="module")
def judge() -> Judge:
    judge = Judge()
    judge.warm()
    return judge


@pytest.fixture(scope="module")
def passages(fake: HashingEmbedder) -> list[Passage]:
    """Retrieved out of document order: the zebra article's second half first, its first half last."""
    head, tail = ZEBRAS[:HERDS_AT].rstrip(), ZEBRAS[HERDS_AT:].rstrip()
    return [
        make_passage(fake, tail, "zebras", start=HERDS_AT, index=1),
        make_passage(fake, LIGHTHOUSE.rstrip(), "lighthouse"),
        make_passage(fake, head, "zebras", start=0, index=0),
    ]


def answerer(judge: Judge, **overrides: float) -> ExtractiveAnswerer:
    model = judge.model
    options = {"sentence_threshold": model.sentence_threshold, "refuse_threshold": model.refuse_threshold,
               "max_sentences": 4, **overrides}
    return ExtractiveAnswerer(model, **options)  # type: ignore[arg-type]


def judged(fake: HashingEmbedder, judge: Judge, question: str, passages: list[Passage]) -> Judgement:
    return judge.score(question, fake.embed([question])[0], passages)


def test_the_fake_embedder_gives_what_the_judge_reads(fake: HashingEmbedder) -> None:
    """Unit vectors of dimension 384, one per sentence as the judge splits the chunk; the same text, the same
    vector (deterministic), and a sentence pooled in its passage points where the sentence alone does."""
    passage = make_passage(fake, ZEBRAS.rstrip(), "zebras")
    spans = split_sentences(passage.chunk.text)
    assert passage.vector is not None and passage.vector.shape == (384,)
    assert passage.sentence_vectors is not None and passage.sentence_vectors.shape == (len(spans), 384)
    assert abs(float(passage.vector @ passage.vector) - 1.0) < 1e-5
    again = HashingEmbedder().embed([ZEBRAS.rstrip()])[0]
    assert float(again @ passage.vector) == pytest.approx(1.0, abs=1e-5)
    alone = fake.embed([ZEBRAS[slice(*spans[1])]])[0]
    assert float(alone @ passage.sentence_vectors[1]) == pytest.approx(1.0, abs=1e-5)


def test_an_answer_quotes_whole_source_sentences_at_their_exact_spans(
        fake: HashingEmbedder, judge: Judge, passages: list[Passage]) -> None:
    judgement = judged(fake, judge, STRIPES, passages)
    pieces = list(answerer(judge).stream(STRIPES, passages, judgement))
    assert pieces and pieces != [REFUSAL] and all(isinstance(piece, Quote) for piece in pieces)
    assert len(pieces) <= 4
    for piece in pieces:
        assert isinstance(piece, Quote)
        chunk = passages[piece.passage].chunk
        said = MARKER.sub("", str(piece)).strip()
        assert said == spoken(chunk.text[piece.start:piece.end])  # the whole sentence, word for word
        assert (piece.start, piece.end) in split_sentences(chunk.text)
        assert str(piece).endswith(f" [{piece.passage + 1}]")  # followed by its passage's marker
    assert "Each zebra has its own unique pattern of stripes. [3]" in "".join(pieces)

    checked = cite_quotes(pieces, [p.chunk for p in passages])
    assert checked.dropped == 0 and len(checked.citations) == len(pieces)
    for citation in checked.citations:
        assert citation.doc_id == "zebras" and citation.chunk_id.startswith("zebras:")
        assert ZEBRAS[citation.start:citation.end] == citation.quote  # document offsets, not the chunk's
        assert f"{citation.quote} [{citation.n}]" in checked.text
    assert all(sentence.supported for sentence in checked.sentences)


def test_unrelated_passages_are_refused_with_the_refusal_sentence_and_a_closest_candidate(
        fake: HashingEmbedder, judge: Judge) -> None:
    unrelated = [make_passage(fake, LIGHTHOUSE.rstrip(), "lighthouse"), make_passage(fake, BRIDGE.rstrip(), "bridge")]
    judgement = judged(fake, judge, PENGUINS, unrelated)
    extractive = answerer(judge)
    assert not judge.model.answers(judgement.answerable, judgement.confidence)
    assert extractive.select(judgement, unrelated) == []
    assert list(extractive.stream(PENGUINS, unrelated, judgement)) == [REFUSAL]
    assert REFUSAL == "The sources do not answer this question."
    closest = judgement.best  # what the pipeline reports as `closest`
    assert closest is not None
    chunk = unrelated[closest.passage].chunk
    assert chunk.text[closest.start:closest.end] == closest.text and 0.0 <= closest.probability <= 1.0


def test_no_candidates_is_a_refusal(judge: Judge, passages: list[Passage]) -> None:
    assert answerer(judge).select(Judgement(), passages) == []
    assert list(answerer(judge).stream(STRIPES, passages, Judgement())) == [REFUSAL]


def test_sentences_come_in_document_order_from_the_best_sentences_document(
        fake: HashingEmbedder, judge: Judge, passages: list[Passage]) -> None:
    """With every threshold at 0, it says every prose sentence of the best sentence's document (never another
    document's), ordered by their place in the document, not by the passages' retrieval order."""
    judgement = judged(fake, judge, STRIPES, passages)
    chosen = answerer(judge, sentence_threshold=0.0, refuse_threshold=0.0, max_sentences=10).select(
        judgement, passages)
    assert judgement.best is not None and judgement.best in chosen
    assert {c.doc_id for c in chosen} == {"zebras"}
    assert [c.text for c in chosen] == [ZEBRAS[a:b] for a, b in split_sentences(ZEBRAS)]
    assert [c.passage for c in chosen] == [2, 2, 0, 0]  # the head was retrieved last, the tail first
    offsets = [passages[c.passage].chunk.start + c.start for c in chosen]
    assert offsets == sorted(offsets)


@pytest.mark.parametrize("max_sentences", [1, 2, 3])
def test_at_most_max_sentences_the_most_probable_still_in_document_order(
        fake: HashingEmbedder, judge: Judge, passages: list[Passage], max_sentences: int) -> None:
    judgement = judged(fake, judge, STRIPES, passages)
    extractive = answerer(judge, sentence_threshold=0.0, refuse_threshold=0.0, max_sentences=max_sentences)
    chosen = extractive.select(judgement, passages)
    assert len(chosen) == max_sentences and judgement.best in chosen
    offsets = [passages[c.passage].chunk.start + c.start for c in chosen]
    assert offsets == sorted(offsets)
    left_out = [c for c in judgement.candidates if c.doc_id == "zebras" and c not in chosen]
    assert min(c.probability for c in chosen) >= max(c.probability for c in left_out)
    pieces = list(extractive.stream(STRIPES, passages, judgement))
    assert [MARKER.sub("", str(piece)).strip() for piece in pieces] == [c.text for c in chosen]


def test_a_sentence_threshold_nothing_clears_says_only_the_best_sentence(
        fake: HashingEmbedder, judge: Judge, passages: list[Passage]) -> None:
    judgement = judged(fake, judge, STRIPES, passages)
    chosen = answerer(judge, sentence_threshold=1.0, refuse_threshold=0.0).select(judgement, passages)
    assert chosen == [judgement.best]


def test_a_strict_refuse_threshold_answers_only_on_high_confidence(
        fake: HashingEmbedder, judge: Judge, passages: list[Passage]) -> None:
    judgement = judged(fake, judge, STRIPES, passages)
    chosen = answerer(judge, refuse_threshold=1.0).select(judgement, passages)
    assert bool(chosen) == (judgement.confidence >= judge.model.answer_confidence)


def test_a_sources_own_bracketed_numbers_do_not_read_as_markers(fake: HashingEmbedder, judge: Judge) -> None:
    text = "Each zebra has its own unique pattern of stripes [12]. Zebras live in herds on the open savanna."
    passage = make_passage(fake, text, "footnoted", start=100)
    judgement = judged(fake, judge, STRIPES, [passage])
    pieces = list(answerer(judge, refuse_threshold=0.0, max_sentences=1).stream(STRIPES, [passage], judgement))
    assert pieces == ["Each zebra has its own unique pattern of stripes. [1]"]
    assert isinstance(pieces[0], Quote) and text[pieces[0].start:pieces[0].end].endswith("[12].")
    checked = cite_quotes(pieces, [passage.chunk])
    assert checked.text == "Each zebra has its own unique pattern of stripes. [1]"
    assert checked.citations[0].quote == text[pieces[0].start:pieces[0].end]
    assert checked.citations[0].start == 100 + pieces[0].start
    assert re.findall(r"\[\d+\]", checked.text) == ["[1]"]


def test_a_wrapped_manual_page_sentence_is_said_on_one_line_and_quoted_verbatim(
        fake: HashingEmbedder, judge: Judge) -> None:
    text = ("Each  zebra has its own unique  pattern of stripes, a trait inher\u2010\n       ited from its par\u00ad\n"
            "       ents and self-\n       evident at birth.  Zebras live in herds on the open savanna.")
    passage = make_passage(fake, text, "zebra.7", start=40)
    judgement = judged(fake, judge, STRIPES, [passage])
    pieces = list(answerer(judge, refuse_threshold=0.0, max_sentences=1).stream(STRIPES, [passage], judgement))
    said = ("Each zebra has its own unique pattern of stripes, a trait inherited from its parents and self-evident "
            "at birth. [1]")
    assert pieces == [said]
    checked = cite_quotes(pieces, [passage.chunk])
    assert checked.text == said and checked.sentences[0].text == said[:-4]
    assert checked.citations[0].quote == text[:text.index("birth.") + 6]  # the source as it stands
    assert checked.citations[0].start == 40


def test_spoken_joins_lines_and_words_a_line_end_split_and_changes_nothing_else() -> None:
    assert spoken("  a  b\n\t c ") == "a b c"
    assert spoken("de\u2010\n   vice and soft\u00ad\n  ware") == "device and software"
    # groff prints a compound's own hyphen as U+2010 too: two words whose joining is no word keep it
    assert spoken("a command\u2010\n   line option, non\u2010\n  zero") == "a command\u2010line option, non\u2010zero"
    assert spoken("built-\n   in, well-known") == "built-in, well-known"  # an ASCII hyphen may be the word's own
    assert spoken("ends with a dash -\n next line") == "ends with a dash - next line"
    assert spoken("Python 3.10+. [sic]") == "Python 3.10+. [sic]"


def test_header_fields_said_together_stay_sentences_of_their_own_when_read_back() -> None:
    """Quotes without a full stop (header fields) are followed by a blank line: the stream's check (word overlap,
    sentence by sentence) then reads the answer as the quotes it is, with the numbers ``cite_quotes`` gives."""
    from ingest.models import Chunk
    from service.answer.citations import check_citations
    from service.answer.extractive import pieces
    from service.answer.judge import Candidate

    text = ("Metadata-Version: 2.1\nName: pysbd\nVersion: 0.3.4\nAuthor: Nipun Sadvilkar\n"
            "Author-email: nipun@example.com\nRequires-Python: >=3\n\npysbd splits text into sentences.\n")
    chunk = Chunk(id="m:0", doc_id="m", index=0, start=0, end=len(text), text=text, title="m", source="m.md")
    spans = split_sentences(text)
    said = [Candidate(0, i, "m", a, b, text[a:b], 0.5, 0.9) for i, (a, b) in enumerate(spans)
            if text[a:b].startswith(("Version", "Author", "pysbd"))]
    quotes = list(pieces(said))
    by_construction = cite_quotes(quotes, [chunk])
    read_back = check_citations("".join(quotes), passages=[chunk])
    assert by_construction.text == read_back.text == (
        "Version: 0.3.4 [1]\n\nAuthor: Nipun Sadvilkar [2]\n\nAuthor-email: nipun@example.com [3]\n\n"
        "pysbd splits text into sentences. [4]")
    assert [(c.start, c.end) for c in read_back.citations] == [(c.start, c.end) for c in by_construction.citations]


INSTALL = ("python-dateutil can be installed from PyPI using pip (note that the package name differs):\n\n"
           "pip install python-dateutil\n\nDownload\n\nThe dateutil module was written by Gustavo Niemeyer in 2003.\n")


def test_a_sentence_introducing_a_command_is_said_and_cited_with_it(fake: HashingEmbedder, judge: Judge) -> None:
    """"... using pip:" over ``pip install python-dateutil``: the command is what was asked for, and a command is
    never a candidate of its own, so the sentence that introduces it is said with it, and cited over both."""
    passage = make_passage(fake, INSTALL, "dateutil", start=300)
    question = "How do I install python-dateutil from PyPI using pip?"
    judgement = judged(fake, judge, question, [passage])
    assert judgement.best is not None and judgement.best.text.endswith("differs):")  # the judge rates the sentence
    pieces = list(answerer(judge, refuse_threshold=0.0, max_sentences=1).stream(question, [passage], judgement))
    said = ("python-dateutil can be installed from PyPI using pip (note that the package name differs): "
            "pip install python-dateutil [1]")
    assert pieces == [said]
    checked = cite_quotes(pieces, [passage.chunk])
    assert checked.text == said
    assert checked.citations[0].quote == INSTALL[:INSTALL.index("\n\nDownload")]  # the sentence and its command
    assert checked.citations[0].start == 300


@pytest.mark.parametrize(("text", "extended"), [
    ("Install it with:\n\n$ make\n$ make install\n\nDone.", "Install it with:\n\n$ make\n$ make install"),
    ("Try it:\n\n>>> import foo\n>>> foo.bar()  \n\nMore.", "Try it:\n\n>>> import foo\n>>> foo.bar()"),
    ("Try it:\n\n>>> import foo\n>>> foo.bar()", None),  # the passage's end: the example may go on
    ("Run:\n\nmake install\n\nmake\n\nDone.", None),  # a one-word next block is more of the code
    ("Run:\n\n>>> sys.argv[1]\n\nDone.", None),  # the answer would drop what reads as a marker
    ("Install it with this command:\n\npip install foo\n- requires Python 3.8 or later\n\nDone.", None),  # an item
    ("It is maintained by:\n\n- Gustavo Niemeyer\n- Paul Ganssle", None),  # a list: its items are candidates
    ("Here is the code:\n\nExamples\n\nfoo()", None),  # a heading is no command
    ("Run this:\n\na\nb\nc\n\nDone.", None),  # more than two lines: an example, not a command
    ("It returns a strategy:\n\nfrom foo import given\n\n@given(x)\ndef test(q):\n    pass", None),  # goes on
    ("Use it:\n\nfrom foo import bar\n\nresult = bar()", None),  # a blank line inside an example
    ("Note this:\n\nthe thing is fine and works well for everyone who tries it.\n\nDone.", None),  # a sentence
    ("The option is set with pip install foo. More text.", None),  # no colon
])
def test_only_a_short_command_or_code_block_after_a_colon_joins_its_sentence(text: str, extended: str | None) -> None:
    from service.answer.extractive import with_its_block
    from service.answer.judge import Candidate

    end = text.index(":") + 1 if ":" in text else text.index(".") + 1
    candidate = Candidate(0, 0, "d", 0, end, text[:end], 0.5, 0.9)
    got = with_its_block(candidate, text)
    assert got.text == (extended or candidate.text) and text[got.start:got.end] == got.text


def test_a_sentence_a_block_already_says_is_not_said_again(judge: Judge) -> None:
    """Two sentences chosen, the second inside the block the first introduces: said once, in the first."""
    from ingest.models import Chunk
    from service.answer.judge import Candidate

    text = "Install it with:\n\npip install foo\n\nThat is all it takes to install foo on any machine.\n"
    chunk = Chunk(id="d:0", doc_id="d", index=0, start=0, end=len(text), text=text, title="d", source="d.md")
    lead, command = text.index("Install"), text.index("pip")
    candidates = [Candidate(0, 0, "d", lead, lead + 16, text[lead:lead + 16], 0.5, 0.9),
                  Candidate(0, 1, "d", command, command + 15, text[command:command + 15], 0.5, 0.8)]
    judgement = Judgement(candidates=candidates, answerable=0.9, confidence=0.9)
    chosen = answerer(judge, sentence_threshold=0.5, refuse_threshold=0.0).select(
        judgement, [Passage(chunk=chunk, score=1.0)])
    assert [c.text for c in chosen] == ["Install it with:\n\npip install foo"]
