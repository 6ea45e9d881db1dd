from __future__ import annotations

import pytest

from ingest.chunking import chunk_document, chunk_spans, split_sentences
from ingest.embedding import SentenceTransformerEmbedder
from ingest.models import Document
from tests.conftest import SEEDS


@pytest.fixture(scope="module")
def count() -> object:
    # The real model's tokenizer (tokenizers only; the model weights are not loaded for this).
    return SentenceTransformerEmbedder().count_tokens


def words(text: str) -> list[int]:
    return [len(text.split())]


def test_sentences_keep_offsets_and_skip_abbreviations() -> None:
    text = "Dr. Smith went to the U.S. Civil War museum. It was closed!  Then he left.\nA new line"
    spans = split_sentences(text)
    assert [text[a:b] for a, b in spans] == [
        "Dr. Smith went to the U.S. Civil War museum.",
        "It was closed!",
        "Then he left.",
        "A new line",
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
