from __future__ import annotations

from ingest.loaders import file_doc_id
from ingest.models import Document, chunk_id, content_hash


def test_ids_are_deterministic() -> None:
    assert chunk_id("doc", 10, "Some text.") == chunk_id("doc", 10, "Some text.")
    assert chunk_id("doc", 10, "Some text.") != chunk_id("doc", 11, "Some text.")
    assert chunk_id("doc", 10, "Some text.") != chunk_id("doc2", 10, "Some text.")
    assert file_doc_id("seeds", "a/b.txt") == file_doc_id("seeds", "a/b.txt")
    assert file_doc_id("seeds", "a/b.txt") != file_doc_id("seeds", "a/c.txt")
    assert file_doc_id("seeds", "My File.txt").startswith("my-file-")


def test_document_hash_follows_content() -> None:
    a = Document(id="x", title="t", source="s", text="hello")
    b = Document(id="x", title="other", source="s", text="hello")
    assert a.hash == b.hash == content_hash("hello")
    assert Document(id="x", title="t", source="s", text="hello!").hash != a.hash
