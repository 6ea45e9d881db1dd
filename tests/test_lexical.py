"""The BM25 index kept on disk (service/answer/lexical.py): reused by a new process at the same store revision, rebuilt
after a write, rebuilt (never fatal) when its folder is broken, and never stale with a Chroma server shared by
replicas. A "restart" is a new BM25Index (or new parts) on the same settings, as a new process would build."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from service import components
from service.answer import lexical
from service.answer.lexical import MANIFEST, BM25Index
from service.settings import Settings
from service.store import ChromaStore
from tests.conftest import SEED_QUESTION, make_parts

ZEBRAS = "Zebras have black and white stripes. They live in herds on the African savanna."


class CountingStore(ChromaStore):
    """A real store that counts the pages of chunks read from it (what building the index costs)."""

    pages_read = 0

    def chunk_page(self, offset: int, limit: int):
        self.pages_read += 1
        return super().chunk_page(offset, limit)


def restart(settings: Settings) -> BM25Index:
    return BM25Index(CountingStore(settings), settings.data_dir / "bm25")


def folders(settings: Settings) -> list[Path]:
    root = settings.data_dir / "bm25"
    return sorted(path for path in root.iterdir()) if root.is_dir() else []


def add_zebras(parts: components.Components, tmp_path: Path) -> str:
    folder = tmp_path / "zebras"
    folder.mkdir()
    (folder / "zebras.txt").write_text(ZEBRAS)
    return parts.indexer.ingest(folder, progress=False).added[0]


def test_a_saved_index_is_loaded_at_the_same_revision(seeded_parts: components.Components) -> None:
    settings = seeded_parts.settings
    first = restart(settings)
    built = first.search_ids(SEED_QUESTION, 5)
    assert first.store.pages_read == 1 and built
    [folder] = folders(settings)
    assert folder.name.startswith(f"{settings.collection}-{first.store.revision()}-")
    assert json.loads((folder / MANIFEST).read_text())["chunks"] == seeded_parts.store.count_chunks()

    second = restart(settings)
    assert second.search_ids(SEED_QUESTION, 5) == built  # same ids, same scores, same order
    assert second.store.pages_read == 0  # loaded, not rebuilt
    assert [(c.id, c.text) for c, _ in second.search(SEED_QUESTION, 5)] == [
        (c.id, c.text) for c, _ in first.search(SEED_QUESTION, 5)
    ]


def test_the_retriever_gives_the_same_passages_from_a_loaded_index(seeded_parts: components.Components,
                                                                   embedder) -> None:
    built = seeded_parts.retriever.retrieve(SEED_QUESTION, 3)
    again = make_parts(seeded_parts.settings, embedder).retriever  # a new process: loads the saved index
    again.bm25 = restart(seeded_parts.settings)
    assert again.retrieve(SEED_QUESTION, 3).passages == built.passages
    assert again.bm25.store.pages_read == 0  # loaded, not rebuilt from the store


def test_a_write_makes_a_new_process_rebuild(seeded_parts: components.Components, tmp_path: Path) -> None:
    settings = seeded_parts.settings
    restart(settings).refresh()
    [old] = folders(settings)
    zebra_id = add_zebras(seeded_parts, tmp_path)  # bumps the store's revision

    index = restart(settings)
    hits = index.search("zebras stripes", 5)
    assert index.store.pages_read == 1  # the saved index was for the old revision: rebuilt
    assert [chunk.doc_id for chunk, _ in hits] == [zebra_id]
    [new] = folders(settings)  # saved for the new revision; the old folder is gone
    assert new != old and not old.exists()
    assert restart(settings).search("zebras stripes", 5) == hits


@pytest.mark.parametrize("damage", ["truncate scores", "garble vocabulary", "garble manifest", "drop a file"])
def test_a_broken_folder_is_rebuilt_not_fatal(seeded_parts: components.Components, damage: str,
                                              caplog: pytest.LogCaptureFixture) -> None:
    settings = seeded_parts.settings
    expected = restart(settings).search_ids(SEED_QUESTION, 5)
    [folder] = folders(settings)
    if damage == "truncate scores":
        path = folder / "bm25" / "data.csc.index.npy"
        path.write_bytes(path.read_bytes()[:-7])
    elif damage == "garble vocabulary":
        (folder / "bm25" / "vocab.index.json").write_text('{"nato": 0, ')
    elif damage == "garble manifest":
        (folder / MANIFEST).write_bytes(b"\x00\xff not json")
    else:
        (folder / "chunks.json").unlink()

    index = restart(settings)
    with caplog.at_level(logging.WARNING, logger="service.answer.lexical"):
        assert index.search_ids(SEED_QUESTION, 5) == expected
    assert index.store.pages_read == 1
    assert "unreadable" in caplog.text and "rebuilding" in caplog.text
    again = restart(settings)  # the rebuilt index was saved in its place, and is good
    assert again.search_ids(SEED_QUESTION, 5) == expected and again.store.pages_read == 0


def test_chunks_written_without_a_new_revision_are_noticed(seeded_parts: components.Components) -> None:
    """A folder whose chunk count differs from the store's is not trusted (e.g. a writer died before it bumped
    the revision)."""
    settings = seeded_parts.settings
    restart(settings).refresh()
    collection, _ = seeded_parts.store._collections()
    victim = collection.get(limit=1, include=[])["ids"][0]
    collection.delete(ids=[victim])  # behind the store's back: the revision stays the same
    index = restart(settings)
    assert victim not in {cid for cid, _ in index.search_ids(SEED_QUESTION, 50)}
    assert index.store.pages_read == 1


def test_an_unwritable_cache_folder_is_not_fatal(seeded_parts: components.Components,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    settings = seeded_parts.settings
    (settings.data_dir / "bm25").write_text("a file where the folder should be")
    with caplog.at_level(logging.WARNING, logger="service.answer.lexical"):
        hits = restart(settings).search_ids(SEED_QUESTION, 5)
    assert hits and "not saved" in caplog.text


def test_old_folders_and_stale_temporary_folders_are_pruned(seeded_parts: components.Components,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    settings = seeded_parts.settings
    root = settings.data_dir / "bm25"
    root.mkdir()
    old = root / f"{settings.collection}-0123abcd-{lexical.RECIPE}"
    other_collection = root / f"{settings.collection}-other-0123abcd-{lexical.RECIPE}"
    crashed = root / f".tmp-{settings.collection}-0123abcd-{lexical.RECIPE}-deadbeef"
    for path in (old, other_collection, crashed):
        path.mkdir()
    monkeypatch.setattr(lexical, "_STALE_TEMP_SECONDS", -1)
    restart(settings).refresh()
    left = {path.name for path in folders(settings)}
    assert old.name not in left and crashed.name not in left
    assert other_collection.name in left and len(left) == 2


def test_replicas_sharing_a_chroma_server_never_use_a_stale_index(server_settings: Settings,
                                                                  embedder, tmp_path: Path) -> None:
    """Replica a keeps its index on its own disk; writes come through replica b. A restarted a, finding its saved
    index for an older revision, rebuilds; a running a notices the new revision on its next search."""
    a_settings = server_settings.model_copy(update={"data_dir": tmp_path / "a"})
    b_settings = server_settings.model_copy(update={"data_dir": tmp_path / "b"})
    b = make_parts(b_settings, embedder)
    add_zebras(b, tmp_path)
    a = restart(a_settings)
    assert a.search_ids("zebras stripes", 5) and a.store.pages_read == 1
    assert restart(a_settings).search_ids("lions", 5) == []  # loaded from a's disk: still only zebras

    owls = tmp_path / "owls"
    owls.mkdir()
    (owls / "owls.txt").write_text("Snowy owls nest on the open tundra and eat lemmings.")
    b.indexer.ingest(owls, progress=False)
    assert a.search_ids("owls lemmings", 5)  # the running replica rebuilt
    restarted = restart(a_settings)
    assert restarted.search_ids("owls lemmings", 5) and restarted.store.pages_read == 0  # a saved it
    shutil.rmtree(tmp_path / "a")
