"""One conversation turn (service/answer/conversation.py) in process, without a model: start_turn over the parts
the app builds (an embedded Chroma store, the packaged judge, the extractive answerer and the offline heuristic
condenser the default settings pick), with the hashing bag-of-words embedder of tests/fakes.py. The same turns over
HTTP are in tests/test_chat.py (slow)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pytest

from service.answer.condense import HeuristicCondenser, Message, Standalone
from service.answer.conversation import Turn, start_turn
from service.answer.pipeline import AskResult
from service.components import Components
from service.errors import InvalidInput, LLMError, NotFound, StoreUnavailable
from tests.fakes import corpus_components, doc_id

STRIPES = "What pattern of stripes does each zebra have?"
LIGHTHOUSE_Q = "Where does the Eddystone Lighthouse stand?"
BRIDGE_Q = "What does the Clifton Suspension Bridge span?"
WHO = "Who designed it?"


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def assistant(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory) -> Components:
    """A copy of the corpus store for the module: every test here only reads it."""
    return corpus_components(tmp_path_factory)


class RecordingCondenser:
    """Condenses like the default, remembering that it was asked."""

    name = "recording"

    def __init__(self, reply: str | None = None) -> None:
        self.calls: list[tuple[list[Message], str]] = []
        self.reply = reply

    def condense(self, history: Sequence[Message], question: str) -> str:
        self.calls.append((list(history), question))
        return self.reply if self.reply is not None else HeuristicCondenser(2000).condense(history, question)


class FailingCondenser:
    name = "openai/failing"

    def condense(self, history: Sequence[Message], question: str) -> str:
        raise LLMError("The language model failed.")


def kinds(turn: Turn) -> tuple[list[str], AskResult, object]:
    events = list(turn.events)
    result = next(event.data for event in events if event.kind == "citations")
    return [event.kind for event in events], result, events[-1].data


def test_the_default_condenser_is_the_offline_heuristic(parts: Components) -> None:
    assert parts.settings.llm_model == "extractive"
    assert isinstance(parts.condenser, HeuristicCondenser) and parts.condenser.name == "heuristic"


def test_a_first_question_is_used_as_asked_and_answered_like_ask(parts: Components) -> None:
    turn = start_turn(parts, [user(f"  {STRIPES} ")])
    assert turn.standalone == Standalone(STRIPES, STRIPES, False)
    result = turn.result()
    assert result.question == STRIPES and not result.refused and result.model == "extractive"
    assert {c.doc_id for c in result.citations} == {doc_id(parts, "zebras.txt")}
    assert set(result.timings_ms) >= {"condense", "embed", "retrieve", "answer", "total"}
    assert result.timings_ms["total"] >= result.timings_ms["condense"] >= 0.0
    asked = parts.pipeline.ask(STRIPES)
    assert (asked.answer, asked.citations, asked.refused) == (result.answer, result.citations, result.refused)


def test_a_turn_streams_sources_deltas_citations_done_with_the_condense_time(parts: Components) -> None:
    turn = start_turn(parts, [user(STRIPES)])
    names, result, done = kinds(turn)
    assert names[0] == "sources" and names[-2:] == ["citations", "done"] and set(names[1:-2]) == {"delta"}
    assert done == result.timings_ms and "condense" in result.timings_ms
    again = start_turn(parts, [user(STRIPES)]).result()
    assert (again.answer, again.citations) == (result.answer, result.citations)


@pytest.mark.parametrize(("first", "source"), [(LIGHTHOUSE_Q, "lighthouse.txt"), (BRIDGE_Q, "bridge.txt")])
def test_a_follow_up_is_condensed_with_the_earlier_question_and_retrieves_what_it_points_to(
        parts: Components, first: str, source: str) -> None:
    """'Who designed it?' after a question about the lighthouse is asked about the lighthouse; after one about the
    bridge, about the bridge. The assistant's answer is not used."""
    answer = "It is made of granite [1]."
    turn = start_turn(parts, [user(first), assistant(answer), user(WHO)])
    assert turn.standalone == Standalone(f"{WHO} ({first})", WHO, True)
    result = turn.result()
    assert result.question == f"{WHO} ({first})" and "granite" not in result.question
    wanted = doc_id(parts, source)
    assert result.passages[0].chunk.doc_id == wanted
    assert {c.doc_id for c in result.citations} <= {wanted}
    assert 0.0 <= result.confidence <= 1.0


def test_a_follow_up_of_a_follow_up_carries_the_chain_back_to_the_standalone_question(parts: Components) -> None:
    messages = [user(LIGHTHOUSE_Q), assistant("On rocks [1]."), user(WHO), assistant("James Douglass [1]."),
                user("When was it completed?")]
    turn = start_turn(parts, messages)
    assert turn.standalone.question == f"When was it completed? ({WHO} {LIGHTHOUSE_Q})"
    assert turn.result().passages[0].chunk.doc_id == doc_id(parts, "lighthouse.txt")


def test_a_follow_up_without_history_is_not_condensed(parts: Components) -> None:
    alone = start_turn(parts, [{"role": "system", "content": "Be brief."}, user(WHO)])
    assert alone.standalone == Standalone(WHO, WHO, False)
    assert alone.result().question == WHO


def test_a_question_that_stands_alone_is_not_rewritten_after_history(parts: Components) -> None:
    turn = start_turn(parts, [user(LIGHTHOUSE_Q), assistant("On rocks [1]."), user(STRIPES)])
    assert turn.standalone == Standalone(STRIPES, STRIPES, False)


def test_an_unusable_condensed_question_falls_back_to_the_question_as_asked(parts: Components) -> None:
    for reply in ("   ", "x" * 2001):
        turn = start_turn(dataclasses.replace(parts, condenser=RecordingCondenser(reply)),
                          [user(LIGHTHOUSE_Q), assistant("On rocks."), user(WHO)])
        assert turn.standalone == Standalone(WHO, WHO, False)


@pytest.mark.parametrize(("messages", "k", "field", "code"), [
    ([], None, "messages", "last_message_not_user"),
    ([user("Hi?"), assistant("Hello.")], None, "messages", "last_message_not_user"),
    ([user("   ")], None, "messages", "question_empty"),
    ([user(LIGHTHOUSE_Q), assistant("On rocks."), user("")], None, "messages", "question_empty"),
    ([user("?!")], None, "messages", "question_empty"),
    ([user("x" * 2001)], None, "messages", "question_too_long"),
    ([user(LIGHTHOUSE_Q), assistant("On rocks."), user("What\x00 is it?")], None, "messages",
     "question_control_characters"),
    ([user("ok?")], 0, "k", "k_out_of_range"),
    ([user("ok?")], 51, "k", "k_out_of_range"),
])
def test_bad_turns_are_invalid_input_before_any_model_is_called(
        parts: Components, messages: list[dict[str, str]], k: int | None, field: str, code: str) -> None:
    condenser = RecordingCondenser()
    with pytest.raises(InvalidInput) as raised:
        start_turn(dataclasses.replace(parts, condenser=condenser), messages, k=k)
    error = raised.value
    assert (error.field, error.code, error.status_code) == (field, code, 422) and error.message
    assert condenser.calls == []


def test_an_unknown_document_is_not_found_before_any_event(parts: Components) -> None:
    with pytest.raises(NotFound) as raised:
        start_turn(parts, [user(STRIPES)], documents=[doc_id(parts, "zebras.txt"), "no-such-doc"])
    assert (raised.value.field, raised.value.code) == ("documents", "document_not_found")
    assert "'no-such-doc'" in raised.value.message


def test_the_documents_filter_and_k_reach_the_pipeline(parts: Components) -> None:
    bridge = doc_id(parts, "bridge.txt")
    result = start_turn(parts, [user(LIGHTHOUSE_Q), assistant("On rocks."), user(WHO)], k=1,
                        documents=[bridge]).result()
    assert [p.chunk.doc_id for p in result.passages] == [bridge]
    assert {c.doc_id for c in result.citations} <= {bridge}


def test_a_failing_condenser_fails_the_turn_before_any_event(parts: Components) -> None:
    failing = dataclasses.replace(parts, condenser=FailingCondenser())
    with pytest.raises(LLMError):
        start_turn(failing, [user(LIGHTHOUSE_Q), assistant("On rocks."), user(WHO)])
    # a first question needs no condensing, so the condenser is never asked
    assert start_turn(failing, [user(STRIPES)]).standalone.condensed is False


def test_a_store_down_fails_the_turn_before_any_event(parts: Components, monkeypatch: pytest.MonkeyPatch) -> None:
    def down(*args: object, **kwargs: object) -> None:
        raise StoreUnavailable("The document store is unavailable; try again shortly.")

    monkeypatch.setattr(parts.retriever, "retrieve", down)
    with pytest.raises(StoreUnavailable):
        start_turn(parts, [user(STRIPES)])
