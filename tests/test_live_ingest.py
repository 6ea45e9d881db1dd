"""Several processes on one embedded store (``CITEQA_DATA_DIR``): ``citeqa ingest`` while ``citeqa serve`` runs,
two ``citeqa serve`` processes, and the store-level mechanism under them (service/store.py's docstring).

chromadb's embedded client keeps each collection's vector index in memory, updated only by the process's own
writes. Before the fix, a question retrieving a document that ``citeqa ingest`` had just added got 503 (``Error
finding id``) until a restart, and a server writing after another process had written could save its stale
index over the newer one on disk. Here every such sequence runs with real processes, then a fresh store checks
that every chunk's vector is still on disk.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import numpy as np
import pytest

from ingest.models import Chunk
from service.store import ChromaStore
from tests.conftest import ROOT, SEED_QUESTION, make_settings
from tests.servers import CiteqaProcess

pytestmark = pytest.mark.slow  # real processes, servers or the model

OWLS = "Snowy owls nest on the open tundra. A snowy owl can eat more than 1600 lemmings in a year.\n"
OWL_QUESTION = "How many lemmings can a snowy owl eat in a year?"
HERONS = "Grey herons hunt fish in shallow water. A grey heron can stand still for over an hour while hunting.\n"
HERON_QUESTION = "How long can a grey heron stand still while hunting?"
CRANES = "Common cranes migrate to Spain in autumn. Their loud trumpeting calls carry for several kilometres.\n"
CRANE_QUESTION = "How far do the trumpeting calls of common cranes carry?"


def env_for(data_dir: Path) -> dict[str, str]:
    return {"CITEQA_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}


def cli(env: dict[str, str], *args: str) -> str:
    """``citeqa ARGS`` as a process of its own, with only ``env``'s CITEQA_* settings."""
    citeqa = Path(sys.executable).with_name("citeqa")
    clean = {**{k: v for k, v in os.environ.items() if not k.startswith("CITEQA_")}, **env}
    done = subprocess.run([str(citeqa), *args], env=clean, cwd=ROOT, capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def ask(server: CiteqaProcess, question: str) -> dict:
    response = httpx.post(f"{server.url}/ask", json={"question": question}, timeout=120)
    assert response.status_code == 200, response.text
    return response.json()


def cited_sources(body: dict) -> set[str]:
    return {citation["source"] for citation in body["citations"]}


def health(server: CiteqaProcess) -> dict:
    response = httpx.get(f"{server.url}/healthz", timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def upload(server: CiteqaProcess, name: str, text: str) -> dict:
    response = httpx.post(f"{server.url}/documents", files=[("files", (name, text.encode()))], timeout=300)
    assert response.status_code == 200, response.text
    return response.json()["documents"][0]


def failures_in(log: str) -> list[str]:
    """The log lines of failed requests (5xx access lines) and of store calls that failed (a read retried on a
    reopened store, then answered, is not one)."""
    return [line for line in log.splitlines()
            if re.search(r" (?:GET|POST|DELETE) \S+ 5\d\d ", line) or re.search(r"store call \w+ failed:", line)]


def assert_every_vector_on_disk(data_dir: Path) -> int:
    """A fresh store (a chromadb System of its own: what is on disk) reads every chunk with its vector, and the
    vector index finds every chunk. Returns the chunk count."""
    store = ChromaStore(make_settings(data_dir))
    ids = [chunk.id for chunk in store.all_chunks()]
    chunks, vectors = store.chunks_by_id(ids, vectors=True)
    assert set(chunks) == set(vectors) == set(ids)
    probe = next(iter(vectors.values()))
    assert {cid for cid, _ in store.query_ids(probe, len(ids))} == set(ids)
    return len(ids)


@pytest.fixture
def data_dir(tmp_path: Path, seed_store: Path) -> Path:
    folder = tmp_path / "data"
    shutil.copytree(seed_store, folder)
    return folder


def test_cli_ingest_while_serving_is_answered_at_the_next_question(tmp_path: Path, data_dir: Path) -> None:
    env = env_for(data_dir)
    server = CiteqaProcess(env, tmp_path / "serve.log", tmp_path).start()
    try:
        server.wait_ready()
        assert ask(server, SEED_QUESTION)["refused"] is False  # the server has its vector index in memory now
        before = health(server)["store"]["chunks"]

        docs = tmp_path / "docs"
        docs.mkdir()
        (docs / "owls.txt").write_text(OWLS)
        for i in range(40):  # enough groups that the server answers while the CLI writes
            (docs / f"filler{i:02d}.txt").write_text(
                f"Filler {i} is about the harbour number {i}. Harbour {i} was mapped in year {1800 + i}.")
        statuses: list[int] = []
        done = threading.Event()

        def keep_asking() -> None:
            with httpx.Client(base_url=server.url, timeout=120) as client:
                while not done.is_set():
                    statuses.append(client.post("/ask", json={"question": SEED_QUESTION}).status_code)

        asker = threading.Thread(target=keep_asking)
        asker.start()
        try:
            said = cli(env, "ingest", str(docs))  # another process writes to the served store
            assert "added 41" in said
            embedded = int(re.search(r"embedded (\d+) chunks", said).group(1))
        finally:
            done.set()
            asker.join(timeout=120)
        assert statuses and set(statuses) == {200}
        answer = ask(server, OWL_QUESTION)  # no 503, no restart
        assert cited_sources(answer) == {"owls.txt"} and "1600" in answer["answer"]
        store = health(server)["store"]
        assert store["status"] == "up" and store["chunks"] == before + embedded >= before + 41

        # the server writes after the CLI did (it must first catch up, or it would save a stale vector index)
        upload(server, "herons.txt", HERONS)
        assert "hour" in ask(server, HERON_QUESTION)["answer"]

        # and the CLI again, after the server's write: a file removed, another added
        (docs / "owls.txt").unlink()
        (docs / "cranes.txt").write_text(CRANES)
        assert cited_sources(ask(server, OWL_QUESTION)) == {"owls.txt"}
        report = cli(env, "ingest", str(docs))
        assert "added 1" in report and "removed 1" in report
        assert "owls.txt" not in cited_sources(ask(server, OWL_QUESTION))
        assert cited_sources(ask(server, CRANE_QUESTION)) == {"cranes.txt"}
        assert cited_sources(ask(server, HERON_QUESTION)) == {"herons.txt"}
        chunks = health(server)["store"]["chunks"]
    finally:
        server.stop()
    log = server.log.read_text()
    assert not failures_in(log)
    assert "written by another process; reopening it" in log
    assert assert_every_vector_on_disk(data_dir) == chunks


def test_two_servers_share_one_embedded_store(tmp_path: Path, data_dir: Path) -> None:
    env = env_for(data_dir)
    pair = [CiteqaProcess(env, tmp_path / f"serve-{name}.log", tmp_path) for name in "ab"]
    try:
        for server in pair:
            server.start()  # both load the model at the same time
        for server in pair:
            server.wait_ready()
        a, b = pair
        assert ask(a, SEED_QUESTION)["answer"] == ask(b, SEED_QUESTION)["answer"]

        owls = upload(a, "owls.txt", OWLS)
        assert cited_sources(ask(b, OWL_QUESTION)) == {"owls.txt"}
        upload(b, "herons.txt", HERONS)  # b wrote after a: each writes only once it has caught up
        assert cited_sources(ask(a, HERON_QUESTION)) == {"herons.txt"}
        assert httpx.get(f"{a.url}/documents").json() == httpx.get(f"{b.url}/documents").json()

        assert httpx.delete(f"{b.url}/documents/{owls['id']}").status_code == 200
        assert "owls.txt" not in cited_sources(ask(a, OWL_QUESTION))
        assert health(a)["store"]["chunks"] == health(b)["store"]["chunks"]
        chunks = health(a)["store"]["chunks"]
    finally:
        for server in pair:
            server.stop()
    for server in pair:
        assert not failures_in(server.log.read_text())
    assert assert_every_vector_on_disk(data_dir) == chunks


# --- the store, with random vectors (fast): what the servers above rely on ---------------------------------

WRITER = """
import sys
import threading
from pathlib import Path
import numpy as np
from ingest.models import Chunk
from service.settings import Settings
from service.store import ChromaStore

data_dir, prefix, n, seed = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
store = ChromaStore(Settings(_env_file=None, data_dir=data_dir))
rows = np.random.default_rng(seed).normal(size=(n, 8)).astype(np.float32)
chunks = [Chunk(id=f"{prefix}:{i}", doc_id=prefix, index=i, start=0, end=4, text=f"{prefix} {i}", title=prefix,
                source=f"{prefix}.txt") for i in range(n)]
store.upsert_chunks(chunks, rows / np.linalg.norm(rows, axis=1, keepdims=True))
"""


def vectors(n: int, seed: int) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(n, 8)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def chunks_of(prefix: str, n: int) -> list[Chunk]:
    return [Chunk(id=f"{prefix}:{i}", doc_id=prefix, index=i, start=0, end=4, text=f"{prefix} {i}", title=prefix,
                  source=f"{prefix}.txt") for i in range(n)]


def write_elsewhere(data_dir: Path, prefix: str, n: int, seed: int) -> None:
    """Write ``n`` chunks from another process (a ChromaStore, as ``citeqa ingest`` writes)."""
    done = subprocess.run([sys.executable, "-c", WRITER, str(data_dir), prefix, str(n), str(seed)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def test_a_store_written_by_another_process_is_reopened_before_reads_and_writes(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data")
    store = ChromaStore(settings)
    store.upsert_chunks(chunks_of("a", 5), vectors(5, 1))
    assert len(store.query_ids(vectors(1, 9)[0], 10)) == 5  # its vector index is in memory now
    revision = store.revision()

    # more than chromadb's 1000-record threshold, so the other process also saves its vector index to disk
    write_elsewhere(settings.data_dir, "b", 1500, seed=2)
    assert store.revision() != revision and store.reopened == 1
    hits = store.query_ids(vectors(1500, 2)[1499], 1)
    assert hits[0][0] == "b:1499" and hits[0][1] == pytest.approx(1.0, abs=1e-3)
    chunks, found = store.chunks_by_id(["a:0", "b:0", "b:1499"], vectors=True)
    assert set(chunks) == set(found) == {"a:0", "b:0", "b:1499"}

    # another process writes; this store then writes without reading first: it catches up before writing, else
    # its stale index (crossing the threshold too) would be saved over the other process's
    write_elsewhere(settings.data_dir, "c", 1200, seed=3)
    store.upsert_chunks(chunks_of("d", 1100), vectors(1100, 4))
    assert store.reopened == 2
    assert assert_every_vector_on_disk(settings.data_dir) == 5 + 1500 + 1200 + 1100

    # its own writes never make it reopen
    store.upsert_chunks(chunks_of("e", 3), vectors(3, 5))
    store.revision()
    assert store.reopened == 2


def test_a_read_that_fails_on_a_stale_index_is_retried_on_a_reopened_store(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data")
    reader, writer = ChromaStore(settings), ChromaStore(settings)  # each with a chromadb System of its own
    reader.upsert_chunks(chunks_of("a", 3), vectors(3, 1))
    reader.query_ids(vectors(1, 9)[0], 3)
    writer.upsert_chunks(chunks_of("b", 2), vectors(2, 2))
    # no revision check first (a write landing between the check and the read): chromadb fails, the store retries
    chunks, found = reader.chunks_by_id(["a:0", "b:1"], vectors=True)
    assert set(chunks) == set(found) == {"a:0", "b:1"} and reader.reopened == 1


def test_writes_from_two_stores_interleave_without_losing_vectors(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data")
    first, second = ChromaStore(settings), ChromaStore(settings)
    for round_ in range(4):
        for n, store in enumerate((first, second)):
            prefix = f"r{round_}s{n}"
            store.upsert_chunks(chunks_of(prefix, 300), vectors(300, 10 * round_ + n))
            store.delete_chunks([f"{prefix}:0"])
            assert store.chunks_by_id([f"{prefix}:1"], vectors=True)[1]
    assert assert_every_vector_on_disk(settings.data_dir) == 8 * 299
