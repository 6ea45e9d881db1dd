"""ingest/chunking.py's splitter against pysbd on tests/sentence_cases.py: the comparison its docstring records.

pysbd is not a dependency (the comparison kept this splitter); the test runs where it is installed
(``pip install pysbd==0.3.4``) and is skipped elsewhere.
"""

from __future__ import annotations

import pytest

from ingest.chunking import split_sentences
from tests.sentence_cases import CASES


def pysbd_sentences(segmenter: object, text: str) -> list[str]:
    out = []
    for span in segmenter.segment(text):  # type: ignore[attr-defined]
        start, end = span.start, span.end
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start < end:
            out.append(text[start:end])
    return out


def test_this_splitter_beats_pysbd_on_the_tricky_cases() -> None:
    pysbd = pytest.importorskip("pysbd")
    segmenter = pysbd.Segmenter(language="en", clean=False, char_span=True)
    ours = sum([text[a:b] for a, b in split_sentences(text)] == expected for _, text, expected in CASES)
    theirs = sum(pysbd_sentences(segmenter, text) == expected for _, text, expected in CASES)
    assert (len(CASES), ours, theirs) == (56, 56, 41)
