"""The chat page in a real browser: Debian's headless Chromium driven by Playwright for Python, against the app
served by uvicorn on 127.0.0.1 with the real model and a real embedded Chroma.

Screenshots go to ``test-output/page/`` (CITEQA_TEST_OUTPUT overrides the folder).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, expect, sync_playwright

from tests.conftest import ROOT, SEED_QUESTION, UNANSWERABLE
from tests.files import pdf_pages
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

RIVER = "The river Quill floods every spring. Farmers along the Quill plant barley after the flood recedes.\n"
RIVER_QUESTION = "When does the river Quill flood?"


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
    from service.web.app import create_app
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
    from service.web.app import create_app
    from tests.conftest import make_parts

    # refused unless its best sentence very likely answers, which a figure the article never gives does not: the
    # best sentence becomes the closest passage
    settings = seeded_settings.model_copy(update={"judge_refuse_threshold": 0.99})
    question = UNANSWERABLE
    with LiveServer(create_app(settings, make_parts(settings, embedder))) as server:
        expected = api_answer(server, [{"role": "user", "content": question}])
        assert expected["refused"] is True and expected["citations"] == []
        closest = expected["closest"]
        assert closest is not None and closest["n"] == 0 and closest["quote"]

        page, watch = open_page(browser, server, viewport={"width": 1280, "height": 800})
        ask(page, question)
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
        # as the page rounds (JavaScript's Math.round: halves up, where Python's round() goes to even)
        odds = f"judge: {math.floor(closest['probability'] * 100 + 0.5)}% likely to answer"
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
        ask(phone, question)
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

    # the documents open over the conversation, at the phone's width, and close again
    page.locator("#toggle-documents").tap()
    panel = page.locator("#documents-panel")
    expect(panel).to_be_visible()
    expect(page.locator("#document-list .doc")).to_have_count(1)
    expect(page.locator("#choose-files")).to_be_in_viewport()
    assert page.evaluate("document.documentElement.scrollWidth") <= 380
    box = panel.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 380
    page.screenshot(path=str(output_dir / "narrow-documents.png"))
    # the panel covers the page: what is under it is out of reach until it closes
    assert page.evaluate("[...document.querySelectorAll('.topbar, #chat')].every(node => node.inert)")
    page.locator("#close-documents").tap()
    expect(panel).to_be_hidden()
    expect(page.locator("#toggle-documents")).to_be_focused()
    assert page.evaluate("[...document.querySelectorAll('.topbar, #chat')].every(node => !node.inert)")
    page.screenshot(path=str(output_dir / "narrow-topbar.png"))
    assert watch.problems == []


def test_no_keyboard_hint_on_a_touch_screen(browser: Browser, live_server: LiveServer) -> None:
    desk, _ = open_page(browser, live_server)
    expect(desk.locator("#composer-hint")).to_be_visible()
    expect(desk.locator("#question")).to_have_accessible_description(re.compile("Enter to send"))
    expect(desk.locator("#library-summary")).to_contain_text("drop files anywhere on this page")

    for context in ({"has_touch": True, "is_mobile": True, "viewport": {"width": 380, "height": 760}},
                    {"has_touch": True, "is_mobile": True}):
        page, watch = open_page(browser, live_server, **context)
        expect(page.locator("#library-summary")).to_contain_text("1 document is indexed")
        expect(page.locator("#composer-hint")).to_be_hidden()
        expect(page.locator("#question")).to_have_accessible_description("")
        # no dragging on a phone: the empty state says how to add documents there
        expect(page.locator("#library-summary")).not_to_contain_text("drop")
        expect(page.locator("#scope-text")).to_be_visible()
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
    # the question is back in the box, to be shortened and sent again
    expect(page.locator("#question")).to_have_value("x" * 2001)

    # 5xx
    def store_down(*args: Any, **kwargs: Any) -> Any:
        raise StoreUnavailable("The document store is unavailable; try again shortly.")

    monkeypatch.setattr(parts.store, "query", store_down)
    monkeypatch.setattr(parts.store, "query_ids", store_down)  # what the retriever's dense query calls
    ask(page, SEED_QUESTION)
    expect(errors.nth(1)).to_have_text(re.compile(r"document store is unavailable.*\(HTTP 503\)"))
    expect(page.locator("#question")).to_have_value(SEED_QUESTION)
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

    # "Try again" sends the question the box shows, now successfully; the box empties as for any question sent
    box = page.locator("#question")
    expect(box).to_have_value(SEED_QUESTION)
    turn.get_by_role("button", name="Try again").click()
    expect(page.locator(".turn-answer .answer-text .chip").first).to_be_visible()
    expect(page.locator(".turn-user .bubble").last).to_have_text(SEED_QUESTION)
    expect(box).to_have_value("")

    # a question typed while the failing one was answered is not overwritten by it
    held: list[Any] = []
    page.route(re.compile(r"/chat$"), lambda route: held.append(route))
    box.fill("y" * 2001)
    box.press("Enter")
    while not held:
        page.wait_for_timeout(50)
    box.fill("a new question, half typed")
    held[0].continue_()
    expect(page.locator(".turn-answer").last.locator(".error-box")).to_contain_text("longer than 2000 characters")
    expect(box).to_have_value("a new question, half typed")
    page.unroute(re.compile(r"/chat$"))

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


def two_page_pdf(pages: list[str]) -> bytes:
    """A valid PDF with one line of Helvetica text on each page (pypdf extracts them back)."""
    return pdf_pages([[line] for line in pages])


def drop_files(page: Page, files: dict[str, str], target: str = "#scroller") -> None:
    """Drag files from the desktop onto ``target``: dragenter, dragover and drop carrying a DataTransfer."""
    transfer = page.evaluate_handle("""files => {
        const transfer = new DataTransfer();
        for (const [name, text] of Object.entries(files)) {
            transfer.items.add(new File([text], name, { type: "text/plain" }));
        }
        return transfer;
    }""", files)
    for kind in ("dragenter", "dragover"):
        page.dispatch_event(target, kind, {"dataTransfer": transfer})
    expect(page.locator("#drop-overlay")).to_be_visible()
    page.dispatch_event(target, "drop", {"dataTransfer": transfer})
    expect(page.locator("#drop-overlay")).to_be_hidden()


def doc_row(page: Page, title: str) -> Any:
    return page.locator("#document-list .doc").filter(has=page.locator(".doc-title", has_text=title))


def result_row(page: Page, file: str) -> Any:
    return page.locator("#upload-results .upload-batch").first.locator(".result").filter(
        has=page.locator(".result-file", has_text=file))


def test_documents_upload_by_drop_ask_restrict_and_delete(browser: Browser, live_server: LiveServer,
                                                          output_dir: Path) -> None:
    page, watch = open_page(browser, live_server, viewport={"width": 1280, "height": 800})
    seed = httpx.get(f"{live_server.url}/documents").json()[0]
    expect(page.locator("#library-summary")).to_have_text(re.compile(
        r"^1 document is indexed\. To add more, drop files anywhere on this page or choose them"))
    expect(page.locator("#scope-text")).to_have_text("Asking about the one indexed document")

    # the panel: a real button that says whether it is open; the focus goes to its heading
    toggle = page.get_by_role("button", name=re.compile("^Documents"))
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#documents-title")).to_be_focused()
    row = doc_row(page, seed["title"])
    expect(row.locator(".doc-meta")).to_have_text(f"{seed['source']} · {seed['chunks']} chunks")
    page.keyboard.press("Escape")
    expect(page.locator("#documents-panel")).to_be_hidden()
    expect(toggle).to_be_focused()

    # drop a text file and a file no loader reads onto the conversation: one added, one refused and why
    drop_files(page, {"quill.txt": RIVER, "tool.exe": "MZ"})
    expect(page.locator("#documents-panel")).to_be_visible()
    added = result_row(page, "quill.txt")
    expect(added.locator(".result-status")).to_have_text("added")
    expect(added.locator(".result-detail")).to_have_text("1 chunk")
    refused = result_row(page, "tool.exe")
    expect(refused.locator(".result-status")).to_have_text("refused")
    expect(refused.locator(".result-detail")).to_have_text(re.compile(r"Unsupported file type '\.exe'"))
    expect(page.locator("#status")).to_contain_text("quill.txt: added.")
    expect(page.locator("#status")).to_contain_text("tool.exe: refused, Unsupported file type")
    river = next(d for d in httpx.get(f"{live_server.url}/documents").json() if d["source"] == "quill.txt")
    expect(doc_row(page, river["title"])).to_have_count(1)
    expect(page.locator("#document-list .doc")).to_have_count(2)
    expect(page.locator("#library-summary")).to_contain_text("2 documents are indexed")
    expect(page.locator("#scope-text")).to_have_text("Asking about all 2 documents")
    page.screenshot(path=str(output_dir / "documents-uploaded.png"))

    # ask about it: the answer cites the new document
    ask(page, RIVER_QUESTION)
    expected = api_answer(live_server, [{"role": "user", "content": RIVER_QUESTION}])
    assert expected["refused"] is False and {c["doc_id"] for c in expected["citations"]} == {river["id"]}
    answer = page.locator(".turn-answer").last
    expect(answer.locator(".answer-text")).to_have_text(shown(expected["answer"]))
    expect(answer.locator(".cite-title").first).to_have_text(river["title"])
    expect(answer.locator(".asked-in")).to_be_hidden()

    # choose only that document: untick "All documents", tick it
    all_docs = page.get_by_role("checkbox", name=re.compile("^All documents"))
    all_docs.uncheck()
    expect(page.locator("#scope-text")).to_have_text("No document chosen: choose at least one")
    # nothing chosen: nothing is asked, the question stays in the box
    before = page.locator(".turn-answer").count()
    page.locator("#question").fill(SEED_QUESTION)
    page.locator("#question").press("Enter")
    expect(all_docs).to_be_focused()
    expect(page.locator(".turn-answer")).to_have_count(before)
    expect(page.locator("#question")).to_have_value(SEED_QUESTION)

    doc_row(page, river["title"]).get_by_role("checkbox").check()
    expect(all_docs).not_to_be_checked()
    assert all_docs.evaluate("node => node.indeterminate") is True
    expect(doc_row(page, seed["title"]).get_by_role("checkbox")).not_to_be_checked()
    expect(page.locator("#scope-text")).to_have_text(f"Asking about one document: {river['title']}")

    # the seed article's question, asked only of the new document: the seed article is not searched
    with page.expect_request(re.compile(r"/chat$")) as sent:
        ask(page, SEED_QUESTION)
    assert json.loads(sent.value.post_data or "{}")["documents"] == [river["id"]]
    restricted = httpx.post(f"{live_server.url}/chat", json={
        "messages": [{"role": "user", "content": RIVER_QUESTION}, {"role": "assistant", "content": expected["answer"]},
                     {"role": "user", "content": SEED_QUESTION}], "documents": [river["id"]]}, timeout=60).json()
    assert seed["id"] not in {c["doc_id"] for c in restricted["citations"]}
    answer = page.locator(".turn-answer").last
    expect(answer.locator(".asked-in")).to_have_text(f"Asked about one document: {river['title']}")
    expect(answer.locator(".answer-text")).to_have_text(shown(restricted["answer"]))
    expect(answer.locator(".cite-title", has_text=seed["title"])).to_have_count(0)

    # delete it: a confirmation first; "Keep it" keeps it and gives the focus back
    delete = doc_row(page, river["title"]).get_by_role("button", name=f"Delete {river['title']}")
    delete.click()
    dialog = page.get_by_role("dialog", name="Delete this document?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(river["title"])
    expect(dialog.get_by_role("button", name="Keep it")).to_be_focused()
    page.screenshot(path=str(output_dir / "documents-confirm-delete.png"))
    dialog.get_by_role("button", name="Keep it").click()
    expect(dialog).to_be_hidden()
    expect(delete).to_be_focused()
    expect(page.locator("#document-list .doc")).to_have_count(2)
    # Escape is "keep it" too
    delete.click()
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.locator("#documents-panel")).to_be_visible()
    expect(page.locator("#document-list .doc")).to_have_count(2)

    delete.click()
    dialog.get_by_role("button", name="Delete").click()
    expect(doc_row(page, river["title"])).to_have_count(0)
    expect(page.locator("#document-list .doc")).to_have_count(1)
    expect(page.locator("#status")).to_contain_text(f"Deleted {river['title']}.")
    assert [d["id"] for d in httpx.get(f"{live_server.url}/documents").json()] == [seed["id"]]
    # the only chosen document is gone: questions are asked about all documents again
    expect(all_docs).to_be_checked()
    expect(page.locator("#scope-text")).to_have_text("Asking about the one indexed document")
    # the focus moves to the neighbouring document's Delete button
    expect(doc_row(page, seed["title"]).get_by_role("button", name=re.compile("^Delete"))).to_be_focused()

    with page.expect_request(re.compile(r"/chat$")) as sent:
        ask(page, RIVER_QUESTION)
    assert "documents" not in json.loads(sent.value.post_data or "{}")
    expect(page.locator(".turn-answer").last.locator(".cite-title", has_text=river["title"])).to_have_count(0)

    assert watch.problems == [] and watch.dialogs == []
    assert all(url.startswith(live_server.url) or url.startswith("data:") for url in watch.requests), watch.requests


@pytest.fixture
def empty_server(settings: Any, embedder: Any) -> Iterator[LiveServer]:
    from service.web.app import create_app
    from tests.conftest import make_parts

    with LiveServer(create_app(settings, make_parts(settings, embedder))) as server:
        yield server


def test_empty_store_says_so_and_the_file_picker_adds(browser: Browser, empty_server: LiveServer,
                                                     tmp_path: Path, output_dir: Path) -> None:
    page, watch = open_page(browser, empty_server, viewport={"width": 1280, "height": 800})
    expect(page.locator("#library-summary")).to_have_text(re.compile(
        r"^No documents are indexed yet\. To add some, drop files anywhere on this page or choose them with Add "
        r"documents \(\.txt, [.a-z, ]+\)\.$"))
    expect(page.locator("#scope-text")).to_have_text("No documents indexed yet")
    expect(page.locator("#documents-count")).to_have_text(" (0)")
    page.screenshot(path=str(output_dir / "empty-state.png"))

    river = tmp_path / "quill.txt"
    river.write_text(RIVER, encoding="utf-8")
    # "Add documents" opens the panel and the file picker
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Add documents…").click()
    assert chooser.value.is_multiple()
    chooser.value.set_files(str(river))
    expect(result_row(page, "quill.txt").locator(".result-status")).to_have_text("added")
    expect(page.locator("#library-summary")).to_have_text(re.compile(r"^1 document is indexed\. To add more"))
    expect(page.locator("#documents-count")).to_have_text(" (1)")

    # the same file again: unchanged
    page.locator("#file-input").set_input_files(str(river))
    expect(page.locator("#upload-results .upload-batch")).to_have_count(2)
    expect(result_row(page, "quill.txt").locator(".result-status")).to_have_text("unchanged")

    # a batch where no file is good is an error response: each file is still shown refused, with its reason
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n ", encoding="utf-8")
    tool = tmp_path / "tool.exe"
    tool.write_bytes(b"MZ")
    page.locator("#file-input").set_input_files([str(empty), str(tool)])
    expect(page.locator("#upload-results .upload-batch")).to_have_count(3)
    batch = page.locator("#upload-results .upload-batch").first
    expect(batch.locator(".batch-head")).to_have_text("Nothing was added.")
    expect(result_row(page, "empty.txt").locator(".result-detail")).to_have_text("The file has no text.")
    expect(result_row(page, "tool.exe").locator(".result-detail")).to_have_text(
        re.compile(r"^Unsupported file type '\.exe'; supported: .*\.txt\.$"))
    expect(page.locator("#document-list .doc")).to_have_count(1)

    ask(page, RIVER_QUESTION)
    expect(page.locator(".turn-answer .cite-title").first).to_have_text(re.compile("river Quill|quill", re.I))
    assert watch.problems == [] and watch.dialogs == []


def test_a_pdf_citation_shows_its_page(browser: Browser, empty_server: LiveServer, tmp_path: Path,
                                        output_dir: Path) -> None:
    memo = tmp_path / "depot-memo.pdf"
    memo.write_bytes(two_page_pdf(["The depot memo lists the opening hours of the Harlow depot.",
                                   "The Harlow depot closes at noon on Fridays for the weekly stock count."]))
    page, watch = open_page(browser, empty_server, viewport={"width": 1280, "height": 800})
    page.get_by_role("button", name=re.compile("^Documents")).click()
    page.locator("#file-input").set_input_files(str(memo))
    expect(result_row(page, "depot-memo.pdf").locator(".result-status")).to_have_text("added")

    question = "When does the Harlow depot close on Fridays?"
    ask(page, question)
    expected = api_answer(empty_server, [{"role": "user", "content": question}])
    assert expected["refused"] is False, expected
    citation = next(c for c in expected["citations"] if "noon" in c["quote"])
    assert citation["page"] == 2, expected
    n = citation["n"]
    answer = page.locator(".turn-answer").last
    item = answer.locator(".cite-list .cite").nth(n - 1)
    expect(item.locator(".cite-title")).to_have_text(f"{citation['title']} p. 2")
    expect(item.locator(".cite-page")).to_have_text("p. 2")
    # every chip of a PDF's citation names its page too
    for other in expected["citations"]:
        label = f", p. {other['page']}" if other.get("page") else ""
        expect(answer.locator(".cite-list .chip").nth(other["n"] - 1)).to_have_accessible_name(
            f"Source {other['n']}: {other['title']}{label}")
    chip = item.locator(".chip")
    chip.click()
    expect(page.locator("#source-meta")).to_have_text(f"depot-memo.pdf · p. 2 · source {n}")
    expect(page.locator("#source-panel mark.cited")).to_have_text(citation["quote"])
    page.screenshot(path=str(output_dir / "pdf-page-citation.png"))
    assert watch.problems == []


def test_a_long_document_list_is_filtered_and_shown_as_text(browser: Browser, live_server: LiveServer) -> None:
    docs = [{"id": f"doc-{i:03d}", "title": f"Report {i:03d} <img src=x onerror=\"window.__pwned=1\">",
             "source": f"report-{i:03d}.md", "chunks": i % 7 + 1} for i in range(250)]
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    watch = Watch(page)
    page.route(re.compile(r"/documents$"), lambda route: route.fulfill(json=docs) if route.request.method == "GET"
               else route.continue_())
    page.goto(live_server.url + "/")
    expect(page.locator("#library-summary")).to_contain_text("250 documents are indexed")
    page.locator("#toggle-documents").click()
    expect(page.locator("#document-list .doc")).to_have_count(200)
    expect(page.locator("#documents-note")).to_have_text("Showing 200 of 250; filter to find the others.")
    expect(page.locator("#document-list .doc-title").first).to_have_text(docs[0]["title"])
    assert page.locator("#documents-panel img").count() == 0

    page.get_by_role("searchbox", name="Filter the documents").fill("report-24")
    expect(page.locator("#document-list .doc")).to_have_count(10)
    expect(page.locator("#documents-note")).to_be_hidden()
    # the choice is kept across filtering: untick one, filter it out and back
    row = page.locator("#document-list .doc").first
    expect(row.locator(".doc-meta")).to_have_text("report-240.md · 3 chunks")
    row.get_by_role("checkbox").uncheck()
    expect(page.locator("#scope-text")).to_have_text("Asking about 249 of 250 documents")
    page.get_by_role("searchbox", name="Filter the documents").fill("nothing like it")
    expect(page.locator("#documents-note")).to_have_text("No document matches “nothing like it”.")
    page.get_by_role("searchbox", name="Filter the documents").fill("report-240")
    expect(page.locator("#document-list .doc-check")).not_to_be_checked()
    assert page.evaluate("window.__pwned") is None
    assert watch.problems == []
