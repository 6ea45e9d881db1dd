"""POST /documents: upload one or more files (multipart field ``files``) and index them.

The files go through the same loaders and the same :class:`~ingest.indexing.Indexer` as ``citeqa ingest``. They
are indexed under the store-side root ``upload``, so a later folder ingest (which only removes documents of its
own root) never deletes them. A file's id depends only on its name: uploading ``notes.txt`` again replaces the
earlier ``notes.txt`` (unchanged text embeds nothing).

Each file is judged on its own: an unsupported type (415), a file over ``upload_max_file_bytes`` (413), an
unreadable or empty one (or a .jsonl record whose id came earlier in the upload: the first is kept, 422) is
reported in ``problems`` and the others are indexed (200). When no file could be indexed the answer is the error
itself: 415 or 413 when every file failed that way, else 422. A request over ``upload_max_request_bytes`` is
refused with 413 before its body is read (or as soon as it grows past the limit).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Message

from ingest.loaders import LOADABLE, LoadProblem
from service.components import Components
from service.errors import CiteqaError, InvalidInput, PayloadTooLarge, UnsupportedFile
from service.web.deps import ComponentsDep
from service.web.schemas import ERROR_RESPONSES, ErrorResponse

router = APIRouter()

UPLOAD_ROOT = "upload"
FIELDS = ("files", "file")


class UploadedDocument(BaseModel):
    id: str
    title: str
    source: str = Field(description="The uploaded file's name (for a .jsonl corpus: '<file>#<record id>').")
    chunks: int
    status: Literal["added", "updated", "unchanged"]


class UploadProblem(BaseModel):
    file: str = Field(description="The file (for a .jsonl corpus line: '<file>:<line>') that was not indexed.")
    status: int = Field(description="The HTTP status this problem alone would get: 413, 415 or 422.")
    code: str
    message: str


class UploadResponse(BaseModel):
    documents: list[UploadedDocument]
    problems: list[UploadProblem]
    chunks_embedded: int


MULTIPART_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": {
            "type": "object",
            "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"}}},
            "required": ["files"],
        }}},
    }
}


@router.post("/documents", response_model=UploadResponse, openapi_extra=MULTIPART_BODY,
             responses={**ERROR_RESPONSES, **{status: {"model": ErrorResponse} for status in (401, 403, 413, 415)}})
async def upload_documents(request: Request, parts: ComponentsDep) -> UploadResponse:
    """Index the uploaded files (``.txt``, ``.md``, ``.html``, ``.pdf``, ``.jsonl``); report the ones that fail."""
    settings = parts.settings
    files = await _read_files(request, settings.upload_max_request_bytes, settings.upload_max_files)
    with tempfile.TemporaryDirectory(prefix="citeqa-upload-") as tmp:
        folder = Path(tmp) / UPLOAD_ROOT  # the folder's name makes the ids: file_doc_id("upload", name)
        folder.mkdir()
        problems: list[UploadProblem] = []
        saved = await _save(files, folder, settings.upload_max_file_bytes, problems)
        response = await run_in_threadpool(_index, parts, saved, problems)
    _count(request, response)
    if not response.documents:
        raise _failure(response.problems)
    return response


async def _read_files(request: Request, max_bytes: int, max_files: int) -> list[UploadFile]:
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise UnsupportedFile("Send the files as multipart/form-data, in the field 'files'.",
                              code="unsupported_media_type")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    limited = Request(request.scope, _limited_receive(request.receive, max_bytes))
    try:
        form = await limited.form(max_files=max_files, max_fields=max_files + 16)
    except StarletteHTTPException as exc:  # a malformed body, or too many files
        if "too many files" in str(exc.detail).lower():
            raise PayloadTooLarge(f"At most {max_files} files per upload.", field="files",
                                  code="too_many_files") from None
        raise InvalidInput(f"The multipart body could not be read: {exc.detail}", field="files",
                           code="invalid_upload") from None
    files = [item for name in FIELDS for item in form.getlist(name) if isinstance(item, UploadFile)]
    if not files:
        raise InvalidInput("No files: send them in the multipart field 'files'.", field="files",
                           code="no_files")
    return files


def _too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The upload is larger than {max_bytes} bytes.", code="request_too_large")


def _limited_receive(receive: Callable[[], Awaitable[Message]], limit: int) -> Callable[[], Awaitable[Message]]:
    """``receive``, raising PayloadTooLarge once the body grows past ``limit`` (for bodies of unknown length)."""
    seen = 0

    async def limited() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _too_large(limit)
        return message

    return limited


def safe_name(filename: str | None) -> str:
    """The last part of an uploaded file's name, with anything but letters, digits, ``._- `` made ``_``."""
    name = PurePosixPath((filename or "").replace("\\", "/")).name.strip()
    name = re.sub(r"[^\w.\- ]", "_", name)[-200:].lstrip(".")
    return name


async def _save(files: list[UploadFile], folder: Path, max_bytes: int,
                problems: list[UploadProblem]) -> list[Path]:
    saved: list[Path] = []
    for upload in files:
        name = safe_name(upload.filename)
        shown = upload.filename or "(no name)"
        suffix = Path(name).suffix.lower()
        if not name or not suffix:
            problems.append(UploadProblem(file=shown, status=415, code="unsupported_file",
                                          message="The file has no name or extension to tell its type by."))
        elif suffix not in LOADABLE:
            problems.append(UploadProblem(file=shown, status=415, code="unsupported_file",
                                          message=f"Unsupported file type '{suffix}'; supported: "
                                          + ", ".join(sorted(LOADABLE)) + "."))
        elif upload.size is not None and upload.size > max_bytes:
            problems.append(UploadProblem(file=shown, status=413, code="file_too_large",
                                          message=f"The file is larger than {max_bytes} bytes."))
        elif (folder / name).exists():
            problems.append(UploadProblem(file=shown, status=422, code="duplicate_file",
                                          message="Another file of this upload has the same name; kept the first."))
        else:
            target = folder / name
            await run_in_threadpool(_copy, upload, target)
            saved.append(target)
        await upload.close()
    return saved


def _copy(upload: UploadFile, target: Path) -> None:
    upload.file.seek(0)
    with target.open("wb") as out:
        shutil.copyfileobj(upload.file, out)


def _index(parts: Components, saved: list[Path], problems: list[UploadProblem]) -> UploadResponse:
    report = parts.indexer.add_files(saved, UPLOAD_ROOT, progress=False)
    problems.extend(_problem(p) for p in report.problems)
    status = {**{i: "added" for i in report.added}, **{i: "updated" for i in report.updated},
              **{i: "unchanged" for i in report.unchanged}}
    records = {r.id: r for r in parts.store.documents(root=UPLOAD_ROOT) if r.id in status}
    return UploadResponse(
        documents=[UploadedDocument(id=r.id, title=r.title, source=r.source, chunks=r.chunks,
                                    status=status[r.id]) for r in records.values()],  # type: ignore[arg-type]
        problems=problems,
        chunks_embedded=report.chunks_embedded,
    )


def _problem(problem: LoadProblem) -> UploadProblem:
    if "no text" in problem.reason:
        return UploadProblem(file=problem.source, status=422, code="empty_file", message="The file has no text.")
    if problem.reason.startswith("unreadable"):
        return UploadProblem(file=problem.source, status=415, code="unreadable_file",
                             message=f"The file could not be read: {problem.reason.removeprefix('unreadable: ')}.")
    return UploadProblem(file=problem.source, status=422, code="invalid_record", message=problem.reason)


def _failure(problems: list[UploadProblem]) -> CiteqaError:
    summary = "; ".join(f"{p.file}: {p.message}" for p in problems[:10]) or "no file could be read"
    message = f"No document was indexed. {summary}"
    statuses = {p.status for p in problems}
    codes = {p.code for p in problems}
    code = codes.pop() if len(codes) == 1 else "upload_failed"
    if statuses == {415}:
        return UnsupportedFile(message, field="files", code=code)
    if statuses == {413}:
        return PayloadTooLarge(message, field="files", code=code)
    return InvalidInput(message, field="files", code=code)


def _count(request: Request, response: UploadResponse) -> None:
    metrics = getattr(request.app.state, "metrics", None)
    if metrics is None:
        return
    for doc in response.documents:
        metrics.uploaded_files.labels(doc.status).inc()
    for _ in response.problems:
        metrics.uploaded_files.labels("rejected").inc()
