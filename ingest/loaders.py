"""Loaders: turn files into :class:`Document` records.

One loader per file type, picked by extension. ``.jsonl`` files are corpora in the format of the CLAPnq
``corpus.jsonl`` (one ``{"id", "title", "text"}`` object a line) and give one document per line; every other
type gives one document per file. Problems are reported as :class:`LoadProblem` and never stop a run.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from ingest.models import Document

TITLE_CHARS = 80


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


def title_from_text(text: str, fallback: str) -> str:
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            if len(line) <= TITLE_CHARS:
                return line
            cut = line[:TITLE_CHARS].rsplit(" ", 1)[0]
            return cut.rstrip(",;:") + "…"
    return fallback


def read_text(path: Path) -> str:
    raw = path.read_bytes()
    if b"\x00" in raw[:8192]:
        raise ValueError("looks like a binary file")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None


class _TextExtractor(HTMLParser):
    SKIP = {"script", "style", "noscript", "template", "head", "svg"}
    BLOCK = {
        "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table",
        "section", "article", "header", "footer", "blockquote", "pre", "hr", "dd", "dt", "main",
    }

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self._skip = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in self.SKIP:
            self._skip += 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in self.SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skip:
            self.parts.append(data)

    def text(self) -> str:
        lines = (re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in "".join(self.parts).split("\n"))
        return "\n".join(line for line in lines if line)


def html_to_text(html: str) -> tuple[str, str]:
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return parser.title.strip(), parser.text()


def _pdf_text(path: Path) -> tuple[str, str]:
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    pages = [(page.extract_text() or "").strip() for page in reader.pages]
    meta_title = ""
    if reader.metadata and reader.metadata.title:
        meta_title = str(reader.metadata.title).strip()
    return meta_title, "\n\n".join(page for page in pages if page)


def _load_single(path: Path, root_name: str, relative: str, root: str) -> Iterator[Document]:
    suffix = path.suffix.lower()
    title = ""
    if suffix in (".html", ".htm"):
        title, text = html_to_text(read_text(path))
    elif suffix == ".pdf":
        title, text = _pdf_text(path)
    else:
        text = read_text(path)
    if not text.strip():
        raise ValueError("no text in it")
    yield Document(
        id=file_doc_id(root_name, relative),
        title=title or title_from_text(text, path.stem),
        source=relative,
        text=text,
        root=root,
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
            if not doc_id or not re.fullmatch(r"[\w.:()'!,&+@=~-]{1,200}", doc_id):
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


LOADABLE = {".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".jsonl"}


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
