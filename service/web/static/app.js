// citeqa chat page. Plain JavaScript, no dependencies.
//
// Rule: everything that comes from the server (answers, quotes, titles, document text, error messages) is put
// into the page as text (textContent, text nodes, setAttribute), never as HTML.
"use strict";

const MARKERS = /\[(\d{1,4}(?:\s*,\s*\d{1,4})*)\]/g;
const FILE_KINDS = ".txt, .md, .rst, .html, .pdf, .docx or .jsonl"; // what ingest/loaders.py reads (LOADABLE)
const MAX_CHOSEN = 1000; // most document ids a question may be restricted to (the API's limit)
const SHOWN_DOCUMENTS = 200; // rows of the documents list drawn at once; the filter finds the others
const SHOWN_RESULTS = 50; // rows of one upload's results
const KEPT_BATCHES = 5; // uploads whose results stay in the panel
const TOUCH = window.matchMedia("(hover: none) and (pointer: coarse)");
const NARROW = window.matchMedia("(max-width: 56rem)"); // the style sheet's one-column layout

const $ = (id) => document.getElementById(id);
const ui = {
  topbar: document.querySelector(".topbar"),
  chat: $("chat"),
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
  hint: $("composer-hint"),
  scopeText: $("scope-text"),
  scopeChange: $("scope-change"),
  librarySummary: $("library-summary"),
  introAdd: $("intro-add"),
  docToggle: $("toggle-documents"),
  docCount: $("documents-count"),
  docPanel: $("documents-panel"),
  docTitle: $("documents-title"),
  closeDocs: $("close-documents"),
  chooseFiles: $("choose-files"),
  fileInput: $("file-input"),
  fileKinds: $("file-kinds"),
  uploadResults: $("upload-results"),
  docError: $("documents-error"),
  allDocs: $("all-documents"),
  allDocsLabel: $("all-documents-label"),
  docFilterLabel: $("doc-filter-label"),
  docFilter: $("doc-filter"),
  docList: $("document-list"),
  docNote: $("documents-note"),
  dropOverlay: $("drop-overlay"),
  confirm: $("confirm-delete"),
  confirmText: $("confirm-text"),
  confirmOk: $("confirm-ok"),
  confirmCancel: $("confirm-cancel"),
};

const state = {
  history: [], // [{role, content}] of answered turns, sent with every question
  busy: false,
  controller: null, // aborts the answer being streamed
  activeChip: null,
  sourceRequest: 0,
  docs: [], // [{id, title, source, chunks}], sorted by title
  docsLoaded: false,
  docsRequest: 0,
  chosen: null, // the documents to ask about: null = all of them, else a Set of ids
  filter: "",
  pendingDelete: null, // {doc, button} while the confirmation is open
  dragDepth: 0,
  dragTimer: 0,
};

// ---- small helpers --------------------------------------------------------------------------------------

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function plural(n, word) {
  return `${n.toLocaleString("en")} ${word}${n === 1 ? "" : "s"}`;
}

// A PDF citation's page (1-based): "p. 3"; nothing for other documents.
function pageLabel(citation) {
  const page = citation && citation.page;
  return Number.isInteger(page) && page > 0 ? `p. ${page}` : "";
}

function withPage(text, citation) {
  const page = pageLabel(citation);
  return page ? `${text}, ${page}` : text;
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
  constructor(question, documents) {
    this.question = question;
    this.started = false;
    this.item = el("li", "turn turn-answer");
    this.item.setAttribute("aria-busy", "true");
    this.item.append(el("p", "turn-label visually-hidden", "Answer"));
    this.searched = el("p", "searched");
    this.searched.hidden = true;
    this.scope = el("p", "asked-in");
    this.scope.hidden = !documents;
    if (documents) this.scope.textContent = askedIn(documents);
    this.body = el("div", "answer is-waiting");
    this.body.append(el("span", "thinking", "Searching the documents…"));
    this.notes = el("div", "notes");
    this.cites = el("ol", "cite-list");
    this.cites.hidden = true;
    this.item.append(this.scope, this.searched, this.body, this.notes, this.cites);
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
    // the failed question is back in the box (see ask); Try again sends it again and, if the box still shows
    // it, empties the box as sending a question does (a failure puts it back)
    retry.addEventListener("click", () => {
      if (state.busy || !choiceReady()) return;
      this.item.previousElementSibling?.remove();
      this.item.remove();
      if (ui.question.value.trim() === this.question) {
        ui.question.value = "";
        resizeBox();
      }
      if (!TOUCH.matches) ui.question.focus({ preventScroll: true });
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
  button.setAttribute("aria-label", `Source ${citation.n}: ${withPage(citation.title || citation.source, citation)}`);
  button.title = withPage(citation.title || citation.source, citation);
  button.addEventListener("click", () => openSource(citation, button));
  return button;
}

function citationItem(citation) {
  const item = el("li", "cite");
  item.append(chip(citation));
  const text = el("div", "cite-text");
  const title = el("span", "cite-title", citation.title || citation.source);
  const page = pageLabel(citation);
  if (page) title.append(" ", el("span", "cite-page", page));
  text.append(title);
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
  const title = withPage(closest.title || closest.source, closest);
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
  const documents = chosenIds();
  addUserTurn(question);
  const view = new AnswerView(question, documents);
  const controller = new AbortController();
  state.controller = controller;
  let result = null;
  try {
    const response = await fetch("/chat", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify(documents ? { messages, stream: true, documents } : { messages, stream: true }),
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
      if (error instanceof ApiError && error.status === 404) loadDocuments(); // a chosen document went away
      // keep the question where it can be read, edited and sent again (unless a new one is being typed)
      if (!ui.question.value.trim()) {
        ui.question.value = question;
        resizeBox();
      }
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
  const page = pageLabel(citation);
  ui.sourceMeta.textContent = `${citation.source}${page ? ` · ${page}` : ""} · `
    + (citation.n ? `source ${citation.n}` : "closest passage");
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

// ---- the documents: list, choice, upload, delete -------------------------------------------------------

const byTitle = (a, b) => (a.title || a.source).localeCompare(b.title || b.source, undefined, { sensitivity: "base" })
  || a.id.localeCompare(b.id);

function docName(doc) {
  return doc.title || doc.source || doc.id;
}

async function loadDocuments() {
  const request = ++state.docsRequest;
  let error = "";
  let list = null;
  try {
    const response = await fetch("/documents", { headers: { Accept: "application/json" } });
    if (!response.ok) throw await errorFrom(response);
    list = await response.json();
  } catch (failure) {
    error = describe(failure, false);
  }
  if (request !== state.docsRequest) return; // a newer listing is on its way
  if (Array.isArray(list)) {
    state.docs = list.filter((doc) => doc && typeof doc.id === "string").sort(byTitle);
    state.docsLoaded = true;
    pruneChoice();
  }
  ui.docError.textContent = error ? `The documents could not be listed: ${error}` : "";
  ui.docError.hidden = !error;
  renderDocuments();
  if (error && !state.docsLoaded) ui.librarySummary.textContent = `The documents could not be listed: ${error}`;
}

// ids that no longer exist leave the choice; a choice emptied that way (or naming everything) becomes "all"
function pruneChoice() {
  if (!state.chosen) return;
  const ids = new Set(state.docs.map((doc) => doc.id));
  const before = state.chosen.size;
  state.chosen = new Set([...state.chosen].filter((id) => ids.has(id)));
  if ((before && !state.chosen.size) || (ids.size && state.chosen.size === ids.size)) state.chosen = null;
}

function chosenIds() {
  if (!state.chosen) return null;
  return state.docs.filter((doc) => state.chosen.has(doc.id)).map((doc) => doc.id);
}

function isChosen(id) {
  return !state.chosen || state.chosen.has(id);
}

function askedIn(ids) {
  if (ids.length === 1) {
    const doc = state.docs.find((d) => d.id === ids[0]);
    return `Asked about one document: ${doc ? docName(doc) : ids[0]}`;
  }
  return `Asked about ${ids.length} of ${plural(state.docs.length, "document")}`;
}

// Before a question is sent: the choice must name at least one document (and no more than the API takes).
function choiceReady() {
  const ids = chosenIds();
  if (!ids || (ids.length && ids.length <= MAX_CHOSEN)) return true;
  const message = ids.length ? `Choose at most ${MAX_CHOSEN.toLocaleString("en")} documents, or all of them.`
    : "Choose at least one document to ask about, or all of them.";
  openDocuments(false);
  ui.allDocs.focus();
  announce(message);
  return false;
}

function renderDocuments() {
  const count = state.docs.length;
  ui.docCount.textContent = state.docsLoaded ? ` (${count.toLocaleString("en")})` : "";
  renderLibrarySummary();
  ui.allDocsLabel.textContent = state.docsLoaded ? `All documents (${count.toLocaleString("en")})` : "All documents";
  ui.docFilterLabel.hidden = count <= 8 && !state.filter;
  renderList();
  updateChoice();
}

// The empty state: how many documents are indexed and how to add more.
function renderLibrarySummary() {
  if (!state.docsLoaded) return;
  const count = state.docs.length;
  const how = TOUCH.matches ? "choose files with Add documents" : "drop files anywhere on this page or choose them with Add documents";
  ui.librarySummary.textContent = count
    ? `${plural(count, "document")} ${count === 1 ? "is" : "are"} indexed. To add more, ${how} (${FILE_KINDS}).`
    : `No documents are indexed yet. To add some, ${how} (${FILE_KINDS}).`;
}

function renderList() {
  // the list is redrawn: give the focus back to the same control of the same document afterwards
  const focusKey = ui.docList.contains(document.activeElement) ? document.activeElement.dataset.focusKey : null;
  const needle = state.filter.trim().toLocaleLowerCase();
  const matching = needle
    ? state.docs.filter((doc) => `${doc.title}\n${doc.source}`.toLocaleLowerCase().includes(needle))
    : state.docs;
  const rows = matching.slice(0, SHOWN_DOCUMENTS).map(docRow);
  ui.docList.replaceChildren(...rows);
  let note = "";
  if (!state.docsLoaded) note = "Listing the documents…";
  else if (!state.docs.length) note = "No documents yet.";
  else if (!matching.length) note = `No document matches “${state.filter.trim()}”.`;
  else if (matching.length > rows.length) {
    note = `Showing ${rows.length.toLocaleString("en")} of ${matching.length.toLocaleString("en")}; filter to find the others.`;
  }
  ui.docNote.textContent = note;
  ui.docNote.hidden = !note;
  if (focusKey) {
    const target = [...ui.docList.querySelectorAll("[data-focus-key]")].find((n) => n.dataset.focusKey === focusKey);
    if (target) target.focus();
  }
}

let rowIds = 0;

function docRow(doc) {
  const n = ++rowIds;
  const item = el("li", "doc");
  item.dataset.id = doc.id;
  const check = el("input", "doc-check");
  check.type = "checkbox";
  check.id = `doc-check-${n}`;
  check.dataset.focusKey = `check:${doc.id}`;
  check.checked = isChosen(doc.id);
  const label = el("label", "doc-text");
  label.htmlFor = check.id;
  label.append(el("span", "doc-title", docName(doc)));
  const meta = el("span", "doc-meta", `${doc.source} · ${plural(doc.chunks || 0, "chunk")}`);
  meta.id = `doc-meta-${n}`;
  label.append(meta);
  check.setAttribute("aria-describedby", meta.id);
  check.addEventListener("change", () => choose(doc.id, check.checked));
  const remove = el("button", "doc-delete", "Delete");
  remove.type = "button";
  remove.dataset.focusKey = `delete:${doc.id}`;
  remove.setAttribute("aria-label", `Delete ${docName(doc)}`);
  remove.addEventListener("click", () => confirmDelete(doc, remove));
  item.append(check, label, remove);
  return item;
}

function choose(id, on) {
  const chosen = state.chosen ? new Set(state.chosen) : new Set(state.docs.map((doc) => doc.id));
  if (on) chosen.add(id);
  else chosen.delete(id);
  state.chosen = state.docs.every((doc) => chosen.has(doc.id)) ? null : chosen;
  updateChoice();
}

function updateChoice() {
  for (const check of ui.docList.querySelectorAll(".doc-check")) {
    check.checked = isChosen(check.closest("li").dataset.id);
  }
  const ids = chosenIds();
  ui.allDocs.checked = !ids;
  ui.allDocs.indeterminate = Boolean(ids && ids.length);
  const total = state.docs.length;
  let text = "";
  if (!state.docsLoaded) text = "";
  else if (!ids) {
    text = total > 1 ? `Asking about all ${plural(total, "document")}`
      : total ? "Asking about the one indexed document" : "No documents indexed yet";
  }
  else if (!ids.length) text = "No document chosen: choose at least one";
  else if (ids.length === 1) {
    text = `Asking about one document: ${docName(state.docs.find((doc) => doc.id === ids[0]))}`;
  } else text = `Asking about ${ids.length.toLocaleString("en")} of ${plural(total, "document")}`;
  ui.scopeText.textContent = text;
  ui.scopeText.classList.toggle("is-warning", Boolean(ids && !ids.length));
  ui.scopeText.classList.toggle("is-narrowed", Boolean(ids && ids.length));
}

function openDocuments(focus) {
  ui.docPanel.hidden = false;
  ui.docToggle.setAttribute("aria-expanded", "true");
  document.body.classList.add("documents-open");
  coverPage();
  if (focus) ui.docTitle.focus({ preventScroll: true });
}

function closeDocuments() {
  const hadFocus = ui.docPanel.contains(document.activeElement) || document.activeElement === document.body;
  ui.docPanel.hidden = true;
  ui.docToggle.setAttribute("aria-expanded", "false");
  document.body.classList.remove("documents-open");
  coverPage();
  if (hadFocus) ui.docToggle.focus();
}

// On a narrow screen the open documents panel covers the page: what it covers cannot be reached meanwhile.
function coverPage() {
  const covered = NARROW.matches && !ui.docPanel.hidden;
  for (const part of [ui.topbar, ui.chat, ui.panel]) part.inert = covered;
}

// ---- uploading

// One upload's files and, once the service has answered, what became of each.
class UploadBatch {
  constructor(files) {
    this.names = files.map((file) => file.name || "(no name)");
    this.box = el("section", "upload-batch");
    this.box.setAttribute("aria-busy", "true");
    this.box.setAttribute("aria-label", `Upload of ${plural(files.length, "file")}`);
    this.head = el("p", "batch-head", `Adding ${plural(files.length, "file")}…`);
    this.list = el("ul", "batch-list");
    this.list.replaceChildren(...this.names.slice(0, SHOWN_RESULTS).map((name) => resultRow(name, "pending", "indexing…")));
    this.box.append(this.head, this.list);
    ui.uploadResults.prepend(this.box);
    while (ui.uploadResults.children.length > KEPT_BATCHES) ui.uploadResults.lastElementChild.remove();
  }

  show(rows, failed) {
    this.box.removeAttribute("aria-busy");
    const counts = new Map();
    for (const row of rows) counts.set(row.status, (counts.get(row.status) || 0) + 1);
    const summary = [...counts].map(([status, n]) => `${n.toLocaleString("en")} ${status}`).join(", ");
    this.head.textContent = failed ? "Nothing was added." : `Done: ${summary}.`;
    const shown = rows.slice(0, SHOWN_RESULTS).map((row) => resultRow(row.file, row.status, row.detail));
    if (rows.length > shown.length) {
      shown.push(el("li", "result result-more", `and ${(rows.length - shown.length).toLocaleString("en")} more`));
    }
    this.list.replaceChildren(...shown);
    // read out what happened to each file (the first few), then the totals
    const spoken = rows.slice(0, 5).map((row) => `${row.file}: ${row.status}${row.status === "refused" || row.status === "failed" ? `, ${row.detail}` : ""}.`);
    announce(`${failed ? "Nothing was added. " : ""}${spoken.join(" ")}${rows.length > 5 ? ` In all: ${summary}.` : ""}`);
  }

  done(body) {
    const rows = [
      ...(body.documents || []).map((doc) => ({ file: doc.source, status: doc.status, detail: plural(doc.chunks || 0, "chunk") })),
      ...(body.problems || []).map((problem) => ({ file: problem.file, status: "refused", detail: problem.message })),
    ];
    this.show(rows, false);
  }

  // The whole upload was refused (every file bad, or the request itself) or failed.
  failed(error) {
    const refused = error instanceof ApiError && error.status >= 400 && error.status < 500;
    const reasons = refused ? reasonsByFile(error.message, this.names) : new Map();
    const message = describe(error, false);
    this.show(this.names.map((name) => ({
      file: name, status: refused ? "refused" : "failed", detail: reasons.get(name) || message,
    })), true);
  }
}

function resultRow(file, status, detail) {
  const item = el("li", `result result-${status}`);
  item.append(el("span", "result-file", file), el("span", "result-status", status));
  if (detail) item.append(el("span", "result-detail", detail));
  return item;
}

// An upload with no good file is one error: "No document was indexed. a.exe: why; b.txt: why". Split it per file.
function reasonsByFile(message, names) {
  const reasons = new Map();
  const prefix = "No document was indexed. ";
  if (!message.startsWith(prefix)) return reasons;
  const summary = message.slice(prefix.length);
  const found = [];
  for (const name of new Set(names)) {
    for (let at = summary.indexOf(`${name}: `); at >= 0; at = summary.indexOf(`${name}: `, at + 1)) {
      if (at === 0 || summary.slice(at - 2, at) === "; ") {
        found.push({ name, at });
        break;
      }
    }
  }
  found.sort((a, b) => a.at - b.at);
  found.forEach((entry, i) => {
    const end = i + 1 < found.length ? found[i + 1].at : summary.length;
    reasons.set(entry.name, summary.slice(entry.at + entry.name.length + 2, end).replace(/;\s*$/, "").trim());
  });
  return reasons;
}

async function uploadFiles(files) {
  if (!files.length) return;
  openDocuments(false);
  const batch = new UploadBatch(files);
  const form = new FormData();
  for (const file of files) form.append("files", file, file.name);
  try {
    const response = await fetch("/documents", { method: "POST", body: form });
    if (!response.ok) throw await errorFrom(response);
    const body = await response.json();
    batch.done(body);
    // a question restricted to some documents now covers the new ones too: they were added to be asked about
    if (state.chosen) {
      for (const doc of body.documents || []) if (doc.status === "added") state.chosen.add(doc.id);
    }
  } catch (error) {
    batch.failed(error);
  }
  await loadDocuments();
}

// ---- deleting, after a confirmation

function confirmDelete(doc, button) {
  if (ui.confirm.open) return;
  state.pendingDelete = { doc, button };
  ui.confirmText.textContent = `“${docName(doc)}” (${doc.source}, ${plural(doc.chunks || 0, "chunk")}) will be `
    + "removed from the index; answers will no longer cite it.";
  ui.confirm.returnValue = "";
  ui.confirm.showModal();
  ui.confirmCancel.focus();
}

async function deleteDocument(doc, button) {
  const row = button.closest("li");
  row?.setAttribute("aria-busy", "true");
  button.disabled = true;
  button.textContent = "Deleting…";
  row?.querySelector(".doc-error")?.remove();
  try {
    const response = await fetch(`/documents/${encodeURIComponent(doc.id)}`, { method: "DELETE" });
    if (!response.ok && response.status !== 404) throw await errorFrom(response); // 404: already gone
  } catch (error) {
    const message = `Not deleted: ${describe(error, false)}`;
    if (row && document.contains(row)) {
      row.removeAttribute("aria-busy");
      button.disabled = false;
      button.textContent = "Delete";
      const note = el("p", "doc-error", message);
      note.setAttribute("role", "alert");
      row.append(note);
      button.focus();
    } else {
      announce(message);
    }
    return;
  }
  // the focus goes to the next document's Delete button (else the previous one's, else the heading)
  const rows = [...ui.docList.children];
  const at = rows.indexOf(row);
  const neighbour = at >= 0 ? (rows[at + 1] || rows[at - 1]) : null;
  const focusKey = neighbour ? `delete:${neighbour.dataset.id}` : null;
  const wasChosen = Boolean(state.chosen && state.chosen.size);
  state.docs = state.docs.filter((d) => d.id !== doc.id);
  pruneChoice();
  const backToAll = wasChosen && !state.chosen;
  renderDocuments();
  const target = focusKey
    ? [...ui.docList.querySelectorAll(".doc-delete")].find((n) => n.dataset.focusKey === focusKey) : null;
  (target || ui.docTitle).focus({ preventScroll: !target });
  announce(`Deleted ${docName(doc)}.${backToAll ? " Questions are asked about all documents again." : ""}`);
  loadDocuments();
}

// ---- dropping files anywhere on the page

function carriesFiles(event) {
  return Boolean(event.dataTransfer) && Array.from(event.dataTransfer.types || []).includes("Files");
}

function showDropTarget(on) {
  ui.dropOverlay.hidden = !on;
  document.body.classList.toggle("dragging-files", on);
  window.clearTimeout(state.dragTimer);
  // a drag that leaves the window without a dragleave must not leave the overlay up
  if (on) state.dragTimer = window.setTimeout(() => { state.dragDepth = 0; showDropTarget(false); }, 1500);
}

document.addEventListener("dragenter", (event) => {
  if (!carriesFiles(event)) return;
  event.preventDefault();
  state.dragDepth += 1;
  showDropTarget(true);
});
document.addEventListener("dragover", (event) => {
  if (!carriesFiles(event)) return;
  event.preventDefault(); // without this the browser would open the file instead
  event.dataTransfer.dropEffect = "copy";
  showDropTarget(true);
});
document.addEventListener("dragleave", (event) => {
  if (!carriesFiles(event)) return;
  state.dragDepth = Math.max(0, state.dragDepth - 1);
  if (!state.dragDepth) showDropTarget(false);
});
document.addEventListener("drop", (event) => {
  if (!carriesFiles(event)) return;
  event.preventDefault();
  state.dragDepth = 0;
  showDropTarget(false);
  uploadFiles(Array.from(event.dataTransfer.files || []));
});

// ---- wiring ---------------------------------------------------------------------------------------------

function resizeBox() {
  ui.question.style.height = "auto";
  ui.question.style.height = `${Math.min(ui.question.scrollHeight, 200)}px`;
}

ui.form.addEventListener("submit", (event) => {
  event.preventDefault();
  if (state.busy || !ui.question.value.trim() || !choiceReady()) return;
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
  if (event.key !== "Escape" || ui.confirm.open) return; // the dialog closes itself
  if (event.target === ui.docFilter && ui.docFilter.value) return; // Escape first empties the filter
  const inDocuments = ui.docPanel.contains(document.activeElement);
  if (!ui.panel.hidden && !inDocuments) closeSource();
  else if (!ui.docPanel.hidden) closeDocuments();
  else if (!ui.panel.hidden) closeSource();
});

ui.newChat.addEventListener("click", () => {
  if (state.controller) state.controller.abort();
  state.history = [];
  ui.conversation.replaceChildren();
  ui.intro.hidden = false;
  if (!ui.panel.hidden) closeSource();
  ui.question.focus();
});

// the documents panel
ui.docToggle.addEventListener("click", () => {
  if (ui.docPanel.hidden) openDocuments(true);
  else closeDocuments();
});
ui.scopeChange.addEventListener("click", () => openDocuments(true));
ui.closeDocs.addEventListener("click", closeDocuments);
ui.chooseFiles.addEventListener("click", () => ui.fileInput.click());
ui.introAdd.addEventListener("click", () => {
  openDocuments(false);
  ui.chooseFiles.focus();
  ui.fileInput.click();
});
ui.fileInput.addEventListener("change", () => {
  const files = Array.from(ui.fileInput.files || []);
  ui.fileInput.value = ""; // the same file can be chosen again
  uploadFiles(files);
});
ui.allDocs.addEventListener("change", () => {
  state.chosen = ui.allDocs.checked ? null : new Set();
  updateChoice();
});
ui.docFilter.addEventListener("input", () => {
  state.filter = ui.docFilter.value;
  renderList();
  updateChoice();
});
ui.confirmCancel.addEventListener("click", () => ui.confirm.close("keep"));
ui.confirmOk.addEventListener("click", () => ui.confirm.close("delete"));
ui.confirm.addEventListener("close", () => {
  const pending = state.pendingDelete;
  state.pendingDelete = null;
  if (!pending) return;
  if (ui.confirm.returnValue === "delete") deleteDocument(pending.doc, pending.button);
  else if (document.contains(pending.button)) pending.button.focus();
});

// No keyboard hint on touch screens (the style sheet hides it; it must not describe the box either).
function followPointer() {
  if (TOUCH.matches) ui.question.removeAttribute("aria-describedby");
  else ui.question.setAttribute("aria-describedby", ui.hint.id);
  renderLibrarySummary();
}
TOUCH.addEventListener("change", followPointer);
NARROW.addEventListener("change", coverPage);
followPointer();

ui.fileKinds.textContent = `${FILE_KINDS} files. A file uploaded again under the same name replaces the earlier one.`;
renderDocuments();
loadDocuments();
if (!TOUCH.matches) ui.question.focus(); // on a phone that would open the keyboard over the page
