"""Shared fixtures: real parts in temporary folders.

The embedding model is loaded once per test session; stores are real embedded Chroma stores under tmp_path;
servers are real uvicorn servers on free 127.0.0.1 ports.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ingest.embedding import LocalEmbedder, SentenceTransformerEmbedder
from service import components
from service.settings import Settings
from tests.servers import ChromaServer, LiveServer, ScriptedOpenAI

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

# A test using one of these loads the embedding model or starts a server: it is marked `slow` automatically, and
# `make test-fast` (pytest -m "not slow") leaves it out.
SLOW_FIXTURES = frozenset({
    "embedder", "torch_embedder", "seed_store", "seeded_settings", "seeded_parts", "live_server", "chroma_server",
    "server_settings", "llm_server",
})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_QUESTION = "Which NATO networks would the OpenAI contract cover?"
UNANSWERABLE = "What is the dollar value of the NATO contract?"


@pytest.fixture(autouse=True)
def _no_citeqa_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests build their settings explicitly; a developer's CITEQA_* variables or .env must not leak in."""
    for key in list(os.environ):
        if key.startswith("CITEQA_"):
            monkeypatch.delenv(key)


@pytest.fixture(scope="session")
def embedder() -> LocalEmbedder:
    """The default encoder (onnx-int8; its export is made once into the user's cache, as for a user)."""
    model = components.build_embedder(Settings(_env_file=None))  # type: ignore[call-arg]
    model.embed(["warm up"])
    return model


@pytest.fixture(scope="session")
def torch_embedder() -> SentenceTransformerEmbedder:
    """The torch float32 encoder, for the tests that compare against it or select it."""
    model = SentenceTransformerEmbedder()
    model.embed(["warm up"])
    return model


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    return Settings(_env_file=None, data_dir=data_dir, **overrides)  # type: ignore[call-arg]


def make_parts(settings: Settings, embedder: LocalEmbedder) -> components.Components:
    """Build components like the app does, but sharing the session's loaded model."""
    return components.build(settings, embedder)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "store")


@pytest.fixture(scope="session")
def seed_store(tmp_path_factory: pytest.TempPathFactory, embedder: LocalEmbedder) -> Path:
    """A store with the seed article ingested, built once; tests copy it rather than re-embed."""
    data_dir = tmp_path_factory.mktemp("seed-store")
    parts = make_parts(make_settings(data_dir), embedder)
    report = parts.indexer.ingest(SEEDS, progress=False)
    assert len(report.added) == 1
    return data_dir


@pytest.fixture
def seeded_settings(tmp_path: Path, seed_store: Path) -> Settings:
    data_dir = tmp_path / "store"
    shutil.copytree(seed_store, data_dir)
    return make_settings(data_dir)


@pytest.fixture
def seeded_parts(seeded_settings: Settings, embedder: LocalEmbedder) -> components.Components:
    return make_parts(seeded_settings, embedder)


@pytest.fixture
def live_server(seeded_parts: components.Components) -> Iterator[LiveServer]:
    from service.web.app import create_app

    with LiveServer(create_app(seeded_parts.settings, seeded_parts)) as server:
        yield server


@pytest.fixture
def openai_server() -> Iterator[ScriptedOpenAI]:
    with ScriptedOpenAI() as server:
        yield server


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    """One real Chroma server (``chroma run``) for the session, stopped by its process id at the end.

    A test may ``stop()`` it; the next test asking for it through ``server_settings`` finds it started again.
    """
    with ChromaServer(tmp_path_factory.mktemp("chroma-server") / "data") as server:
        yield server


@pytest.fixture
def server_settings(tmp_path: Path, chroma_server: ChromaServer) -> Settings:
    """Settings using the session's Chroma server, with a collection of this test's own."""
    if not chroma_server.alive_or_false():
        chroma_server.start()
    return make_settings(tmp_path / "unused", chroma_url=chroma_server.url, collection=f"t{uuid.uuid4().hex[:12]}")


@contextmanager
def llm_app(settings: Settings, embedder: LocalEmbedder, openai_server: ScriptedOpenAI,
            **overrides: object) -> Iterator[LiveServer]:
    """The app under uvicorn with a real LLM answerer: litellm calling the scripted OpenAI-compatible server."""
    from service.web.app import create_app

    settings = settings.model_copy(update={
        "llm_model": "openai/test-model", "llm_api_base": openai_server.api_base, "llm_timeout": 5.0, **overrides,
    })
    with LiveServer(create_app(settings, make_parts(settings, embedder))) as server:
        yield server


@pytest.fixture
def llm_server(seeded_settings: Settings, embedder: LocalEmbedder,
               openai_server: ScriptedOpenAI) -> Iterator[tuple[LiveServer, ScriptedOpenAI]]:
    with llm_app(seeded_settings, embedder, openai_server) as server:
        yield server, openai_server
