// citeqa chat page. Plain JavaScript, no dependencies.
//
// Rule: everything that comes from the server (answers, quotes, titles, document text, error messages) is put
// into the page as text (textContent, text nodes, setAttribute), never as HTML.
"use strict";

const MARKERS = /\[(\d{1,4}(?:\s*,\s*\d{1,4})*)\]/g;

const $ = (id) => document.getElementById(id);
const ui = {
  scroller: $("scroller"),
  conversation: $("conversation"),
  intro: $("intro"),
  form: $("composer"),
  question: $("question"),
  send: $("send"),
  newChat: $("new-chat"),
  panel: $("source-panel"),
  sourceTitle: $("source-title"),
  sourceMeta: $("source-meta"),
  sourceNote: $("source-note"),
  sourceText: $("source-text"),
  closeSource: $("close-source"),
  status: $("status"),
};

const state = {
  history: [], // [{role, content}] of answered turns, sent with every question
  busy: false,
  controller: null, // aborts the answer being streamed
  activeChip: null,
  sourceRequest: 0,
};

// ---- small helpers --------------------------------------------------------------------------------------

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function announce(message) {
  ui.status.textContent = "";
  window.setTimeout(() => { ui.status.textContent = message; }, 50);
}

class ApiError extends Error {
  constructor(message, code, status) {
    super(message);
    this.code = code || "error";
    this.status = status || 0;
  }
}

async function errorFrom(response) {
  let body = null;
  try { body = await response.json(); } catch (_) { /* not JSON */ }
  const error = body && body.error ? body.error : {};
  const status = response.status;
  let message = typeof error.message === "string" && error.message ? error.message : "";
  if (!message) {
    message = status >= 500 ? "The service had a problem answering." : "The service could not take this request.";
  }
  if (status >= 500) message += ` (HTTP ${status})`;
  return new ApiError(message, error.code, status);
}

function describe(error, started) {
  if (error instanceof ApiError) return error.message;
  if (error && error.name === "AbortError") return "Stopped.";
  if (started) return "The connection to citeqa was lost before the answer was complete. Try again.";
  return "Cannot reach citeqa. Check that the service is running, then try again.";
}

// Python counts characters in code points, JavaScript strings in UTF-16 units: convert an offset.
function utf16Offset(text, codePoints) {
  let index = 0;
  for (let n = 0; n < codePoints && index < text.length; n += 1) {
    index += text.codePointAt(index) > 0xffff ? 2 : 1;
  }
  return index;
}

// ---- reading Server-Sent Events from a fetch response ---------------------------------------------------

async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
    buffer = buffer.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = parseEvent(block);
      if (event) onEvent(event.kind, event.data);
    }
    if (done) return;
  }
}

function parseEvent(block) {
  let kind = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith("event:")) kind = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  if (!data.length) return null;
  return { kind, data: JSON.parse(data.join("\n")) };
}

// ---- the conversation -----------------------------------------------------------------------------------

function addUserTurn(question) {
  const item = el("li", "turn turn-user");
  item.append(el("p", "turn-label visually-hidden", "You asked"));
  item.append(el("div", "bubble", question));
  ui.conversation.append(item);
  followEnd(true);
  return item;
}

// Keep the newest text in view while it streams, unless the reader has scrolled up to read something else.
function nearEnd() {
  const box = ui.scroller;
  return box.scrollHeight - box.scrollTop - box.clientHeight < 80;
}

function followEnd(follow) {
  if (follow) ui.scroller.scrollTop = ui.scroller.scrollHeight;
}

class AnswerView {
  constructor(question) {
    this.question = question;
    this.started = false;
    this.item = el("li", "turn turn-answer");
    this.item.setAttribute("aria-busy", "true");
    this.item.append(el("p", "turn-label visually-hidden", "Answer"));
    this.searched = el("p", "searched");
    this.searched.hidden = true;
    this.body = el("div", "answer is-waiting");
    this.body.append(el("span", "thinking", "Searching the documents…"));
    this.notes = el("div", "notes");
    this.cites = el("ol", "cite-list");
    this.cites.hidden = true;
    this.item.append(this.searched, this.body, this.notes, this.cites);
    ui.conversation.append(this.item);
    followEnd(true);
  }

  sources(data) {
    if (data.condensed) {
      this.searched.hidden = false;
      this.searched.replaceChildren(el("span", "searched-label", "Searched for "), el("q", null, data.question));
    }
    const count = (data.passages || []).length;
    this.body.firstChild.textContent = count ? `Reading ${count} passage${count === 1 ? "" : "s"}…` : "Nothing found…";
  }

  delta(text) {
    if (!this.started) {
      this.started = true;
      this.body.replaceChildren();
      this.body.className = "answer is-streaming";
    }
    const follow = nearEnd();
    this.body.append(document.createTextNode(text));
    followEnd(follow);
  }

  finish(result) {
    const follow = nearEnd();
    const byNumber = new Map(result.citations.map((c) => [c.n, c]));
    this.body.className = result.refused ? "answer is-refused" : "answer";
    this.body.replaceChildren();
    if (result.refused) this.body.append(el("span", "refused-label", "Not in the documents"));
    const text = el("p", "answer-text");
    renderAnswer(text, result.answer, byNumber);
    this.body.append(text);
    if (result.refused && result.closest) this.body.append(closestView(result.closest));
    this.notes.replaceChildren();
    if (result.degraded) {
      this.notes.append(el("p", "note", "The language model failed; this answer was picked from the sources instead."));
    }
    if (result.dropped_citations) {
      const n = result.dropped_citations;
      this.notes.append(el("p", "note", `${n} citation${n === 1 ? "" : "s"} that matched no source ${n === 1 ? "was" : "were"} removed.`));
    }
    this.cites.replaceChildren(...result.citations.map((c) => citationItem(c)));
    this.cites.hidden = result.citations.length === 0;
    this.item.removeAttribute("aria-busy");
    followEnd(follow);
    const count = result.citations.length;
    let message = `Answer ready, with ${count} source${count === 1 ? "" : "s"}.`;
    if (result.refused) {
      message = "The documents do not answer this question."
        + (result.closest ? " The closest passage is shown below it." : "");
    }
    announce(message);
  }

  fail(message) {
    this.item.removeAttribute("aria-busy");
    const box = el("div", "error-box");
    box.setAttribute("role", "alert");
    box.append(el("p", "error-text", message));
    const retry = el("button", "quiet-button", "Try again");
    retry.type = "button";
    retry.addEventListener("click", () => {
      this.item.previousElementSibling?.remove();
      this.item.remove();
      ask(this.question);
    });
    box.append(retry);
    if (this.started) {
      this.body.className = "answer is-incomplete";
    } else {
      this.body.remove();
    }
    this.item.append(box);
    followEnd(true);
  }
}

function renderAnswer(container, answer, byNumber) {
  let last = 0;
  for (const match of answer.matchAll(MARKERS)) {
    container.append(document.createTextNode(answer.slice(last, match.index)));
    const numbers = match[1].split(",").map((part) => Number(part.trim()));
    const group = el("span", "chips");
    for (const n of numbers) {
      const citation = byNumber.get(n);
      group.append(citation ? chip(citation) : document.createTextNode(`[${n}]`));
    }
    container.append(group);
    last = match.index + match[0].length;
  }
  container.append(document.createTextNode(answer.slice(last)));
}

function chip(citation) {
  const button = el("button", "chip", String(citation.n));
  button.type = "button";
  button.dataset.n = String(citation.n);
  button.setAttribute("aria-label", `Source ${citation.n}: ${citation.title || citation.source}`);
  button.title = citation.title || citation.source;
  button.addEventListener("click", () => openSource(citation, button));
  return button;
}

function citationItem(citation) {
  const item = el("li", "cite");
  item.append(chip(citation));
  const text = el("div", "cite-text");
  text.append(el("span", "cite-title", citation.title || citation.source));
  text.append(el("span", "cite-quote", citation.quote));
  item.append(text);
  return item;
}

// The judge's probability in words: "31% likely to answer" (never "0%" or "100%" for what is neither).
function likelihood(probability) {
  if (typeof probability !== "number" || !Number.isFinite(probability)) return "";
  const p = Math.min(1, Math.max(0, probability));
  const percent = Math.round(p * 100);
  let shown = `${percent}%`;
  if (percent === 0 && p > 0) shown = "under 1%";
  else if (percent === 100 && p < 1) shown = "over 99%";
  return `judge: ${shown} likely to answer`;
}

let closestIds = 0;

// A refusal's best candidate sentence: one button (like a citation chip) that opens it in its document.
function closestView(closest) {
  const box = el("div", "closest");
  const title = closest.title || closest.source;
  const odds = likelihood(closest.probability);
  const button = el("button", "closest-button");
  button.type = "button";
  button.setAttribute("aria-label", `Closest passage, from ${title}${odds ? ` (${odds})` : ""}`);
  const head = el("span", "closest-head");
  head.append(el("span", "closest-label", "Closest passage"));
  if (odds) head.append(el("span", "closest-odds", `(${odds})`));
  const quote = el("q", "closest-quote", closest.quote);
  quote.id = `closest-quote-${++closestIds}`;
  button.setAttribute("aria-describedby", quote.id);
  button.append(head, quote, el("span", "closest-title", title));
  button.addEventListener("click", () => openSource(closest, button));
  box.append(button);
  return box;
}

// ---- asking ---------------------------------------------------------------------------------------------

function setBusy(busy) {
  state.busy = busy;
  ui.send.disabled = busy;
  ui.send.textContent = busy ? "Answering…" : "Ask";
}

async function ask(question) {
  question = question.trim();
  if (!question || state.busy) return;
  ui.intro.hidden = true;
  setBusy(true);
  const messages = [...state.history, { role: "user", content: question }];
  addUserTurn(question);
  const view = new AnswerView(question);
  const controller = new AbortController();
  state.controller = controller;
  let result = null;
  try {
    const response = await fetch("/chat", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify({ messages, stream: true }),
      signal: controller.signal,
    });
    if (!response.ok) throw await errorFrom(response);
    await readEvents(response, (kind, data) => {
      if (kind === "sources") view.sources(data);
      else if (kind === "delta") view.delta(data.text);
      else if (kind === "citations") { result = data; view.finish(data); }
      else if (kind === "error") {
        const error = data.error || {};
        throw new ApiError(error.message || "The answer failed.", error.code, 0);
      }
    });
    if (!result) throw new Error("stream ended early");
    state.history.push({ role: "user", content: question }, { role: "assistant", content: result.answer });
  } catch (error) {
    if (!controller.signal.aborted) {
      view.fail(describe(error, view.started));
      announce(describe(error, view.started));
    }
  } finally {
    if (state.controller === controller) state.controller = null;
    setBusy(false);
  }
}

// ---- the sources panel ----------------------------------------------------------------------------------

// Opens a citation, or a refusal's closest passage (the same fields, n = 0), with its span highlighted.
async function openSource(citation, button) {
  const request = ++state.sourceRequest;
  if (state.activeChip) state.activeChip.removeAttribute("aria-current");
  state.activeChip = button;
  button.setAttribute("aria-current", "true");
  ui.panel.hidden = false;
  document.body.classList.add("source-open");
  ui.sourceTitle.textContent = citation.title || citation.source;
  ui.sourceMeta.textContent = `${citation.source} · ${citation.n ? `source ${citation.n}` : "closest passage"}`;
  ui.sourceNote.hidden = true;
  ui.sourceText.replaceChildren(el("p", "thinking", "Opening the document…"));
  ui.sourceTitle.focus({ preventScroll: true });
  let doc;
  try {
    const response = await fetch(`/documents/${encodeURIComponent(citation.doc_id)}`);
    if (!response.ok) throw await errorFrom(response);
    doc = await response.json();
  } catch (error) {
    if (request !== state.sourceRequest) return;
    const box = el("div", "error-box", describe(error, false));
    box.setAttribute("role", "alert");
    ui.sourceText.replaceChildren(box);
    return;
  }
  if (request !== state.sourceRequest) return; // another chip was clicked meanwhile
  const text = doc.text;
  const start = utf16Offset(text, citation.start);
  const end = utf16Offset(text, citation.end);
  const mark = el("mark", "cited", text.slice(start, end));
  ui.sourceText.replaceChildren(document.createTextNode(text.slice(0, start)), mark,
    document.createTextNode(text.slice(end)));
  if (mark.textContent !== citation.quote) {
    ui.sourceNote.textContent = "This document changed after the answer was written; the highlight may be off.";
    ui.sourceNote.hidden = false;
  }
  // scroll the document, not the page: the conversation stays where the reader left it
  ui.sourceText.scrollTop = Math.max(0, mark.offsetTop - ui.sourceText.clientHeight / 3);
}

function closeSource() {
  ui.panel.hidden = true;
  document.body.classList.remove("source-open");
  state.sourceRequest += 1;
  const chipToFocus = state.activeChip;
  if (state.activeChip) state.activeChip.removeAttribute("aria-current");
  state.activeChip = null;
  if (chipToFocus && document.contains(chipToFocus)) chipToFocus.focus();
}

// ---- wiring ---------------------------------------------------------------------------------------------

function resizeBox() {
  ui.question.style.height = "auto";
  ui.question.style.height = `${Math.min(ui.question.scrollHeight, 200)}px`;
}

ui.form.addEventListener("submit", (event) => {
  event.preventDefault();
  if (state.busy || !ui.question.value.trim()) return;
  const question = ui.question.value;
  ui.question.value = "";
  resizeBox();
  ask(question);
});

ui.question.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    ui.form.requestSubmit();
  }
});
ui.question.addEventListener("input", resizeBox);

ui.closeSource.addEventListener("click", closeSource);
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && !ui.panel.hidden) closeSource();
});

ui.newChat.addEventListener("click", () => {
  if (state.controller) state.controller.abort();
  state.history = [];
  ui.conversation.replaceChildren();
  ui.intro.hidden = false;
  if (!ui.panel.hidden) closeSource();
  ui.question.focus();
});

ui.question.focus();
