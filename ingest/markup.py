"""Markdown and HTML as a reader sees them: plain text in the layout of :mod:`ingest.textblocks`, and a title.

**Markdown** goes through markdown-it-py's CommonMark parser (tables and strikethrough on). Headings, paragraphs,
list items and table rows become lines; a paragraph's hard-wrapped lines are joined with spaces; emphasis,
code ticks, link targets and images are dropped (a link's text is kept, an image's alt text is not); inline
HTML tags are dropped (their text kept) and HTML blocks are read as HTML (below, without the main-content
step); fenced and indented code stays as it is, a block of its own. YAML front matter is not text; its
``title:`` is the title. Title: front matter, else the first level-1 heading, else a heading the document
opens with.

**HTML** is parsed by selectolax (lexbor, an HTML5 parser). The main content is ``<main>`` (or ``role="main"``),
else the page's only ``<article>``, else ``<body>``; inside it everything a reader skips is dropped: ``script``,
``style``, ``noscript``, ``template``, ``svg``, ``math``, ``nav``, ``aside``, ``footer``, ``form`` and its
controls, ``iframe``/``object``/``embed``/``canvas``/media, ``<header>`` outside an article (the site banner),
hidden elements (``hidden``, ``aria-hidden="true"``, ``display:none``), landmark roles other than main
(navigation, banner, contentinfo, search, complementary, menu...), and elements whose class or id is a navigation
word (nav, navbar, navheader, navfooter, sidebar, menu, breadcrumb(s), toc, pagination, pager, footer, cookie(s),
skip), and a heading's permalink (a link to an anchor that says only ``#``, ``¶``, ``§``, ``🔗`` or ``⚓``). A
``<pre>`` keeps its lines and spaces (a ``<br>`` in it is a line break), without the controls, hidden elements and
mdBook's hidden lines (``class="boring"``) inside it (a copy button is no code); the classes inside it (a
language, mdBook's ``ignore skip``) are not read as navigation words. Block elements (p, div, section, li, h1-h6,
pre, tr, dt/dd, blockquote...) become lines; ``<br>`` a line break; images are dropped. Title: ``<title>``, else
the first ``<h1>``, else a heading the content opens with.

Measured (words of ``<body>`` without scripts and styles; the first page is ``tests/test_html_extraction.py``'s,
the others are documentation pages found on this machine):

========================================  =====  =====================================================================
page                                      words  dropped
========================================  =====  =====================================================================
museum page (tests): banner, nav,         107    39: the skip link, the site banner with its search form, the menu,
breadcrumb, article, sidebar, cookie             the breadcrumb, the sidebar, the cookie notice, the footer (32), two
notice, footer                                   hidden paragraphs (7); the article's 68 visible words are all kept
Debian base-passwd users-and-groups.html  2,301  its table of contents (``class="TOC"``, 9 words); the rest kept
mdBook page (rustdoc what-is-rustdoc)     801    40 outside ``<main>``: the menu bar (theme names, book title, buttons)
                                                 and the previous/next links; the chapter is kept whole
Texinfo page (libffi The-Basics.html)     783    the "Next: ..., Up: ... [Index]" header, top and bottom (14 words)
rustdoc API page (std/index.html)         3,002  60 outside ``<main>`` (the sidebar's 54, the top bar, the skip link),
                                                 3 of buttons
========================================  =====  =====================================================================

trafilatura 2.3.1 (``favor_recall``, tables on) was tried on the same pages: it kept the Debian page's table of
contents and the Texinfo navigation line, dropped headings (``Chapter 1. Introduction``, ``2.1 The Basics``),
kept the source's line breaks inside paragraphs, and needed lxml_html_clean installed by hand besides its
dozen dependencies; selectolax with these rules was kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from markdown_it import MarkdownIt
from markdown_it.token import Token
from selectolax.lexbor import LexborHTMLParser, LexborNode

from ingest.textblocks import TextBuilder, list_marker

# ---------------------------------------------------------------------------------------------------- markdown

_MARKDOWN = MarkdownIt("commonmark").enable(["table", "strikethrough"])
_FRONT_MATTER = re.compile(r"\A(?:\ufeff)?---[ \t]*\r?\n(.*?\r?\n)(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S)
_FRONT_TITLE = re.compile(r"^title[ \t]*:[ \t]*(.+?)[ \t]*$", re.M | re.I)
_BR = re.compile(r"<br\b", re.I)


def _markdown_inline(children: list[Token] | None) -> str:
    out: list[str] = []
    for child in children or []:
        if child.type in ("text", "code_inline"):
            out.append(child.content)
        elif child.type == "softbreak":
            out.append(" ")
        elif child.type == "hardbreak" or (child.type == "html_inline" and _BR.match(child.content)):
            out.append("\n")
        # images, link targets, emphasis and html tags: nothing
    return "".join(out)


def front_matter(source: str) -> tuple[str, str]:
    """(title from YAML front matter or '', the Markdown after the front matter)."""
    match = _FRONT_MATTER.match(source)
    if not match:
        return "", source
    title = _FRONT_TITLE.search(match.group(1))
    return (title.group(1).strip("'\"").strip() if title else ""), source[match.end() :]


def markdown_to_text(source: str) -> tuple[str, str]:
    """(title, plain text) of a Markdown document (module docstring)."""
    title, body = front_matter(source)
    out = TextBuilder()
    lists: list[list[int] | None] = []  # per open list: None for bullets, [next number] for ordered
    marker: str | None = None
    heading = 0
    cells: list[str] | None = None
    for token in _MARKDOWN.parse(body):
        kind = token.type
        if kind == "heading_open":
            heading = int(token.tag[1:])
        elif kind == "heading_close":
            heading = 0
        elif kind == "inline":
            text = _markdown_inline(token.children)
            if cells is not None:
                cells.append(text)
            elif heading and not lists:
                out.heading(heading, text)
            else:
                out.paragraph(text, len(lists), marker)
                marker = None
        elif kind == "bullet_list_open":
            lists.append(None)
        elif kind == "ordered_list_open":
            lists.append([int(token.attrGet("start") or 1)])
        elif kind in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
            if not lists:
                out.end_list()
        elif kind == "list_item_open":
            marker = list_marker(lists)
            if token.info and lists and lists[-1] is not None:
                marker = f"{token.info}."  # the item's own number, as written
        elif kind in ("fence", "code_block"):
            out.code(token.content)
            marker = None
        elif kind == "html_block":
            fragment = LexborHTMLParser(token.content).root
            if fragment is not None:
                _Html(out, depth=len(lists)).walk(fragment)
        elif kind == "tr_open":
            cells = []
        elif kind == "tr_close":
            out.row(cells or [])
            cells = None
    return title or out.title(), out.text()


# -------------------------------------------------------------------------------------------------------- HTML

DROP_TAGS = {
    "script", "style", "noscript", "template", "svg", "math", "head", "title", "nav", "aside", "footer", "form",
    "button", "select", "option", "input", "textarea", "label", "iframe", "object", "embed", "canvas", "dialog",
    "audio", "video", "map", "img", "picture", "source", "track", "link", "meta", "base",
}
DROP_ROLES = {
    "navigation", "banner", "contentinfo", "search", "complementary", "menu", "menubar", "toolbar", "dialog",
    "alertdialog", "tablist", "tree", "directory",
}
DROP_NAMES = {
    "nav", "navbar", "navigation", "navheader", "navfooter", "sidebar", "menu", "menubar", "breadcrumb",
    "breadcrumbs", "toc", "pagination", "pager", "footer", "cookie", "cookies", "skip",
}
HIDDEN_CODE = "boring"  # the class of mdBook's hidden lines of a code listing (the page shows them on request)
# what a heading's permalink says: ``<a class="headerlink" href="#x">¶</a>`` (Sphinx), ``<a class="mark"
# href="#x">#</a>`` (Node.js), ``§``, ``🔗``
PERMALINK_GLYPHS = {"#", "¶", "§", "🔗", "⚓", "⚓︎"}
BLOCK_TAGS = {
    "p", "div", "section", "article", "main", "header", "address", "blockquote", "figure", "figcaption",
    "details", "summary", "dl", "dt", "dd", "center", "fieldset", "legend", "hgroup", "hr", "body", "html",
    "caption", "table", "thead", "tbody", "tfoot", "td", "th", "menu", "li", "ul", "ol", "pre", "tr",
    "h1", "h2", "h3", "h4", "h5", "h6", "search",
}
HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_NAME_SPLIT = re.compile(r"[\s_-]+")
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")
MAX_DEPTH = 300  # deeper than this, an element's text is read whole


def _children(node: LexborNode) -> list[LexborNode]:
    out = []
    child = node.child
    while child is not None:
        out.append(child)
        child = child.next
    return out


def _dropped(node: LexborNode, in_article: bool) -> str:
    """Why ``node`` is not content ('' when it is)."""
    tag = node.tag or ""
    if tag in DROP_TAGS:
        return tag
    if tag == "header" and not in_article:
        return "header"
    attrs = node.attributes
    if tag == "a" and (attrs.get("href") or "").startswith("#") \
            and (node.text(deep=True) or "").strip() in PERMALINK_GLYPHS:
        return "permalink"
    if _hidden(attrs):
        return "hidden"
    role = (attrs.get("role") or "").lower()
    if role in DROP_ROLES:
        return f"role={role}"
    names = set(_NAME_SPLIT.split(f"{attrs.get('class') or ''} {attrs.get('id') or ''}".lower()))
    hit = names & DROP_NAMES
    if hit:
        return f"class/id {sorted(hit)[0]}"
    if "header" in names and tag in ("div", "p", "section", "ul", "table") and _link_share(node) >= 0.5:
        return "header of links"
    return ""


def _hidden(attrs: dict[str, str | None]) -> bool:
    """Whether an element's attributes hide it: ``hidden``, ``aria-hidden="true"``, ``display:none``."""
    return ("hidden" in attrs or (attrs.get("aria-hidden") or "").lower() == "true"
            or bool(_HIDDEN_STYLE.search(attrs.get("style") or "")))


# what may be left out of a <pre> (_dropped_in_code), or read otherwise (a <br>)
_CODE_DROPS = ", ".join([*sorted(DROP_TAGS), "br", "[hidden]", "[aria-hidden]", "[style]", f".{HIDDEN_CODE}"])


def _dropped_in_code(node: LexborNode) -> str:
    """Why ``node``, inside a ``<pre>``, is not part of the code ('' when it is): a control (the copy button),
    a hidden element, or mdBook's hidden lines. Not the navigation words: a code block's classes are its
    language and options (mdBook's ``class="language-rust ignore skip"``)."""
    tag = node.tag or ""
    if tag in DROP_TAGS:
        return tag
    attrs = node.attributes
    if _hidden(attrs):
        return "hidden"
    if HIDDEN_CODE in (attrs.get("class") or "").split():
        return "hidden code"
    return ""


def _link_share(node: LexborNode) -> float:
    """The share of an element's words that are link text (a page header of "Next: ..., Up: ..." links)."""
    words = len((node.text(deep=True) or "").split())
    if not words:
        return 1.0
    return sum(len((link.text(deep=True) or "").split()) for link in node.css("a")) / words


@dataclass
class _Html:
    out: TextBuilder
    depth: int = 0  # list nesting
    in_article: bool = False
    dropped: list[tuple[str, int]] = field(default_factory=list)  # (reason, words), for measuring
    _buffer: list[str] = field(default_factory=list)
    _marker: str | None = None
    _lists: list[list[int] | None] = field(default_factory=list)

    def flush(self) -> None:
        if self._buffer:
            self.out.paragraph("".join(self._buffer), self.depth, self._marker)
            self._buffer = []
            self._marker = None

    def text_of(self, node: LexborNode) -> str:
        """An element's text on one line, what is not content left out."""
        return _HTML_SPACE.sub(" ", self._content(node, code=False)).strip()

    def code_of(self, node: LexborNode) -> str:
        """A ``<pre>`` element's text as it is (its line breaks and spaces), what is not content left out (the
        copy button beside the code, mdBook's hidden lines). Read whole by the parser when it holds nothing to
        leave out (most code blocks): walking a highlighted listing's every ``<span>`` here takes 3x longer."""
        if node.css_first(_CODE_DROPS) is None:
            return node.text(deep=True) or ""
        return self._content(node, code=True)

    def _content(self, node: LexborNode, code: bool) -> str:
        """The text under ``node`` without what :meth:`_skip` drops; a ``<br>`` is a line break in ``code``, and
        outside it a space, as is every block element's start."""
        parts: list[str] = []
        stack = [node]
        while stack:
            current = stack.pop()
            if current.tag == "-text":
                parts.append(current.text_content or "")
            elif current.tag == "br":
                parts.append("\n" if code else " ")
            elif current.tag and not current.tag.startswith("-") and (current is node
                                                                        or not self._skip(current, code)):
                if not code and current.tag in BLOCK_TAGS:
                    parts.append(" ")
                stack.extend(reversed(_children(current)))
        return "".join(parts)

    def _skip(self, node: LexborNode, code: bool = False) -> bool:
        reason = _dropped_in_code(node) if code else _dropped(node, self.in_article)
        if reason:
            words = len((node.text(deep=True) or "").split()) if node.tag not in ("script", "style") else 0
            self.dropped.append((reason, words))
        return bool(reason)

    def walk(self, node: LexborNode, level: int = 0) -> None:
        for child in _children(node):
            tag = child.tag or ""
            if tag == "-text":
                self._buffer.append(_HTML_SPACE.sub(" ", child.text_content or ""))
                continue
            if tag.startswith("-") or self._skip(child):
                continue
            if tag == "br":
                self._buffer.append("\n")
            elif level > MAX_DEPTH:
                self._buffer.append(f" {self.text_of(child)} ")
            elif tag in HEADINGS:
                self.flush()
                if self.depth:
                    self.out.paragraph(self.text_of(child), self.depth, None)
                else:
                    self.out.heading(HEADINGS[tag], self.text_of(child))
            elif tag == "pre":
                self.flush()
                self.out.code(self.code_of(child))
            elif tag in ("ul", "ol", "menu"):
                self.flush()
                start = child.attributes.get("start") or "1"
                self._lists.append([int(start) if start.isdigit() else 1] if tag == "ol" else None)
                self.depth += 1
                self.walk(child, level + 1)
                self.flush()
                self.depth -= 1
                self._lists.pop()
                if not self.depth:
                    self.out.end_list()
            elif tag == "li":
                self.flush()
                self._marker = list_marker(self._lists)
                if not self.depth:  # a stray <li>: a list of its own
                    self.depth = 1
                    self.walk(child, level + 1)
                    self.flush()
                    self.depth = 0
                    self.out.end_list()
                else:
                    self.walk(child, level + 1)
                    self.flush()
                    self._marker = None
            elif tag == "table" and not self._layout_table(child):
                self.flush()
                for row in child.css("tr"):
                    self.out.row([self.text_of(cell) for cell in _children(row) if cell.tag in ("td", "th")])
            elif tag in BLOCK_TAGS:
                self.flush()
                was = self.in_article
                self.in_article = was or tag == "article"
                self.walk(child, level + 1)
                self.in_article = was
                self.flush()
            else:
                self.walk(child, level + 1)
        if level == 0:
            self.flush()

    @staticmethod
    def _layout_table(table: LexborNode) -> bool:
        """A table used to lay out a page (tables inside it, or long blocks of text in its cells), read as blocks."""
        if any(inner.mem_id != table.mem_id for inner in table.css("table")):
            return True
        return any(len(cell.text(deep=True) or "") > 300 for cell in table.css("td"))


def main_content(tree: LexborHTMLParser) -> tuple[LexborNode | None, bool]:
    """The element holding the page's main content, and whether it is an article (so its header is content)."""
    body = tree.body or tree.root
    body_chars = len((body.text(deep=True) or "").strip()) if body is not None else 0
    for candidate in (tree.css_first("main"), tree.css_first('[role="main"]')):
        if candidate is not None and len((candidate.text(deep=True) or "").strip()) >= 0.2 * body_chars:
            return candidate, True
    articles = tree.css("article")
    if len(articles) == 1 and len((articles[0].text(deep=True) or "").strip()) >= 0.2 * body_chars:
        return articles[0], True
    return body, False


def html_to_text(html: str, measure: list[tuple[str, int]] | None = None) -> tuple[str, str]:
    """(title, plain text) of an HTML page's main content (module docstring); ``measure``, when given, gets
    (why, words) for every element left out."""
    tree = LexborHTMLParser(html)
    root, article = main_content(tree)
    out = TextBuilder()
    if root is not None:
        walker = _Html(out, in_article=article)
        walker.walk(root)
        if measure is not None:
            measure.extend(walker.dropped)
    title_node = tree.css_first("title")
    title = _HTML_SPACE.sub(" ", title_node.text(deep=True) or "").strip() if title_node is not None else ""
    return title or out.title(), out.text()
