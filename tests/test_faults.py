"""Faults: a failing LLM provider, ingestion killed part-way, ingestion while questions are answered."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from service.web.app import create_app
from tests.conftest import SEED_QUESTION, SEEDS, make_parts, make_settings
from tests.servers import LiveServer


@pytest.fixture
def fallback_server(seeded_settings, embedder, openai_server):
    settings = seeded_settings.model_copy(update={
        "llm_model": "openai/test-model", "llm_api_base": openai_server.api_base, "llm_timeout": 2.0,
        "llm_fallback": "extractive",
    })
    with LiveServer(create_app(settings, make_parts(settings, embedder))) as server:
        yield server, openai_server


@pytest.mark.parametrize("mode", ["error500", "error429", "malformed", "hang"])
def test_llm_failure_degrades_to_the_extractive_answer(fallback_server, mode: str) -> None:
    server, llm = fallback_server
    llm.mode, llm.hang_seconds = mode, 120
    started = time.monotonic()
    response = httpx.post(f"{server.url}/ask", json={"question": SEED_QUESTION}, timeout=100)
    assert time.monotonic() - started < 60  # cut by the 2 s LLM timeout, not the 120 s hang
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["degraded"] is True and body["model"] == "extractive"
    assert "unclassified" in body["answer"] and body["citations"]


def test_a_working_llm_is_not_degraded(fallback_server) -> None:
    server, llm = fallback_server
    llm.content = "It covers unclassified networks [1]."
    body = httpx.post(f"{server.url}/ask", json={"question": SEED_QUESTION}, timeout=30).json()
    assert body["degraded"] is False and body["model"] == "openai/test-model"


def make_corpus(folder: Path, n: int) -> Path:
    folder.mkdir(parents=True)
    topics = ["river", "mountain", "library", "harbour", "orchard", "glacier", "market", "bridge"]
    for i in range(n):
        topic = topics[i % len(topics)]
        (folder / f"doc{i:04d}.txt").write_text(
            f"Document {i} is about the {topic} number {i}. The {topic} {i} was recorded in year {1800 + i}. "
            f"Visitors to {topic} {i} counted {i * 7} birds."
        )
    return folder


def ingest_process(folder: Path, data_dir: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEQA_")}
    env["CITEQA_DATA_DIR"] = str(data_dir)
    return subprocess.Popen([sys.executable, "-m", "service.cli", "-v", "ingest", "--no-progress", str(folder)],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)


def store_state(data_dir: Path, embedder) -> tuple[list[str], dict[str, str]]:
    parts = make_parts(make_settings(data_dir), embedder)
    chunk_ids = sorted(chunk.id for chunk in parts.store.all_chunks())
    return chunk_ids, {record.id: record.hash for record in parts.store.documents()}


def test_ingest_killed_part_way_then_rerun_equals_one_clean_run(tmp_path: Path, embedder) -> None:
    corpus = make_corpus(tmp_path / "corpus", 300)
    killed_store, clean_store = tmp_path / "killed", tmp_path / "clean"

    process = ingest_process(corpus, killed_store)
    indexed = 0
    assert process.stderr is not None
    for line in process.stderr:  # wait until part of the folder is in, then kill without warning
        indexed += "indexed doc" in line
        if indexed >= 40:
            break
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    partial_ids, partial_docs = store_state(killed_store, embedder)
    assert 0 < len(partial_docs) < 300  # really killed part-way

    rerun = ingest_process(corpus, killed_store)
    assert rerun.wait(timeout=600) == 0
    clean = ingest_process(corpus, clean_store)
    assert clean.wait(timeout=600) == 0

    killed_ids, killed_docs = store_state(killed_store, embedder)
    clean_ids, clean_docs = store_state(clean_store, embedder)
    assert len(clean_docs) == 300
    assert killed_docs == clean_docs
    assert killed_ids == clean_ids and len(killed_ids) == len(set(killed_ids))  # none missing, no duplicates


def test_ingestion_while_answering_loses_nothing(live_server, tmp_path: Path) -> None:
    parts = live_server.server.config.app.state.components
    before = parts.store.count_chunks()
    corpus = make_corpus(tmp_path / "corpus", 60)
    failures: list[str] = []
    answered = 0
    done = threading.Event()

    def ask_repeatedly() -> None:
        nonlocal answered
        with httpx.Client(timeout=60) as client:
            while not done.is_set():
                response = client.post(f"{live_server.url}/ask", json={"question": SEED_QUESTION})
                if response.status_code != 200 or "unclassified" not in response.text:
                    failures.append(f"{response.status_code} {response.text[:200]}")
                answered += 1

    askers = [threading.Thread(target=ask_repeatedly) for _ in range(2)]
    for thread in askers:
        thread.start()
    try:
        report = parts.indexer.ingest(corpus, progress=False)
    finally:
        done.set()
        for thread in askers:
            thread.join(timeout=60)
    assert failures == [] and answered >= 2
    assert len(report.added) == 60
    expected = before + sum(r.chunks for r in parts.store.documents() if r.root == report.root)
    assert parts.store.count_chunks() == expected
    hits = parts.retriever.bm25.search("glacier 14 recorded year 1814", 3)
    assert hits and hits[0][0].text.startswith("Document 14 ")


def test_chroma_server_down_gives_fast_503s_then_recovers(tmp_path: Path, embedder) -> None:
    from tests.servers import ChromaServer

    with ChromaServer(tmp_path / "chroma") as chroma:
        settings = make_settings(tmp_path / "unused", chroma_url=chroma.url)
        parts = make_parts(settings, embedder)
        parts.indexer.ingest(SEEDS, progress=False)
        with LiveServer(create_app(settings, parts)) as api, httpx.Client(base_url=api.url, timeout=30) as client:
            assert client.post("/ask", json={"question": SEED_QUESTION}).status_code == 200

            chroma.stop()
            for _ in range(3):
                started = time.monotonic()
                response = client.post("/ask", json={"question": SEED_QUESTION})
                assert time.monotonic() - started < 2.0
                assert response.status_code == 503
                assert response.json()["error"]["code"] == "store_unavailable"
            health = client.get("/healthz")
            assert health.status_code == 503 and health.json()["store"]["status"] == "down"
            assert client.get("/documents").status_code == 503

            chroma.start()  # same folder, same port; the API process is not restarted
            response = client.post("/ask", json={"question": SEED_QUESTION})
            assert response.status_code == 200 and "unclassified" in response.json()["answer"]
            assert client.get("/healthz").json()["store"]["status"] == "up"
