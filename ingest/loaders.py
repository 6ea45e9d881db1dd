"""Loaders: turn files into :class:`Document` records, with the text a reader sees and the document's title.

One loader per file type, picked by extension: ``.txt`` as it is; ``.md``/``.markdown``, ``.rst`` and
``.html``/``.htm`` through real parsers (:mod:`ingest.markup`, :mod:`ingest.rst`: no markup reaches the text);
``.pdf`` page by page (:mod:`ingest.pdf`), keeping where each page starts, and ``.docx`` (:mod:`ingest.office`). The
text is laid out as :mod:`ingest.textblocks` says, so that sentences split as a reader reads them. Titles
(:mod:`ingest.titles`): the document's own (metadata, first heading) else its file name made readable, never a
line of body text.

A Python package's metadata file (PKG-INFO, METADATA: ``Metadata-Version:`` header lines, a blank line, the long
description), whatever its extension, keeps its header as it is, one ``Key: value`` field a line (so each is a
sentence of its own, never run together with the next), and has its description read in its own format: a
``.md`` file's as Markdown, a ``.txt`` file's as Markdown when the header says ``text/markdown`` (``.rst``:
:mod:`ingest.rst`). The header stays in the text because its fields answer questions (``Requires-Python``,
``License``) and the ``.txt`` and ``.rst`` loaders keep it too.

``.jsonl`` files are corpora in the format of the CLAPnq ``corpus.jsonl`` (one ``{"id", "title", "text"}``
object a line) and give one document per line; every other type gives one document per file. Problems are
reported as :class:`LoadProblem` and never stop a run.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ingest.markup import html_to_text, markdown_to_text
from ingest.models import DOC_ID_PATTERN, Document
from ingest.office import docx_text
from ingest.pdf import pdf_text
from ingest.rst import rst_to_text
from ingest.titles import clip, file_title, plain_text_title

__all__ = ["LOADABLE", "LoadProblem", "html_to_text", "load_path", "markdown_to_text", "file_doc_id"]

# Changes whenever a loader would give other text for the same file: part of Indexer.recipe.
LOADER_VERSION = "text-5"


@dataclass(frozen=True)
class LoadProblem:
    source: str
    reason: str


def slugify(text: str, limit: int = 40) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:limit].strip("-") or "doc"


def file_doc_id(root_name: str, relative: str) -> str:
    """Stable per file: a readable slug of its name plus a hash of its path under the ingested root."""
    digest = hashlib.sha256(f"{root_name}/{relative}".encode()).hexdigest()[:8]
    return f"{slugify(Path(relative).stem)}-{digest}"


def read_text(path: Path) -> str:
    """A text file's text, line breaks made ``\n``."""
    raw = path.read_bytes()
    if b"\x00" in raw[:8192]:
        raise ValueError("looks like a binary file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


_MARKDOWN_DESCRIPTION = re.compile(r"^Description-Content-Type:[ \t]*text/markdown", re.M | re.I)


def metadata_header(text: str) -> tuple[str, str]:
    """(header, description) of a Python package's metadata (``Metadata-Version:`` header lines, a blank line, the
    long description); ("", text) for any other text."""
    if not text.startswith("Metadata-Version:"):
        return "", text
    header, _, body = text.partition("\n\n")  # no blank line: a package with no long description, all header
    return header, body


def package_metadata_text(text: str) -> str:
    """A Python package's metadata whose description is Markdown: the header as it is, the description read as
    Markdown. Any other text as it is."""
    header, _ = metadata_header(text)
    if not header or not _MARKDOWN_DESCRIPTION.search(header):
        return text
    return with_metadata_header(text, markdown_to_text)[1]


def with_metadata_header(source: str, parse: Callable[[str], tuple[str, str]]) -> tuple[str, str]:
    """(title, text) of a Markdown or reST file by ``parse``. A package metadata file saved as such keeps its
    header lines as they are (a parser would run them together into one paragraph, read as one sentence) above
    its description read by ``parse``; titled by the description's own title, else by the header's ``Name:
    Summary``."""
    header, body = metadata_header(source)
    title, text = parse(body)
    if not header:
        return title, text
    return title or plain_text_title(header), f"{header}\n\n{text}" if text else header


MARKDOWN = {".md", ".markdown"}
HTML = {".html", ".htm"}


def _load_single(path: Path, root_name: str, relative: str, root: str) -> Iterator[Document]:
    suffix = path.suffix.lower()
    title = ""
    pages: tuple[tuple[int, int], ...] = ()
    if suffix in HTML:
        title, text = html_to_text(read_text(path))
    elif suffix in MARKDOWN:
        title, text = with_metadata_header(read_text(path), markdown_to_text)
    elif suffix == ".rst":
        title, text = with_metadata_header(read_text(path), rst_to_text)
    elif suffix == ".pdf":
        title, text, pages = pdf_text(path)
    elif suffix == ".docx":
        title, text = docx_text(path)
    else:
        raw = read_text(path)
        title, text = plain_text_title(raw), package_metadata_text(raw)
    if not text.strip():
        raise ValueError("no text in it")
    yield Document(
        id=file_doc_id(root_name, relative),
        title=clip(title) if title else file_title(relative),
        source=relative,
        text=text,
        root=root,
        pages=pages,
    )


def load_jsonl(path: Path, root: str, problems: list[LoadProblem]) -> Iterator[Document]:
    """Corpus lines ``{"id", "title", "text"}``; a bad line is reported with its number and skipped."""
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path.name}:{number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(LoadProblem(where, f"invalid JSON ({exc.msg})"))
                continue
            if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                problems.append(LoadProblem(where, "expected an object with a string 'text'"))
                continue
            doc_id = str(record.get("id") or "").strip()
            if not doc_id or not re.fullmatch(DOC_ID_PATTERN, doc_id):
                problems.append(LoadProblem(where, "missing or invalid 'id'"))
                continue
            if not record["text"].strip():
                problems.append(LoadProblem(where, "empty 'text'"))
                continue
            yield Document(
                id=doc_id,
                title=str(record.get("title") or doc_id),
                source=f"{path.name}#{doc_id}",
                text=record["text"],
                root=root,
            )


LOADABLE = {".txt", ".md", ".markdown", ".rst", ".html", ".htm", ".pdf", ".docx", ".jsonl"}


def iter_files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        relative_parts = path.relative_to(root).parts
        if any(part.startswith(".") for part in relative_parts):
            continue
        if path.is_file():
            yield path


def load_path(
    target: Path, problems: list[LoadProblem], on_file: Callable[[Path], None] | None = None
) -> tuple[str, list[Document]]:
    """Load a folder (recursively), a single file or a .jsonl corpus. Returns (root key, documents).

    The root key identifies where the documents came from, so that a later run over the same root can tell
    which documents were removed.
    """
    target = target.resolve()
    if not target.exists():
        raise FileNotFoundError(f"{target} does not exist")
    root = str(target)
    if target.is_file():
        files, base = [target], target.parent
    else:
        files, base = list(iter_files(target)), target
    documents: list[Document] = []
    for path in files:
        relative = path.relative_to(base).as_posix()
        if on_file:
            on_file(path)
        suffix = path.suffix.lower()
        if suffix not in LOADABLE:
            problems.append(LoadProblem(relative, f"unsupported file type '{suffix or path.name}'"))
            continue
        try:
            if suffix == ".jsonl":
                documents.extend(load_jsonl(path, root, problems))
            else:
                documents.extend(_load_single(path, base.name, relative, root))
        except Exception as exc:  # one bad file never stops the run; the reason is reported
            reason = str(exc) if isinstance(exc, (ValueError, OSError)) else type(exc).__name__
            problems.append(LoadProblem(relative, f"unreadable: {reason}"))
    return root, documents
