"""The answer pipeline (service/answer/pipeline.py) in process, without a model: the parts the app builds (an
embedded Chroma store, BM25, the packaged judge, the extractive answerer) over a small corpus embedded by the
hashing bag-of-words embedder of tests/fakes.py. The same behaviour over HTTP is in tests/test_api.py (slow)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from ingest.chunking import split_sentences
from service.answer.answering import build_answerer
from service.answer.citations import MARKER
from service.answer.judge import Judgement
from service.answer.pipeline import AskPipeline, AskResult
from service.answer.prompts import REFUSAL
from service.answer.retrieval import Passage, Retrieval
from service.components import Components
from service.errors import InvalidInput, LLMError, NotFound
from tests.fakes import corpus_components, doc_id

STRIPES = "What pattern of stripes does each zebra have?"
PREDATORS = "What are the main predators of zebras?"
COATS = "What colour are the striped coats of zebras?"
PENGUINS = "How do penguins keep their eggs warm in winter?"


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory) -> Components:
    """A copy of the corpus store for the module: every test here only reads it."""
    return corpus_components(tmp_path_factory)


def document_text(parts: Components, doc: str) -> str:
    return parts.store.get_document(doc)[1]


def assert_cited_exactly(parts: Components, result: AskResult) -> None:
    """Every citation quotes its document at its span, inside its chunk, and its marker is in the answer."""
    chunks = {p.chunk.id: p.chunk for p in result.passages}
    for citation in result.citations:
        assert document_text(parts, citation.doc_id)[citation.start:citation.end] == citation.quote
        chunk = chunks[citation.chunk_id]
        assert chunk.doc_id == citation.doc_id and chunk.start <= citation.start < citation.end <= chunk.end
        assert (citation.start - chunk.start, citation.end - chunk.start) in split_sentences(chunk.text)
        assert f"{citation.quote} [{citation.n}]" in result.answer
    assert [c.n for c in result.citations] == list(range(1, len(result.citations) + 1))


def test_ask_answers_with_citations_resolving_to_the_stored_documents(parts: Components) -> None:
    result = parts.pipeline.ask(STRIPES)
    assert result.refused is False and result.model == "extractive" and not result.degraded
    assert result.question == STRIPES
    assert result.citations and result.dropped_citations == 0
    zebras = doc_id(parts, "zebras.txt")
    assert {c.doc_id for c in result.citations} == {zebras}
    assert result.citations[0].quote == "Each zebra has its own unique pattern of stripes."
    assert all(c.chunk_id.startswith(zebras) and c.source == "zebras.txt" and c.page is None
               for c in result.citations)
    assert_cited_exactly(parts, result)
    assert len(result.citations) <= parts.settings.extractive_max_sentences
    assert [s["text"] for s in result.sentences] == [c.quote for c in result.citations]
    assert all(s["supported"] for s in result.sentences)
    assert 0.0 <= result.confidence <= 1.0 and result.closest is None and result.closest_probability is None
    assert set(result.timings_ms) >= {"embed", "retrieve", "answer", "total"}
    assert len(result.passages) == parts.settings.top_k


def test_an_unanswerable_question_is_refused_without_citations_but_with_the_closest_sentence(
        parts: Components) -> None:
    result = parts.pipeline.ask(PENGUINS)
    assert result.refused is True
    assert result.answer == REFUSAL == "The sources do not answer this question."
    assert result.citations == [] and result.sentences == [] and result.dropped_citations == 0
    assert 0.0 <= result.confidence <= 1.0
    closest = result.closest
    assert closest is not None and closest.n == 0 and closest.quote
    assert result.closest_probability is not None and 0.0 <= result.closest_probability <= 1.0
    assert document_text(parts, closest.doc_id)[closest.start:closest.end] == closest.quote
    assert closest.chunk_id in {p.chunk.id for p in result.passages}


@pytest.mark.parametrize("question", [STRIPES, COATS, "What are zebras?"])
def test_a_strict_refuse_threshold_answers_only_what_the_judge_is_confident_of(
        parts: Components, question: str) -> None:
    """With ``judge_refuse_threshold`` 0.99 (as tests/test_judge.py sets it), a question is refused unless the
    passages almost surely answer it or the best sentence very likely does; a refusal still reports the closest."""
    settings = parts.settings.model_copy(update={"judge_refuse_threshold": 0.99})
    strict = AskPipeline(parts.retriever, parts.judge, build_answerer(settings, parts.judge.model), settings)
    answered, result = parts.pipeline.ask(question), strict.ask(question)
    assert not answered.refused and result.confidence == answered.confidence
    judgement = parts.judge.score(question, parts.embedder.embed_cached([question])[0], result.passages)
    assert result.refused is not parts.judge.model.answers(judgement.answerable, judgement.confidence, 0.99)
    if result.refused:
        assert result.citations == [] and result.answer == REFUSAL
        assert result.closest is not None and result.closest_probability is not None
    else:
        assert (result.answer, result.citations) == (answered.answer, answered.citations)


def test_the_strict_threshold_cases_cover_both_outcomes(parts: Components) -> None:
    """The questions above are chosen so that the strict threshold refuses some and answers others."""
    confident = {q: parts.pipeline.ask(q).confidence >= parts.judge.model.answer_confidence
                 for q in (STRIPES, COATS, "What are zebras?")}
    assert set(confident.values()) == {True, False}, confident


def test_the_documents_filter_keeps_retrieval_and_citations_to_those_documents(parts: Components) -> None:
    zebras, lighthouse = doc_id(parts, "zebras.txt"), doc_id(parts, "lighthouse.txt")
    only = parts.pipeline.ask(STRIPES, k=1, documents=[zebras])
    assert len(only.passages) == 1 and only.passages[0].chunk.doc_id == zebras
    assert not only.refused and {c.doc_id for c in only.citations} == {zebras}
    assert_cited_exactly(parts, only)

    elsewhere = parts.pipeline.ask(STRIPES, documents=[lighthouse])
    assert {p.chunk.doc_id for p in elsewhere.passages} == {lighthouse}
    assert {c.doc_id for c in elsewhere.citations} <= {lighthouse}
    if elsewhere.refused and elsewhere.closest is not None:
        assert elsewhere.closest.doc_id == lighthouse

    both = parts.pipeline.ask(STRIPES, k=10, documents=[zebras, lighthouse])
    assert {p.chunk.doc_id for p in both.passages} == {zebras, lighthouse}


def test_unknown_document_ids_are_not_found_naming_them(parts: Components) -> None:
    known = doc_id(parts, "zebras.txt")
    with pytest.raises(NotFound) as raised:
        parts.pipeline.ask(STRIPES, documents=[known, "no-such-doc"])
    error = raised.value
    assert (error.code, error.field, error.status_code) == ("document_not_found", "documents", 404)
    assert "'no-such-doc'" in error.message and known not in error.message
    with pytest.raises(NotFound) as two:
        parts.pipeline.ask(STRIPES, documents=["nope-1", "nope-2"])
    assert "'nope-1'" in two.value.message and "'nope-2'" in two.value.message


@pytest.mark.parametrize(("question", "k", "field", "code"), [
    ("", None, "question", "question_empty"),
    ("   \n\t ", None, "question", "question_empty"),
    ("?!", None, "question", "question_empty"),
    ("x" * 2001, None, "question", "question_too_long"),
    ("What\x00 is this?", None, "question", "question_control_characters"),
    (42, None, "question", "question_empty"),
    ("ok?", 0, "k", "k_out_of_range"),
    ("ok?", 51, "k", "k_out_of_range"),
])
def test_bad_questions_are_invalid_input_naming_the_field(
        parts: Components, question: object, k: int | None, field: str, code: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parts.pipeline.ask(question, k=k)  # type: ignore[arg-type]
    assert (raised.value.field, raised.value.code, raised.value.status_code) == (field, code, 422)
    assert raised.value.message


def test_the_question_is_stripped_and_k_defaults_to_top_k(parts: Components) -> None:
    assert parts.pipeline.validate(f"  {STRIPES}\n", None) == (STRIPES, parts.settings.top_k)
    assert parts.pipeline.ask(f"  {STRIPES}\n").question == STRIPES


def test_events_are_sources_deltas_citations_done_and_match_ask(parts: Components) -> None:
    events = list(parts.pipeline.events(STRIPES))
    kinds = [event.kind for event in events]
    assert kinds[0] == "sources" and kinds[-2:] == ["citations", "done"]
    assert set(kinds[1:-2]) == {"delta"}
    sources = events[0].data
    assert [source["n"] for source in sources] == list(range(1, len(sources) + 1))
    assert all(source["text"] and source["doc_id"] and source["chunk_id"].startswith(source["doc_id"])
               for source in sources)
    result = events[-2].data
    assert isinstance(result, AskResult)
    assert [source["chunk_id"] for source in sources] == [p.chunk.id for p in result.passages]
    streamed = "".join(event.data for event in events if event.kind == "delta")
    assert MARKER.sub("", streamed).split() == MARKER.sub("", result.answer).split()
    assert events[-1].data == result.timings_ms
    asked = parts.pipeline.ask(STRIPES)
    assert (asked.answer, asked.citations, asked.refused) == (result.answer, result.citations, result.refused)


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_every_retrieval_mode_answers_from_the_source(parts: Components, mode: str) -> None:
    """BM25 alone embeds no question: the pipeline embeds it for the judge."""
    result = parts.pipeline.ask(PREDATORS, mode=mode)  # type: ignore[arg-type]
    assert not result.refused, (mode, result.answer)
    assert "Lions and hyenas are the main predators of zebras." in [c.quote for c in result.citations]
    assert_cited_exactly(parts, result)
    assert 0.0 <= result.confidence <= 1.0
    ranks = [p.bm25_rank if mode == "bm25" else p.dense_rank for p in result.passages]
    assert all(rank is not None for rank in ranks)


def test_no_passages_is_a_refusal_without_calling_the_answerer(
        parts: Components, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parts.retriever, "retrieve", lambda *args, **kwargs: Retrieval(passages=[]))
    result = parts.pipeline.ask(STRIPES)
    assert result.refused and result.answer == REFUSAL and result.citations == [] and result.passages == []
    assert result.closest is None and result.confidence == 0.0


def test_observers_are_told_of_every_result_and_a_failing_one_costs_nothing(parts: Components) -> None:
    pipeline = AskPipeline(parts.retriever, parts.judge, parts.answerer, parts.settings)
    seen: list[AskResult] = []

    def broken(result: AskResult) -> None:
        raise RuntimeError("observer down")

    pipeline.observers += [broken, seen.append]
    answered, refused = pipeline.ask(STRIPES), pipeline.ask(PENGUINS)
    assert seen == [answered, refused] and not answered.refused and refused.refused


class FailingLLM:
    """An answerer that says a little and then fails, like a provider dropping the stream."""

    name = "openai/failing"

    def stream(self, question: str, passages: Sequence[Passage], judgement: Judgement) -> Iterator[str]:
        yield "The zebra"
        raise LLMError("The language model failed.")


def test_an_llm_failure_falls_back_to_the_extractive_answer_marked_degraded(parts: Components) -> None:
    fallback = AskPipeline(parts.retriever, parts.judge, FailingLLM(), parts.settings, fallback=parts.answerer)
    events = list(fallback.events(STRIPES))
    deltas = [event.data for event in events if event.kind == "delta"]
    assert deltas[0] == "The zebra"  # what was streamed before the failure; a client replaces it
    result = events[-2].data
    assert result.degraded is True and result.model == "extractive"
    expected = parts.pipeline.ask(STRIPES)
    assert (result.answer, result.citations) == (expected.answer, expected.citations)
    assert "The zebra" not in result.answer

    without = AskPipeline(parts.retriever, parts.judge, FailingLLM(), parts.settings)
    with pytest.raises(LLMError):
        without.ask(STRIPES)


def test_the_corpus_store_is_the_apps_store(parts: Components) -> None:
    """What these tests run on: the embedded Chroma store and BM25 index the app builds, under the settings'
    data_dir, holding the four documents with their sentence vectors."""
    assert parts.store.embedded and parts.settings.chroma_path.is_dir()
    assert sorted(record.source for record in parts.store.documents()) == [
        "bridge.txt", "lighthouse.txt", "nato.txt", "zebras.txt"]
    chunk_ids = [cid for ids in parts.store.chunk_ids_of([r.id for r in parts.store.documents()]).values()
                 for cid in ids]
    stored = parts.store.sentence_vectors(chunk_ids)
    chunks, _ = parts.store.chunks_by_id(chunk_ids)
    assert set(stored) == set(chunk_ids)
    assert all(len(stored[cid]) == len(split_sentences(chunks[cid].text)) for cid in chunk_ids)


class ScriptedLLM:
    """An answerer that writes half of each of the passages' first sentences, in its own order, with markers, in
    pieces of 7 characters (the word-overlap and the judge's raters resolve such claims differently)."""

    name = "openai/scripted"

    def stream(self, question: str, passages: Sequence[Passage], judgement: Judgement) -> Iterator[str]:
        said = []
        for n, passage in reversed(list(enumerate(passages[:3], start=1))):
            for a, b in split_sentences(passage.chunk.text)[:3]:
                words = passage.chunk.text[a:b].split()
                said.append(f"{' '.join(words[: max(3, len(words) // 2)])} indeed. [{n}]")  # half of it, in its words
        said.append("Done here now [2].")
        text = " ".join(said)
        for start in range(0, len(text), 7):
            yield text[start: start + 7]


def test_a_stream_checked_with_the_sources_checker_is_a_prefix_of_the_final_answer(parts: Components) -> None:
    from service.answer.checked_stream import CheckedStream

    llm = AskPipeline(parts.retriever, parts.judge, ScriptedLLM(), parts.settings)
    for question in (STRIPES, "Who designed the bridge and when did the lighthouse open?"):
        events = list(llm.events(question))
        sources, result = events[0], events[-2].data
        assert sources.kind == "sources" and sources.check is not None
        raw = "".join(event.data for event in events if event.kind == "delta")
        assert sources.check(raw).text == result.answer  # the very checker of the final answer
        stream = CheckedStream(sources.check)
        released = [stream.feed(event.data) for event in events if event.kind == "delta"]
        released.append(stream.finish(result.answer))
        assert "".join(released) == result.answer  # never the whole answer again after a blank line
        assert sum(bool(r) for r in released) > 2  # released a sentence at a time, not all at the end
