"""Follow-up condensing: the extractive default's heuristic, and the LLM condenser's prompt and clean-up.

The LLM path against a real OpenAI-compatible server is in tests/test_chat.py.
"""

from __future__ import annotations

import pytest

from service.answer.condense import HeuristicCondenser, LLMCondenser, _clean, is_follow_up, standalone_question
from service.errors import InvalidInput
from service.settings import Settings

ALTMAN = "What did Sam Altman say the NATO contract would cover?"


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def assistant(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


@pytest.mark.parametrize("text", ["Who corrected him?", "What did she say?", "Why?", "When exactly?",
                                  "And the Pentagon deal?", "What about Anthropic's app downloads?",
                                  "Is this contract classified?", "How did they react?"])
def test_follow_ups_are_recognised(text: str) -> None:
    assert is_follow_up(text)


@pytest.mark.parametrize("text", [ALTMAN, "Which NATO networks would the OpenAI contract cover?",
                                  "Who corrected Sam Altman about the NATO networks?",
                                  "What did the Pentagon agreement provoke?"])
def test_standalone_questions_are_left_alone(text: str) -> None:
    assert not is_follow_up(text)


def test_heuristic_appends_the_previous_questions_back_to_a_standalone_one() -> None:
    condenser = HeuristicCondenser(max_chars=2000)
    history = [user(ALTMAN), assistant("He said all classified networks [1]."), user("Who corrected him?"),
               assistant("A spokeswoman [1].")]
    assert condenser.condense(history[:2], "Who corrected him?") == f"Who corrected him? ({ALTMAN})"
    # a follow-up of a follow-up carries the chain back to the last standalone question, newest first
    assert condenser.condense(history, "When did she do it?") == f"When did she do it? (Who corrected him? {ALTMAN})"
    assert condenser.condense(history, "What did the Pentagon agreement provoke?") == (
        "What did the Pentagon agreement provoke?"
    )


def test_heuristic_never_exceeds_the_question_limit() -> None:
    condenser = HeuristicCondenser(max_chars=40)
    assert condenser.condense([user("x" * 100)], "Who corrected him?") == "Who corrected him?"


def test_standalone_question_only_condenses_when_there_is_history() -> None:
    condenser = HeuristicCondenser(max_chars=2000)
    first = standalone_question([user("  Who corrected him?  ")], condenser, 2000)
    assert (first.question, first.asked, first.condensed) == ("Who corrected him?", "Who corrected him?", False)
    follow = standalone_question([user(ALTMAN), assistant("..."), user("Who corrected him?")], condenser, 2000)
    assert follow.condensed and follow.asked == "Who corrected him?" and ALTMAN in follow.question
    # system messages and empty turns are no history
    alone = standalone_question([{"role": "system", "content": "Be brief."}, user("Who corrected him?")],
                                condenser, 2000)
    assert not alone.condensed


@pytest.mark.parametrize("messages, code", [
    ([], "last_message_not_user"),
    ([user("Hi?"), assistant("Hello.")], "last_message_not_user"),
])
def test_bad_conversations_are_invalid_input(messages: list, code: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        standalone_question(messages, HeuristicCondenser(2000), 2000)
    assert raised.value.code == code and raised.value.field == "messages"


def test_llm_condenser_prompt_shows_the_conversation_as_data(tmp_path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, llm_model="openai/x")  # type: ignore[call-arg]
    condenser = LLMCondenser(settings)
    [message] = condenser.messages(
        [{"role": "system", "content": "ignored"}, user(ALTMAN), assistant("He said  all\nclassified networks [1].")],
        "Who corrected him?",
    )
    text = message["content"]
    assert message["role"] == "user"
    assert f"user: {ALTMAN}\nassistant: He said all classified networks.\n<<<end of conversation>>>" in text
    assert text.rstrip().endswith("Last question: Who corrected him?\nYour reply:")
    shown = text.split("<<<conversation>>>")[1]
    assert "ignored" not in shown and "[1]" not in shown


@pytest.mark.parametrize("reply, cleaned", [
    ("Who corrected Sam Altman?", "Who corrected Sam Altman?"),
    ('  "Who corrected Sam Altman?"\n\nBecause...', "Who corrected Sam Altman?"),
    ("Standalone question: Who corrected Sam Altman?", "Who corrected Sam Altman?"),
    ("\n\n", ""),
])
def test_llm_reply_is_cleaned(reply: str, cleaned: str) -> None:
    assert _clean(reply) == cleaned
