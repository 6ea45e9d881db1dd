"""Building the parts once: the embedder, the store, the retriever, the judge, the answerer, the pipeline and
the follow-up question condenser.

Both entry points (the CLI and the app factory's lifespan) call :func:`build`; nothing here runs at import.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingest.embedding import LocalEmbedder, SentenceTransformerEmbedder
from ingest.indexing import Indexer
from ingest.models import ModelError
from service.answer.answering import Answerer, build_answerer
from service.answer.condense import Condenser, build_condenser
from service.answer.judge import Judge, JudgeModel
from service.answer.pipeline import AskPipeline
from service.answer.retrieval import Retriever
from service.errors import ConfigError
from service.settings import Settings
from service.store import ChromaStore


@dataclass
class Components:
    settings: Settings
    embedder: LocalEmbedder
    store: ChromaStore
    retriever: Retriever
    judge: Judge
    answerer: Answerer
    pipeline: AskPipeline
    indexer: Indexer
    condenser: Condenser


@dataclass
class Search:
    """The parts that ingest and retrieve, without the judge and the answerer (``citeqa train-judge`` collects
    its examples with these alone, so a stale or missing packaged judge model cannot stop it)."""

    store: ChromaStore
    retriever: Retriever
    indexer: Indexer


def build_search(settings: Settings, embedder: LocalEmbedder) -> Search:
    store = ChromaStore(settings)
    return Search(store, Retriever(store, embedder, settings),
                  Indexer(store, embedder, settings.chunk_max_tokens, settings.sentence_vectors))


def build_embedder(settings: Settings) -> LocalEmbedder:
    """The encoder ``settings.encoder`` names; its model loads on first use. A model that cannot be used is a
    :class:`~service.errors.ConfigError`."""
    try:
        if settings.encoder == "onnx-int8":
            from ingest.onnx_embedding import OnnxInt8Embedder

            return OnnxInt8Embedder(settings.embedding_model, settings.embed_batch_size,
                                    cache_dir=settings.encoder_cache_path)
        return SentenceTransformerEmbedder(settings.embedding_model, settings.embed_batch_size)
    except ModelError as exc:
        raise ConfigError(str(exc)) from None


def load_judge_model(settings: Settings) -> JudgeModel:
    """The judge's model: ``settings.judge_model``, else the packaged one. One that is missing or was fitted on
    other features is a :class:`~service.errors.ConfigError`."""
    try:
        return JudgeModel.load(settings.judge_model)
    except (OSError, ValueError, KeyError) as exc:
        where = settings.judge_model or "the packaged judge model"
        raise ConfigError(f"cannot load {where}: {exc}") from None


def build(settings: Settings, embedder: LocalEmbedder | None = None) -> Components:
    """Build every part for ``settings``; pass ``embedder`` to share an already loaded model."""
    embedder = embedder or build_embedder(settings)
    search = build_search(settings, embedder)
    judge = Judge(load_judge_model(settings))
    answerer = build_answerer(settings, judge.model)
    fallback = None
    if settings.llm_fallback == "extractive" and not settings.uses_extractive:
        fallback = build_answerer(settings.model_copy(update={"llm_model": "extractive"}), judge.model)
    return Components(
        settings=settings,
        embedder=embedder,
        store=search.store,
        retriever=search.retriever,
        judge=judge,
        answerer=answerer,
        pipeline=AskPipeline(search.retriever, judge, answerer, settings, fallback),
        indexer=search.indexer,
        condenser=build_condenser(settings),
    )
