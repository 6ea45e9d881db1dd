from __future__ import annotations

import shutil
from pathlib import Path

from service.settings import Settings
from tests.conftest import SEEDS, make_parts


def folder(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(next(SEEDS.glob("*.txt")), docs / "seed.txt")
    (docs / "bees.md").write_text("# Bees\n\nBees make honey. A hive holds one queen and many workers.\n")
    (docs / "notes.txt").write_text("The river floods every spring. Farmers plant after the flood.")
    return docs


def test_reingest_is_idempotent_and_tracks_changes(settings: Settings, embedder, tmp_path: Path) -> None:
    parts = make_parts(settings, embedder)
    docs = folder(tmp_path)
    first = parts.indexer.ingest(docs, progress=False)
    assert len(first.added) == 3 and first.chunks_embedded >= 3
    ids_after_first = set(parts.store.all_chunks() and [c.id for c in parts.store.all_chunks()])

    second = parts.indexer.ingest(docs, progress=False)
    assert second.chunks_embedded == 0 and len(second.unchanged) == 3
    assert {c.id for c in parts.store.all_chunks()} == ids_after_first

    (docs / "bees.md").write_text("# Bees\n\nBees make honey and wax. A hive holds one queen.\n")
    third = parts.indexer.ingest(docs, progress=False)
    bees = [r for r in parts.store.documents() if r.source == "bees.md"][0]
    assert third.updated == [bees.id] and len(third.unchanged) == 2
    assert third.chunks_embedded == bees.chunks  # only the changed file's chunks
    bee_chunks = [c for c in parts.store.all_chunks() if c.doc_id == bees.id]
    assert len(bee_chunks) == bees.chunks and "wax" in bee_chunks[0].text

    (docs / "notes.txt").unlink()
    fourth = parts.indexer.ingest(docs, progress=False)
    assert len(fourth.removed) == 1 and fourth.chunks_embedded == 0
    assert {r.source for r in parts.store.documents()} == {"seed.txt", "bees.md"}
    assert all(c.source != "notes.txt" for c in parts.store.all_chunks())
    total = sum(r.chunks for r in parts.store.documents())
    assert parts.store.count_chunks() == total


def test_chunk_offsets_match_the_stored_document(settings: Settings, embedder, tmp_path: Path) -> None:
    parts = make_parts(settings, embedder)
    parts.indexer.ingest(folder(tmp_path), progress=False)
    for chunk in parts.store.all_chunks():
        _, text = parts.store.get_document(chunk.doc_id)
        assert text[chunk.start : chunk.end] == chunk.text
        assert embedder.count_tokens([chunk.text])[0] <= settings.chunk_max_tokens


def test_a_bad_file_is_skipped_and_keeps_its_last_good_version(settings: Settings, embedder, tmp_path: Path) -> None:
    parts = make_parts(settings, embedder)
    docs = folder(tmp_path)
    parts.indexer.ingest(docs, progress=False)
    (docs / "notes.txt").write_bytes(b"\xff\xfe\x00bad")
    (docs / "photo.jpg").write_bytes(b"\xff\xd8")
    report = parts.indexer.ingest(docs, progress=False)
    assert {p.source for p in report.problems} == {"notes.txt", "photo.jpg"}
    assert report.removed == [] and len(report.unchanged) == 2
    assert "notes.txt" in {r.source for r in parts.store.documents()}


def test_upserts_go_in_batches_no_larger_than_chroma_allows(settings: Settings, embedder, tmp_path: Path,
                                                           monkeypatch) -> None:
    parts = make_parts(settings, embedder)
    monkeypatch.setattr(parts.store, "max_batch_size", lambda: 2)
    sizes: list[int] = []
    collection, _ = parts.store._collections()
    real_upsert = collection.upsert

    def spy(**kwargs):
        sizes.append(len(kwargs["ids"]))
        return real_upsert(**kwargs)

    monkeypatch.setattr(collection, "upsert", spy)
    docs = tmp_path / "many"
    docs.mkdir()
    (docs / "long.txt").write_text(" ".join(f"Sentence number {i} is here." for i in range(120)))
    parts.indexer.max_tokens = 20
    parts.indexer.ingest(docs, progress=False)
    assert sizes and max(sizes) <= 2 and sum(sizes) == parts.store.count_chunks()


def test_a_failed_write_stops_the_run_and_the_next_run_finishes_it(settings: Settings, embedder, tmp_path: Path,
                                                                  monkeypatch) -> None:
    """Groups are written on a writer thread while the next is embedded; a store error in one group's writes
    stops the run before any later group is written, and leaves that group without document records."""
    from ingest import indexing
    from service.errors import StoreUnavailable

    docs = tmp_path / "many"
    docs.mkdir()
    for n in range(6):
        (docs / f"d{n}.txt").write_text(f"Document {n} talks about topic number {n}. It has two sentences.")
    monkeypatch.setattr(indexing, "FLUSH_CHUNKS", 2)  # three groups of two documents
    parts = make_parts(settings, embedder)
    real_upsert, calls = parts.store.upsert_chunks, []

    def failing_upsert(chunks, vectors):
        calls.append([chunk.doc_id for chunk in chunks])
        if len(calls) == 2:
            raise StoreUnavailable("the store went away")
        return real_upsert(chunks, vectors)

    monkeypatch.setattr(parts.store, "upsert_chunks", failing_upsert)
    try:
        parts.indexer.ingest(docs, progress=False)
        raise AssertionError("the store error was swallowed")
    except StoreUnavailable:
        pass
    assert len(calls) == 2  # the third group was never written
    recorded = {record.source for record in parts.store.documents()}
    assert len(recorded) == 2  # the first group only
    monkeypatch.setattr(parts.store, "upsert_chunks", real_upsert)
    again = parts.indexer.ingest(docs, progress=False)
    assert len(again.unchanged) == 2 and len(again.added) == 4
    assert len({c.doc_id for c in parts.store.all_chunks()}) == 6


def test_added_files_go_under_their_root_and_remove_nothing(settings: Settings, embedder, tmp_path: Path) -> None:
    """Indexer.add_files, what POST /documents runs: the files' documents under the given root, the first of a
    repeated id kept and the others reported (as ingest reports them), nothing of the store removed."""
    parts = make_parts(settings, embedder)
    parts.indexer.ingest(folder(tmp_path), progress=False)
    uploads = tmp_path / "upload"
    uploads.mkdir()
    (uploads / "owls.jsonl").write_text('{"id": "owls", "text": "Owls hunt at night."}\n'
                                        '{"id": "owls", "text": "A second record with the same id."}\n')
    (uploads / "otters.txt").write_text("Otters hold hands while they sleep.")
    paths = [uploads / "owls.jsonl", uploads / "otters.txt"]
    report = parts.indexer.add_files(paths, "upload", progress=False)
    assert len(report.added) == 2 and report.removed == [] and report.root == "upload"
    assert [(p.source, p.reason) for p in report.problems] == [
        ("owls.jsonl#owls", "duplicate document id 'owls'; kept the first")]
    added = parts.store.documents(root="upload")
    assert {r.source for r in added} == {"owls.jsonl#owls", "otters.txt"}
    assert "Owls hunt" in parts.store.get_document("owls")[1]
    assert len(parts.store.documents()) == 5  # the folder's three are still there
    again = parts.indexer.add_files(paths, "upload", progress=False)
    assert sorted(again.unchanged) == sorted(report.added) and again.chunks_embedded == 0
    assert parts.indexer.add_files([], "upload").added == []
