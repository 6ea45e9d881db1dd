"""The chat page in a real browser: Debian's headless Chromium driven by Playwright for Python, against the app
served by uvicorn on 127.0.0.1 with the real model and a real embedded Chroma.

Screenshots go to ``test-output/page/`` (CITEQA_TEST_OUTPUT overrides the folder).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, expect, sync_playwright

from tests.conftest import ROOT, SEED_QUESTION, UNANSWERABLE
from tests.servers import LiveServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
WAIT_MS = 60_000  # answers take well under a second; the margin is for a machine shared by a whole team

PAYLOAD_DOC = (
    "Velmora harbour notes <img src=x onerror=\"window.__pwned='title'\">\n"
    "🌊🌊 Storm notes.\n"
    "The keeper of the Velmora lighthouse painted the tower red in 1911"
    " <img src=x onerror=\"window.__pwned='img'\"> after the great storm.\n"
    "<script>window.__pwned = 'script'</script>\n"
    "The harbour master <b onmouseover=\"window.__pwned='hover'\">kept</b> a log of every ship that sank nearby.\n"
)
PAYLOAD_QUESTION = "When did the keeper of the Velmora lighthouse paint the tower red?"


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y --no-install-recommends chromium (.ci/run does)")
    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def output_dir() -> Path:
    folder = Path(os.environ.get("CITEQA_TEST_OUTPUT", ROOT / "test-output")) / "page"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Watch:
    """What a page did: requests it made, console errors, uncaught exceptions and dialogs."""

    def __init__(self, page: Page) -> None:
        self.requests: list[str] = []
        self.problems: list[str] = []
        self.dialogs: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"uncaught: {error}"))
        page.on("dialog", self._dialog)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and "Failed to load resource" not in message.text:
            self.problems.append(f"console: {message.text}")

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()


def open_page(browser: Browser, server: LiveServer, **context: Any) -> tuple[Page, Watch]:
    page = browser.new_context(**context).new_page()
    page.set_default_timeout(WAIT_MS)
    watch = Watch(page)
    response = page.goto(server.url + "/")
    assert response is not None and response.ok
    assert "script-src 'self'" in response.headers["content-security-policy"]
    return page, watch


def ask(page: Page, question: str) -> None:
    """Type the question and press Enter; wait until that turn has finished (answer, refusal or error)."""
    answers = page.locator(".turn-answer")
    before = answers.count()
    page.locator("#question").fill(question)
    page.locator("#question").press("Enter")
    expect(answers).to_have_count(before + 1)
    expect(answers.nth(before)).not_to_have_attribute("aria-busy", "true")
    expect(page.locator("#send")).to_be_enabled()


def api_answer(server: LiveServer, messages: list[dict[str, str]]) -> dict[str, Any]:
    return httpx.post(f"{server.url}/chat", json={"messages": messages}, timeout=60).json()


def shown(answer: str) -> str:
    """How an answer's text reads on the page: each [n] marker is a chip showing n."""
    return re.sub(r"\[(\d+(?:,\s*\d+)*)\]", lambda m: "".join(re.findall(r"\d+", m.group(1))), answer)


def test_ask_stream_cite_highlight_and_follow_up(browser: Browser, live_server: LiveServer,
                                                 output_dir: Path) -> None:
    page, watch = open_page(browser, live_server, viewport={"width": 1280, "height": 800})
    expect(page.locator("#question")).to_be_focused()

    ask(page, SEED_QUESTION)
    expected = api_answer(live_server, [{"role": "user", "content": SEED_QUESTION}])
    answer = page.locator(".turn-answer").nth(0)
    expect(answer.locator(".answer-text")).to_have_text(shown(expected["answer"]))

    chip = answer.locator(".answer-text .chip").first
    assert chip.evaluate("node => node.tagName") == "BUTTON"
    chip.click()
    mark = page.locator("#source-panel mark.cited")
    first = expected["citations"][0]
    expect(mark).to_have_text(first["quote"])
    assert mark.text_content() == first["quote"]
    expect(mark).to_be_in_viewport()
    expect(page.locator("#source-title")).to_have_text(first["title"])
    page.screenshot(path=str(output_dir / "cited-answer.png"))

    # Escape closes the source and gives the focus back to the chip
    page.keyboard.press("Escape")
    expect(page.locator("#source-panel")).to_be_hidden()
    expect(chip).to_be_focused()

    # keyboard only: from the question box, Shift+Tab reaches the last citation's chip; Enter opens it
    box = page.locator("#question")
    box.focus()
    page.keyboard.press("Shift+Tab")
    last = expected["citations"][-1]
    expect(page.locator(".cite-list .chip").last).to_be_focused()
    page.keyboard.press("Enter")
    expect(mark).to_have_text(last["quote"])
    expect(mark).to_be_in_viewport()
    page.keyboard.press("Escape")

    # Shift+Enter is a new line, not a question
    box.focus()
    page.keyboard.type("first line")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second line")
    expect(box).to_have_value("first line\nsecond line")
    expect(page.locator(".turn-answer")).to_have_count(1)

    # a follow-up, condensed with the conversation the page keeps (what it answers: tests/test_chat.py)
    ask(page, "Who corrected him?")
    follow = page.locator(".turn-answer").nth(1)
    expected = api_answer(live_server, [
        {"role": "user", "content": SEED_QUESTION},
        {"role": "assistant", "content": expected["answer"]},
        {"role": "user", "content": "Who corrected him?"},
    ])
    assert expected["condensed"] is True
    expect(follow.locator(".answer-text")).to_have_text(shown(expected["answer"]))
    expect(follow.locator(".searched")).to_contain_text(expected["question"])

    # a refusal is shown as one
    ask(page, UNANSWERABLE)
    refusal = page.locator(".turn-answer").nth(2)
    expect(refusal.locator(".answer")).to_have_class(re.compile("is-refused"))
    expect(refusal.locator(".refused-label")).to_have_text("Not in the documents")
    expect(refusal.locator(".chip")).to_have_count(0)

    assert watch.problems == [] and watch.dialogs == []
    assert all(url.startswith(live_server.url) or url.startswith("data:") for url in watch.requests), watch.requests


def test_llm_answer_streams_in_then_becomes_the_checked_text(browser: Browser, seeded_settings: Any,
                                                               embedder: Any, openai_server: Any) -> None:
    from service.app import create_app
    from tests.conftest import make_parts

    settings = seeded_settings.model_copy(update={"llm_model": "openai/test-model",
                                                  "llm_api_base": openai_server.api_base})
    openai_server.content = "The contract covers NATO's unclassified networks [1]. It is worth billions [9]."
    openai_server.chunk_delay = 0.25
    with LiveServer(create_app(settings, make_parts(settings, embedder))) as server:
        page, watch = open_page(browser, server)
        page.locator("#question").fill(SEED_QUESTION)
        page.locator("#question").press("Enter")
        streaming = page.locator(".answer.is-streaming")
        expect(streaming).to_contain_text("The contract covers")  # the first words, before the model is done
        assert page.locator(".answer-text").count() == 0
        final = page.locator(".turn-answer .answer-text")
        # the checked text replaces what streamed: the bogus [9] is gone, [1] is a chip
        expect(final).to_have_text("The contract covers NATO's unclassified networks 1. It is worth billions.")
        expect(final.locator(".chip")).to_have_count(1)
        expect(page.locator(".turn-answer .note")).to_have_text(re.compile("1 citation that matched no source"))
        assert watch.problems == []


def test_refusal_shows_the_closest_passage(browser: Browser, seeded_settings: Any, embedder: Any,
                                          output_dir: Path) -> None:
    from service.app import create_app
    from tests.conftest import make_parts

    # refuse whatever the judge's model says: the best sentence becomes the closest passage
    settings = seeded_settings.model_copy(update={"judge_refuse_threshold": 0.99})
    with LiveServer(create_app(settings, make_parts(settings, embedder))) as server:
        expected = api_answer(server, [{"role": "user", "content": SEED_QUESTION}])
        assert expected["refused"] is True and expected["citations"] == []
        closest = expected["closest"]
        assert closest is not None and closest["n"] == 0 and closest["quote"]

        page, watch = open_page(browser, server, viewport={"width": 1280, "height": 800})
        ask(page, SEED_QUESTION)
        refusal = page.locator(".turn-answer").nth(0)
        expect(refusal.locator(".answer")).to_have_class(re.compile("is-refused"))
        expect(refusal.locator(".refused-label")).to_have_text("Not in the documents")
        expect(refusal.locator(".answer-text")).to_have_text(expected["answer"])
        # no citations: no chips, no list of sources
        expect(refusal.locator(".chip")).to_have_count(0)
        expect(refusal.locator(".cite-list")).to_be_hidden()

        # under the label: "Closest passage", the quote, the title and the judge's probability, in words
        button = refusal.locator(".answer .closest-button")
        expect(button).to_have_count(1)
        assert button.evaluate("node => node.tagName") == "BUTTON"
        assert refusal.locator(".answer").evaluate(
            "body => body.querySelector('.refused-label').compareDocumentPosition("
            "body.querySelector('.closest-button')) & Node.DOCUMENT_POSITION_FOLLOWING") != 0
        odds = f"judge: {round(closest['probability'] * 100)}% likely to answer"
        expect(button.locator(".closest-label")).to_have_text("Closest passage")
        expect(button.locator(".closest-quote")).to_have_text(closest["quote"])
        expect(button.locator(".closest-title")).to_have_text(closest["title"])
        expect(button.locator(".closest-odds")).to_have_text(f"({odds})")
        expect(button).to_have_accessible_name(f"Closest passage, from {closest['title']} ({odds})")
        expect(button).to_have_accessible_description(closest["quote"])

        # clicking it opens the document with the closest sentence highlighted and in view
        button.click()
        mark = page.locator("#source-panel mark.cited")
        expect(mark).to_have_text(closest["quote"])
        assert mark.text_content() == closest["quote"]
        expect(mark).to_be_in_viewport()
        expect(page.locator("#source-title")).to_have_text(closest["title"])
        expect(page.locator("#source-meta")).to_contain_text("closest passage")
        expect(page.locator("#source-note")).to_be_hidden()
        page.screenshot(path=str(output_dir / "closest-passage.png"))
        page.keyboard.press("Escape")
        expect(page.locator("#source-panel")).to_be_hidden()
        expect(button).to_be_focused()

        # keyboard only: Shift+Tab from the question box reaches it, Enter opens it
        page.locator("#question").focus()
        page.keyboard.press("Shift+Tab")
        expect(button).to_be_focused()
        page.keyboard.press("Enter")
        expect(mark).to_have_text(closest["quote"])
        expect(mark).to_be_in_viewport()
        assert watch.problems == [] and watch.dialogs == []

        # on a phone: the card fits the width and opens the source sheet with a tap
        phone, phone_watch = open_page(browser, server, viewport={"width": 380, "height": 760}, is_mobile=True,
                                       has_touch=True)
        ask(phone, SEED_QUESTION)
        card = phone.locator(".closest-button")
        expect(card).to_be_in_viewport()
        assert phone.evaluate("document.documentElement.scrollWidth") <= 380
        box = card.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 380
        phone.screenshot(path=str(output_dir / "closest-passage-narrow.png"))
        card.tap()
        expect(phone.locator("#source-panel mark.cited")).to_have_text(closest["quote"])
        expect(phone.locator("#source-panel mark.cited")).to_be_in_viewport()
        assert phone_watch.problems == []


def test_narrow_screen(browser: Browser, live_server: LiveServer, output_dir: Path) -> None:
    page, watch = open_page(browser, live_server, viewport={"width": 380, "height": 760}, is_mobile=True,
                            has_touch=True)
    ask(page, SEED_QUESTION)
    page.locator(".answer-text .chip").first.tap()
    expect(page.locator("#source-panel mark.cited")).to_be_in_viewport()
    expect(page.locator("#close-source")).to_be_in_viewport()
    assert page.evaluate("document.documentElement.scrollWidth") <= 380
    page.screenshot(path=str(output_dir / "narrow-source.png"))
    page.locator("#close-source").tap()
    expect(page.locator("#question")).to_be_in_viewport()
    assert watch.problems == []


def test_errors_are_readable_and_the_page_keeps_working(browser: Browser, live_server: LiveServer,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from service.errors import StoreUnavailable

    page, watch = open_page(browser, live_server)
    parts = live_server.server.config.app.state.components
    errors = page.locator(".error-box")

    # 4xx: the service's own message
    ask(page, "x" * 2001)
    expect(errors.nth(0)).to_have_text(re.compile("The question is longer than 2000 characters"))

    # 5xx
    def store_down(*args: Any, **kwargs: Any) -> Any:
        raise StoreUnavailable("The document store is unavailable; try again shortly.")

    monkeypatch.setattr(parts.store, "query", store_down)
    monkeypatch.setattr(parts.store, "query_ids", store_down)  # what the retriever's dense query calls
    ask(page, SEED_QUESTION)
    expect(errors.nth(1)).to_have_text(re.compile(r"document store is unavailable.*\(HTTP 503\)"))
    monkeypatch.undo()

    # a failure in the middle of a stream: the partial text stays, marked incomplete, with the error
    def breaks(*args: Any, **kwargs: Any) -> Iterator[str]:  # (question, passages, judgement)
        yield "A first sentence [1]."
        raise RuntimeError("boom")

    monkeypatch.setattr(parts.answerer, "stream", breaks)
    ask(page, SEED_QUESTION)
    turn = page.locator(".turn-answer").nth(2)
    expect(turn.locator(".answer")).to_have_class(re.compile("is-incomplete"))
    expect(turn.locator(".error-box")).to_contain_text("Something went wrong on our side.")
    monkeypatch.undo()

    # "Try again" asks the same question again, now successfully
    turn.get_by_role("button", name="Try again").click()
    expect(page.locator(".turn-answer .answer-text .chip").first).to_be_visible()

    # the server goes away
    live_server.__exit__(None, None, None)
    ask(page, SEED_QUESTION)
    expect(page.locator(".turn-answer").last.locator(".error-box")).to_contain_text("Cannot reach citeqa")
    expect(page.locator("#send")).to_be_enabled()
    expect(page.locator("#question")).to_be_editable()
    assert [p for p in watch.problems if "ERR_CONNECTION_REFUSED" not in p] == []


def test_document_payloads_are_shown_as_text_and_run_nothing(browser: Browser, live_server: LiveServer,
                                                             tmp_path: Path, output_dir: Path) -> None:
    folder = tmp_path / "payload"
    folder.mkdir()
    (folder / "velmora.txt").write_text(PAYLOAD_DOC, encoding="utf-8")
    parts = live_server.server.config.app.state.components
    report = parts.indexer.ingest(folder, progress=False)
    assert len(report.added) == 1

    # without the Content-Security-Policy: rendering everything as text must be enough on its own
    page, watch = open_page(browser, live_server, bypass_csp=True)
    ask(page, PAYLOAD_QUESTION)
    expected = api_answer(live_server, [{"role": "user", "content": PAYLOAD_QUESTION}])
    assert expected["refused"] is False and "<img" in expected["answer"]
    citation = expected["citations"][0]
    answer = page.locator(".turn-answer").nth(0)
    expect(answer.locator(".answer-text")).to_have_text(shown(expected["answer"]))
    expect(answer.locator(".cite-title").first).to_have_text(citation["title"])
    assert "<img" in citation["title"]

    answer.locator(".answer-text .chip").first.click()
    mark = page.locator("#source-panel mark.cited")
    # the quote comes after emoji: offsets count code points in Python, UTF-16 units in JavaScript
    expect(mark).to_have_text(citation["quote"])
    expect(page.locator("#source-text")).to_contain_text("<script>window.__pwned = 'script'</script>")
    page.locator("#source-text").hover()

    ask(page, "<img src=x onerror=\"window.__pwned='question'\"><script>window.__pwned='q2'</script>")
    expect(page.locator(".turn-user .bubble").last).to_contain_text("<img src=x onerror=")

    page.wait_for_timeout(300)  # an image error handler would run by now
    page.screenshot(path=str(output_dir / "payload-as-text.png"))
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#conversation img, #source-panel img, #conversation script, #source-panel script, "
                        "#conversation b, #source-panel b").count() == 0
    assert watch.dialogs == [] and watch.problems == []
