from __future__ import annotations

import pytest

from ingest.chunking import chunk_document, chunk_spans, split_sentences
from ingest.embedding import SentenceTransformerEmbedder
from ingest.models import Document, page_at, pages_within
from tests.conftest import SEEDS
from tests.sentence_cases import CASES


@pytest.fixture(scope="module")
def count() -> object:
    # The real model's tokenizer (tokenizers only; the model weights are not loaded for this).
    return SentenceTransformerEmbedder().count_tokens


def words(text: str) -> list[int]:
    return [len(text.split())]


def test_sentences_keep_offsets_and_skip_abbreviations() -> None:
    text = "Dr. Smith went to the U.S. Civil War museum. It was closed!  Then he left.\n\nA new paragraph"
    spans = split_sentences(text)
    assert [text[a:b] for a, b in spans] == [
        "Dr. Smith went to the U.S. Civil War museum.",
        "It was closed!",
        "Then he left.",
        "A new paragraph",
    ]


def test_sentences_in_clapnq_tokenisation() -> None:
    text = "`` It 's Now or Never '' is a ballad recorded by Elvis Presley in 1960 . It is one of two songs ."
    assert [text[a:b] for a, b in split_sentences(text)] == [
        "`` It 's Now or Never '' is a ballad recorded by Elvis Presley in 1960 .",
        "It is one of two songs .",
    ]


def test_quotes_close_a_sentence() -> None:
    text = 'He said "stop." Then "go."'
    assert [text[a:b] for a, b in split_sentences(text)] == ['He said "stop."', 'Then "go."']


def test_chunk_text_is_the_document_slice_and_fits_the_window(count: object) -> None:
    text = (SEEDS / "000_a0a842ccb2970736.txt").read_text()
    doc = Document(id="seed", title="t", source="s.txt", text=text)
    longest = max(count([text[a:b] for a, b in split_sentences(text)]))  # type: ignore[operator]
    limit = longest + 10
    chunks = chunk_document(doc, count, max_tokens=limit)  # type: ignore[arg-type]
    assert len(chunks) > 3
    for chunk in chunks:
        assert chunk.text == text[chunk.start : chunk.end]
        assert count([chunk.text])[0] <= limit  # type: ignore[operator]
    # never splits a sentence: every sentence lies inside exactly one chunk
    for a, b in split_sentences(text):
        assert sum(1 for c in chunks if c.start <= a and b <= c.end) == 1
    # chunks cover every sentence, in order, without overlap
    assert all(x.end < y.start for x, y in zip(chunks, chunks[1:], strict=False))


def test_token_counts_add_up_over_whitespace(count: object) -> None:
    sentences = ["OpenAI's contract (NATO) covers unclassified networks.", "It's 3,000 word-pieces—maybe."]
    whole = count([" ".join(sentences)])[0]  # type: ignore[operator]
    assert whole == sum(count(sentences))  # type: ignore[operator]


def test_an_over_long_sentence_is_cut_at_words() -> None:
    text = " ".join(f"w{i}" for i in range(50)) + ". Short one."
    spans = chunk_spans(text, lambda texts: [len(t.split()) for t in texts], max_tokens=20)
    assert all(len(text[a:b].split()) <= 20 for a, b in spans)
    assert " ".join(text[a:b] for a, b in spans) == text


def test_every_clapnq_like_chunk_fits(count: object) -> None:
    long_passage = " ".join(["The committee met again in Paris to discuss the budget of the year ."] * 60)
    doc = Document(id="p", title="t", source="s", text=long_passage)
    chunks = chunk_document(doc, count, max_tokens=254)  # type: ignore[arg-type]
    assert len(chunks) > 1
    assert max(count([c.text for c in chunks])) <= 254  # type: ignore[operator]


@pytest.mark.parametrize("name, text, expected", CASES, ids=[case[0] for case in CASES])
def test_sentences_as_a_reader_sees_them(name: str, text: str, expected: list[str]) -> None:
    spans = split_sentences(text)
    assert [text[a:b] for a, b in spans] == expected
    for a, b in spans:  # exact spans, no surrounding whitespace
        assert text[a:b] == text[a:b].strip()


def test_a_single_line_break_does_not_end_a_sentence_but_structure_does() -> None:
    text = (
        "Users and groups\n\n"
        "Mailboxes in /var/mail are owned and\ngroup mail. Version 3.10+ of the\nPython tools reads them.\n"
        "Steps:\n- Install the package\n  from Debian\n* Run update-passwd\n3) Reboot\n"
        "## Notes\n"
        "Contact root@example.org, see https://wiki.debian.org/UsersAndGroups. Done."
    )
    assert [text[a:b] for a, b in split_sentences(text)] == [
        "Users and groups",
        "Mailboxes in /var/mail are owned and\ngroup mail.",
        "Version 3.10+ of the\nPython tools reads them.",
        "Steps:",
        "Install the package\n  from Debian",
        "Run update-passwd",
        "Reboot",
        "Notes",
        "Contact root@example.org, see https://wiki.debian.org/UsersAndGroups.",
        "Done.",
    ]


def test_separator_lines_are_no_sentences() -> None:
    text = "Part one.\n\n* * *\n\n-----\nPart two."
    assert [text[a:b] for a, b in split_sentences(text)] == ["Part one.", "Part two."]
    assert split_sentences(" ---\n") == [(1, 4)]  # nothing else: kept rather than lost


def test_list_markers_between_sentences_count_toward_the_window() -> None:
    text = "\n".join(f"- item {i}" for i in range(12))
    limit = 6
    spans = chunk_spans(text, lambda texts: [len(t.split()) for t in texts], max_tokens=limit)
    assert all(len(text[a:b].split()) <= limit for a, b in spans)  # "-" markers counted too
    assert len(spans) == 6


def test_a_chunk_splits_into_the_same_sentences_as_its_document() -> None:
    # hard-wrapped lines where a sentence starts mid-line and the rest of that line would read as a heading on
    # its own ("The Debian" above "Project ships it."), and an indented "# comment" that would be a heading
    # without its indentation: no chunk starts there
    paragraph = ("Each user has one group of the same name and id. The Debian\nProject ships a list of these "
                 "ids, and the\ntool keeps them in sync. The\nAdministrator adds users by hand.\n\n"
                 "    def add():\n        # Register the user\n        adduser bob\n\n")
    text = paragraph * 6
    count = lambda texts: [len(t.split()) for t in texts]  # noqa: E731
    doc = Document(id="d", title="t", source="s.txt", text=text)
    for limit in range(32, 80):  # chunks of two sentences or more (the longest is 16 words)
        for chunk in chunk_document(doc, count, max_tokens=limit):
            inside = [(a - chunk.start, b - chunk.start) for a, b in split_sentences(text)
                      if chunk.start <= a and b <= chunk.end]
            assert split_sentences(chunk.text) == inside, (limit, chunk.text)


def test_chunks_carry_the_pages_they_span() -> None:
    pages = ((1, 0), (2, 40), (4, 90))  # page 3 had no text
    assert pages_within(pages, 0, 30) == "1@0"
    assert pages_within(pages, 10, 60) == "1@0 2@40"
    assert pages_within(pages, 40, 100) == "2@40 4@90"
    assert pages_within(pages, 95, 120) == "4@90"
    assert pages_within((), 0, 10) == ""
    assert [page_at("1@0 2@40", offset) for offset in (0, 39, 40, 80)] == [1, 1, 2, 2]
    assert page_at("4@90", 95) == 4 and page_at("", 5) is None and page_at("bad", 5) is None


def test_the_recipe_names_the_text_and_sentence_versions() -> None:
    from types import SimpleNamespace

    from ingest.chunking import SPLITTER_VERSION
    from ingest.indexing import Indexer
    from ingest.loaders import LOADER_VERSION

    indexer = Indexer(store=None, embedder=SimpleNamespace(name="enc"), max_tokens=200)  # type: ignore[arg-type]
    assert indexer.recipe.endswith(f"; {LOADER_VERSION}; {SPLITTER_VERSION}")
    assert "sentences-1" not in indexer.recipe  # documents chunked the old way count as changed


def test_a_stop_at_the_end_of_a_line_ends_the_sentence_unless_the_next_line_goes_on_in_lower_case() -> None:
    text = "The storm came.\n<b>Bold</b> line.\nSee e.g.\nthe log. Then 🌊 waves."
    assert [text[a:b] for a, b in split_sentences(text)] == [
        "The storm came.", "<b>Bold</b> line.", "See e.g.\nthe log.", "Then 🌊 waves."]


def test_a_chunk_that_begins_in_a_list_begins_with_the_items_marker(count: object) -> None:
    """A changelog's items end with no stop; the chunk that begins with one begins with its marker, so the item
    reads as an item there too (the judge takes a list's items as candidates by their marker)."""
    from service.answer.judge import list_item

    items = [f"- Fixed the parser for input number {n} with nested brackets and long names" for n in range(40)]
    items[17] = "  1. Fixed the parser for input number 17 with nested brackets and long names"
    text = "Version 2.0\n\n" + "\n".join(items) + "\n\nVersion 1.0\n\n  * Dropped support for the old format\n"
    limit = 60
    chunks = chunk_document(Document(id="c", title="t", source="NEWS", text=text), count, max_tokens=limit)  # type: ignore[arg-type]
    inside = [chunk for chunk in chunks[1:] if chunk.text[0] in "-1*"]
    assert len(inside) >= 4 and all(count([c.text])[0] <= limit for c in chunks)  # type: ignore[operator]
    assert all(chunk.text.startswith(("- ", "1. ", "* ")) for chunk in inside)
    for chunk in inside:
        (start, end), *_ = split_sentences(chunk.text)
        assert list_item(chunk.text, start, chunk.text[start:end])
    # every sentence still lies in exactly one chunk, and no chunk leaves anything but blank lines to the next
    for a, b in split_sentences(text):
        assert sum(1 for c in chunks if c.start <= a and b <= c.end) == 1
    between = [text[x.end : y.start] for x, y in zip(chunks, chunks[1:], strict=False)]
    assert all(not gap.strip() for gap in between)


def test_an_item_too_long_for_the_window_with_its_marker_begins_at_its_sentence() -> None:
    """The marker counts in the window: an item that fits alone but not with its marker begins without it, and no
    chunk is over the window."""
    text = "Intro.\n- Fixed the parser for nested brackets in long names here."  # the item: 10 words
    chunks = chunk_spans(text, lambda texts: [len(t.split()) for t in texts], max_tokens=10)
    assert [text[a:b] for a, b in chunks] == ["Intro.", "Fixed the parser for nested brackets in long names here."]
    chunks = chunk_spans(text, lambda texts: [len(t.split()) for t in texts], max_tokens=11)
    assert [text[a:b] for a, b in chunks] == ["Intro.", "- Fixed the parser for nested brackets in long names here."]
