"""reStructuredText as a reader sees it: plain text in the layout of :mod:`ingest.textblocks`, and a title.

The source is parsed by docutils into a doctree (its own parser and transforms: substitutions replaced, link
targets resolved, a lone top section promoted to the document title) and the tree is walked like the Markdown
loader's tokens: section titles become lines, paragraphs one line each (wrapped lines joined), bullet and
enumerated list items ``- `` / ``1. `` lines, definition list terms and field lists (``Name: value``) lines,
table rows cells joined by `` | ``, literal and doctest blocks (``::``, ``.. code::``) kept as they are.
Inline markup keeps its text only: no backticks, no ``<url>`` link targets, no ``|substitution|`` bars;
images (and so badge rows), comments, targets, substitution definitions, a ``contents`` table and footnote
labels are dropped. Title: the document title, else the title of a section the document opens with (one
further down is no title).

docutils is configured to report nothing (``report_level`` and ``halt_level`` 5, messages to a buffer), never
to read a file (``file_insertion_enabled`` off: no ``include``, no ``csv-table :file:``) nor pass raw markup
(``raw_enabled`` off), to read no docutils.conf, and to highlight no code. An unknown directive (Sphinx's
``toctree``, ``autofunction``...) becomes an error message node, which is skipped with what it quotes; an
unknown role (``:func:`name```) keeps the text inside its backticks, an undefined ``|substitution|`` is
dropped. Parsing runs no code of the document.

A Python package's metadata file (``Metadata-Version:`` header lines, a blank line, a reST long description)
is split by the loader (:func:`ingest.loaders.with_metadata_header`): only the description comes here.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

from docutils import nodes
from docutils.core import publish_doctree

from ingest.textblocks import TextBuilder, list_marker

_SETTINGS = {
    "report_level": 5,
    "halt_level": 5,
    "exit_status_level": 5,
    "traceback": True,  # an exception reaches the loader (reported there) instead of docutils printing it
    "file_insertion_enabled": False,
    "raw_enabled": False,
    "_disable_config": True,
    "syntax_highlight": "none",
    "smart_quotes": False,
    "docinfo_xform": False,
    "sectsubtitle_xform": False,
    "input_encoding": "unicode",
}

# skipped with everything inside them
_SKIP = (
    nodes.system_message, nodes.comment, nodes.target, nodes.substitution_definition, nodes.raw, nodes.image,
    nodes.pending, nodes.label, nodes.transition, nodes.meta,
)
_NOTE_MARK = "\x00"  # where a footnote reference was: it goes with the space before it
_NOTE_REFERENCE = re.compile(r"\s*\x00")
# what an unknown role or a broken reference leaves: :role:`text <target>`_, |name|
_PROBLEMATIC = re.compile(r"(?::[\w.:+-]+:)?`+([^`]*)`+(?::[\w.:+-]+:)?_{0,2}|\|([^|]+)\|_{0,2}")
_TARGET = re.compile(r"^(.*?\S)\s*<[^<>]*>$", re.S)


def _problematic(text: str) -> str:
    def inner(match: re.Match[str]) -> str:
        if match.group(2) is not None:
            return ""  # an undefined |substitution|: nothing to show
        text = match.group(1)
        target = _TARGET.match(text)
        return (target.group(1) if target else text).lstrip("~!")

    return _PROBLEMATIC.sub(inner, text)


def _inline(node: nodes.Node) -> str:
    """A node's text as shown, on one line (a wrapped source line is a space)."""
    return _NOTE_REFERENCE.sub("", _inline_marked(node))


def _inline_marked(node: nodes.Node) -> str:
    if isinstance(node, (nodes.footnote_reference, nodes.citation_reference)):
        return _NOTE_MARK
    if isinstance(node, nodes.Text):
        return node.astext().replace("\n", " ")
    if isinstance(node, _SKIP):
        return ""
    if isinstance(node, nodes.problematic):
        return _problematic(node.astext()).replace("\n", " ")
    return "".join(_inline_marked(child) for child in node.children)


@dataclass
class _Rst:
    out: TextBuilder = field(default_factory=TextBuilder)
    level: int = 0  # heading level of the current section's title (the document title is level 1)
    _lists: list[list[int] | None] = field(default_factory=list)
    _marker: str | None = None

    def paragraph(self, text: str) -> None:
        self.out.paragraph(text, len(self._lists), self._marker)
        if text.strip():
            self._marker = None

    def walk(self, node: nodes.Node) -> None:
        for child in node.children:
            self.block(child)

    def block(self, node: nodes.Node) -> None:
        if isinstance(node, _SKIP):
            return
        if isinstance(node, nodes.Text):
            self.paragraph(_inline(node))
        elif isinstance(node, (nodes.title, nodes.subtitle, nodes.rubric)):
            if self._lists or not isinstance(node.parent, (nodes.section, nodes.document)):
                self.paragraph(_inline(node))
            else:
                self.out.heading(max(self.level, 1), _inline(node))
        elif isinstance(node, nodes.section):
            self.level += 1
            self.walk(node)
            self.level -= 1
        elif isinstance(node, (nodes.paragraph, nodes.term, nodes.attribution, nodes.caption)):
            self.paragraph(_inline(node))
        elif isinstance(node, (nodes.literal_block, nodes.doctest_block)):
            self.out.code(node.astext())
            self._marker = None
        elif isinstance(node, nodes.line_block):
            self.paragraph("\n".join(_inline(line) for line in node.findall(nodes.line)))
        elif isinstance(node, (nodes.bullet_list, nodes.enumerated_list)):
            start = node.get("start", 1) if isinstance(node, nodes.enumerated_list) else None
            self._lists.append(None if start is None else [int(start)])
            self.walk(node)
            self._lists.pop()
            if not self._lists:
                self.out.end_list()
        elif isinstance(node, nodes.list_item):
            self._marker = list_marker(self._lists)
            self.walk(node)
            self._marker = None
        elif isinstance(node, nodes.field):
            name = _inline(node[0]) if len(node) else ""
            body = node[1] if len(node) > 1 else None
            paragraphs = list(body.children) if body is not None else []
            if paragraphs and isinstance(paragraphs[0], nodes.paragraph):
                self.paragraph(f"{name}: {_inline(paragraphs[0])}")
                for rest in paragraphs[1:]:
                    self.block(rest)
            else:
                self.paragraph(f"{name}:")
                for rest in paragraphs:
                    self.block(rest)
        elif isinstance(node, nodes.option_list_item):
            options = ", ".join(_inline(group) for group in node.findall(nodes.option))
            self.paragraph(f"{options} {' '.join(_inline(d) for d in node.findall(nodes.description))}")
        elif isinstance(node, nodes.table):
            for row in node.findall(nodes.row):
                self.out.row([_inline_block(entry) for entry in row.children])
        elif isinstance(node, nodes.topic) and "contents" in node.get("classes", []):
            return  # the table of contents: navigation, not content
        elif isinstance(node, nodes.Element):
            if isinstance(node, nodes.TextElement) and not isinstance(node, nodes.Structural):
                self.paragraph(_inline(node))
            else:
                self.walk(node)


def _inline_block(node: nodes.Node) -> str:
    """A table cell's text on one line."""
    if isinstance(node, (nodes.literal_block, nodes.doctest_block)):
        return node.astext().replace("\n", " ")
    if isinstance(node, nodes.TextElement) or isinstance(node, nodes.Text) or isinstance(node, _SKIP):
        return _inline(node)
    return " ".join(part for part in (_inline_block(child) for child in node.children) if part.strip())


def rst_to_text(source: str) -> tuple[str, str]:
    """(title, plain text) of a reStructuredText document (module docstring)."""
    document = publish_doctree(source, settings_overrides={**_SETTINGS, "warning_stream": io.StringIO()})
    walker = _Rst(level=1 if any(isinstance(child, nodes.title) for child in document.children) else 0)
    walker.walk(document)
    return _title(document, walker.out), walker.out.text()


def _title(document: nodes.document, out: TextBuilder) -> str:
    """The document title, else the title of a section the document opens with ('' for one further down)."""
    if len(document) and isinstance(document[0], nodes.title):
        return " ".join(_inline(document[0]).split())
    if out.headings and out.headings[0][2] == 0:
        return out.headings[0][1]
    return ""
