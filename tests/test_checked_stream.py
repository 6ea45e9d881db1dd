"""CheckedStream: checked text released a sentence at a time always adds up to the final checked answer."""

from __future__ import annotations

import functools
import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.models import Chunk
from service.answer.checked_stream import CheckedStream, could_be_refusal, last_sentence_start
from service.answer.citations import check_citations
from service.answer.pipeline import is_refusal
from service.answer.prompts import REFUSAL

PASSAGES = [
    Chunk("d1:a", "d1", 0, 0, 120, "OpenAI may deploy on NATO's unclassified networks. The talks began in March. "
          "Altman spoke on Tuesday.", "NATO", "nato.txt"),
    Chunk("d1:b", "d1", 1, 120, 220, "A spokeswoman corrected him later. She said classified networks were not "
          "included.", "NATO", "nato.txt"),
    Chunk("d2:a", "d2", 0, 0, 80, "The U.S. agency signed a deal. It covers cloud services for five years.",
          "Cloud", "cloud.txt"),
]


CHECK = functools.partial(check_citations, passages=PASSAGES)  # the overlap rater, as the final check below


def final_of(raw: str) -> str:
    """What the pipeline answers for this raw text."""
    return REFUSAL if is_refusal(raw) else check_citations(raw, PASSAGES).text


def streamed(pieces: list[str], hold: bool = False) -> tuple[str, list[str]]:
    stream = CheckedStream(CHECK, hold=hold)
    released = [stream.feed(piece) for piece in pieces]
    released.append(stream.finish(final_of("".join(pieces))))
    return "".join(released), [r for r in released if r]


def test_sentences_are_released_checked_once_the_next_one_begins() -> None:
    pieces = ["OpenAI may deploy on NATO's unclassified", " networks [2]", ". [9] The talks", " began [1", "]. Altman",
              " spoke [3]."]
    text, released = streamed(pieces)
    assert text == final_of("".join(pieces)) == (
        "OpenAI may deploy on NATO's unclassified networks [1]. The talks began [2]. Altman spoke [3].")
    # the first sentence is out (its bogus [9] removed) as soon as the second begins; [1 waits for its ]
    assert released == ["OpenAI may deploy on NATO's unclassified networks [1].", " The talks began [2].",
                        " Altman spoke [3]."]


def test_numbers_follow_first_appearance_across_sentences() -> None:
    pieces = ["A spokeswoman corrected him [2]. ", "OpenAI may deploy on unclassified networks [1]. ",
              "She said classified networks were not included [2]."]
    text, released = streamed(pieces)
    assert text == final_of("".join(pieces))
    assert released[0] == "A spokeswoman corrected him [1]."


def test_a_refusal_is_held_whole_and_anything_after_it_never_shows() -> None:
    pieces = ["The sources do not", " answer this question.", " But OpenAI may deploy [1]. Maybe."]
    text, released = streamed(pieces)
    assert text == REFUSAL and released == [REFUSAL]
    assert could_be_refusal("  the sources") and not could_be_refusal("The sources say")


def test_hold_releases_everything_at_the_end() -> None:
    pieces = ["The talks began in March [1]. ", "Altman spoke [1]. ", "Done."]
    text, released = streamed(pieces, hold=True)
    assert text == final_of("".join(pieces)) and len(released) == 1


def test_last_sentence_start() -> None:
    assert last_sentence_start("One sentence [1].") is None
    assert last_sentence_start("One [1]. Two") == len("One [1]. ")
    assert last_sentence_start("One. [1] Two") == len("One. [1] ")
    assert last_sentence_start("One. [1") is None  # a marker being written is not a sentence yet
    assert last_sentence_start("The U.S. agency") is None  # an abbreviation ends no sentence


def test_a_broken_prefix_is_never_left_standing(caplog: pytest.LogCaptureFixture) -> None:
    stream = CheckedStream(CHECK)
    stream.feed("First [1]. Second")
    with caplog.at_level(logging.ERROR):
        rest = stream.finish("Something else [1].")
    assert rest == "\n\nSomething else [1]." and "not a prefix" in caplog.text


WORDS = ["OpenAI", "networks", "unclassified", "spokeswoman", "the", "talks", "classified", "cloud", "U.S.", "agency",
         "five", "years", "Dr.", "e.g.", "and", "he", "March", "2024", "(NATO)", '"quoted"']
MARKERS = ["[1]", "[2]", "[3]", "[9]", "[0]", "[1, 2]", "[2,3]", "[3, 7]", "[12]", "[ 1 ]"]


@st.composite
def answers(draw: st.DrawFn) -> str:
    """LLM-like answers: sentences of known words, markers before or after the stop, odd spacing and starts."""
    sentences = []
    for _ in range(draw(st.integers(1, 6))):
        words = draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=8))
        if draw(st.booleans()):
            words[0] = words[0].capitalize()
        marker = draw(st.sampled_from(["", *MARKERS]))
        stop = draw(st.sampled_from([".", "!", "?", "", ".)", '."']))
        where = draw(st.sampled_from(["before", "after", "both"]))
        body = " ".join(words)
        if where == "before":
            sentence = f"{body} {marker}{stop}" if marker else f"{body}{stop}"
        elif where == "after":
            sentence = f"{body}{stop} {marker}" if marker else f"{body}{stop}"
        else:
            sentence = f"{body} {marker}{stop} {draw(st.sampled_from(MARKERS))}"
        sentences.append(sentence)
    separators = draw(st.lists(st.sampled_from([" ", "  ", "\n", "\n\n", " \t", ""]), min_size=len(sentences),
                               max_size=len(sentences)))
    return "".join(s + sep for s, sep in zip(sentences, separators, strict=True))


@st.composite
def cut_into_pieces(draw: st.DrawFn) -> list[str]:
    text = draw(st.one_of(answers(), st.builds(lambda a: REFUSAL + " " + a, answers())))
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(text) - 1)), max_size=12)))
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in zip(bounds, bounds[1:], strict=False) if b > a]


@given(pieces=cut_into_pieces())
@settings(max_examples=500, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_released_text_always_adds_up_to_the_final_checked_text(pieces: list[str]) -> None:
    stream = CheckedStream(CHECK)
    text = "".join(stream.feed(piece) for piece in pieces)
    final = final_of("".join(pieces))
    assert final.startswith(text)  # nothing released is ever wrong...
    assert text + stream.finish(final) == final  # ...and the rest completes it exactly
