"""POST /documents and DELETE /documents/{id} over real HTTP, with the real model and an embedded store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service.web.app import create_app
from tests.conftest import make_parts, make_settings
from tests.files import tiny_pdf
from tests.servers import LiveServer

BEES = b"# Bees\n\nBees make honey from nectar. A hive holds one queen and many workers.\n"
RIVER = b"The river Quill floods every spring. Farmers plant barley after the flood recedes."


@pytest.fixture
def server(tmp_path: Path, embedder) -> Iterator[LiveServer]:
    settings = make_settings(tmp_path / "store", upload_max_file_bytes=4000, upload_max_request_bytes=20_000,
                             upload_max_files=4)
    with LiveServer(create_app(settings, make_parts(settings, embedder))) as live:
        yield live


def upload(server: LiveServer, *files: tuple[str, bytes], **kwargs) -> httpx.Response:
    return httpx.post(f"{server.url}/documents", files=[("files", f) for f in files], timeout=120, **kwargs)


def error_of(response: httpx.Response) -> dict:
    body = response.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), body
    return body["error"]


def test_uploaded_files_are_indexed_and_answerable(server: LiveServer) -> None:
    response = upload(server, ("bees.md", BEES), ("river.txt", RIVER), ("memo.pdf", tiny_pdf(["Memo.",
                      "The depot closes at noon on Fridays."])))
    assert response.status_code == 200, response.text
    body = response.json()
    assert {d["source"]: d["status"] for d in body["documents"]} == {
        "bees.md": "added", "river.txt": "added", "memo.pdf": "added"}
    assert body["problems"] == [] and body["chunks_embedded"] >= 3
    answer = httpx.post(f"{server.url}/ask", json={"question": "When does the river Quill flood?"}, timeout=60).json()
    river = next(d for d in body["documents"] if d["source"] == "river.txt")
    assert answer["refused"] is False and {c["doc_id"] for c in answer["citations"]} == {river["id"]}
    assert "spring" in answer["answer"]


def test_reuploading_a_name_replaces_that_document(server: LiveServer) -> None:
    first = upload(server, ("river.txt", RIVER)).json()["documents"][0]
    same = upload(server, ("river.txt", RIVER)).json()
    assert same["documents"][0]["status"] == "unchanged" and same["chunks_embedded"] == 0
    changed = upload(server, ("river.txt", RIVER.replace(b"barley", b"rye"))).json()["documents"][0]
    assert changed["id"] == first["id"] and changed["status"] == "updated"
    text = httpx.get(f"{server.url}/documents/{first['id']}").json()["text"]
    assert "rye" in text and "barley" not in text


def test_one_bad_file_is_reported_and_the_rest_indexed(server: LiveServer) -> None:
    response = upload(server, ("tool.exe", b"MZ\x90\x00"), ("bees.md", BEES), ("big.txt", b"word " * 1000),
                      ("blob.txt", b"\x00\x01\x02binary"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert [d["source"] for d in body["documents"]] == ["bees.md"]
    problems = {p["file"]: (p["status"], p["code"]) for p in body["problems"]}
    assert problems == {"tool.exe": (415, "unsupported_file"), "big.txt": (413, "file_too_large"),
                        "blob.txt": (415, "unreadable_file")}


def test_a_repeated_record_id_is_reported_and_the_first_kept(server: LiveServer) -> None:
    corpus = (b'{"id": "quill", "text": "The river Quill floods every spring."}\n'
              b'{"id": "quill", "text": "Another record with the same id."}\n')
    body = upload(server, ("rivers.jsonl", corpus), ("bees.md", BEES)).json()
    assert {d["source"]: d["status"] for d in body["documents"]} == {"rivers.jsonl#quill": "added", "bees.md": "added"}
    assert body["problems"] == [{"file": "rivers.jsonl#quill", "status": 422, "code": "invalid_record",
                                 "message": "duplicate document id 'quill'; kept the first"}]
    assert "spring" in httpx.get(f"{server.url}/documents/quill").json()["text"]


@pytest.mark.parametrize("files, status, code", [
    ([("tool.exe", b"MZ")], 415, "unsupported_file"),
    ([("a.exe", b"MZ"), ("noext", b"text")], 415, "unsupported_file"),
    ([("big.txt", b"word " * 1000)], 413, "file_too_large"),
    ([("empty.txt", b"  \n ")], 422, "empty_file"),
    ([("big.txt", b"word " * 1000), ("tool.exe", b"MZ")], 422, "upload_failed"),
])
def test_nothing_indexed_is_an_error(server: LiveServer, files: list, status: int, code: str) -> None:
    response = upload(server, *files)
    assert response.status_code == status, response.text
    error = error_of(response)
    assert error["code"] == code and error["field"] == "files"


def test_request_limits_and_bad_bodies(server: LiveServer) -> None:
    too_big = upload(server, *[(f"f{i}.txt", b"x" * 3900) for i in range(6)])
    assert too_big.status_code == 413 and error_of(too_big)["code"] == "request_too_large"
    many = upload(server, *[(f"f{i}.txt", b"Some text.") for i in range(5)])
    assert many.status_code == 413 and error_of(many)["code"] == "too_many_files"
    as_json = httpx.post(f"{server.url}/documents", json={"text": "hi"})
    assert as_json.status_code == 415 and error_of(as_json)["code"] == "unsupported_media_type"
    no_files = httpx.post(f"{server.url}/documents", data={"other": "x"}, files={"x": ("a.txt", b"hi")})
    assert no_files.status_code == 422 and error_of(no_files)["code"] == "no_files"


def test_the_file_name_cannot_escape(server: LiveServer) -> None:
    body = upload(server, ("../../etc/passwd.txt", b"Nothing to see here, just a note.")).json()
    assert [d["source"] for d in body["documents"]] == ["passwd.txt"]


def test_uploads_survive_a_folder_ingest(server: LiveServer, tmp_path: Path) -> None:
    uploaded = upload(server, ("bees.md", BEES)).json()["documents"][0]
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "notes.txt").write_text("A different note about owls.")
    parts = server.server.config.app.state.components
    parts.indexer.ingest(folder, progress=False)
    (folder / "notes.txt").unlink()
    report = parts.indexer.ingest(folder, progress=False)
    assert len(report.removed) == 1
    assert uploaded["id"] in {d["id"] for d in httpx.get(f"{server.url}/documents").json()}


def test_delete_removes_the_document_from_answers(server: LiveServer) -> None:
    doc = upload(server, ("river.txt", RIVER)).json()["documents"][0]
    question = {"question": "When does the river Quill flood?"}
    assert httpx.post(f"{server.url}/ask", json=question, timeout=60).json()["refused"] is False
    deleted = httpx.delete(f"{server.url}/documents/{doc['id']}")
    assert deleted.status_code == 200 and deleted.json() == {"id": doc["id"], "deleted": True,
                                                             "chunks": doc["chunks"]}
    assert httpx.get(f"{server.url}/documents/{doc['id']}").status_code == 404
    assert httpx.post(f"{server.url}/ask", json=question, timeout=60).json()["citations"] == []
    again = httpx.delete(f"{server.url}/documents/{doc['id']}")
    assert again.status_code == 404 and error_of(again)["code"] == "document_not_found"


def test_a_body_of_unknown_length_is_cut_at_the_limit(server: LiveServer) -> None:
    boundary = "citeqa-test-boundary"

    def chunked() -> Iterator[bytes]:  # no Content-Length: the limit is enforced while the body streams in
        yield (f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="big.txt"\r\n'
               "Content-Type: text/plain\r\n\r\n").encode()
        for _ in range(25):
            yield b"word " * 200
        yield f"\r\n--{boundary}--\r\n".encode()

    response = httpx.post(f"{server.url}/documents", content=chunked(), timeout=60,
                          headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    assert response.status_code == 413 and error_of(response)["code"] == "request_too_large"
