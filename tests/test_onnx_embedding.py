"""The onnx-int8 encoder: a real export of the packaged model, compared with the torch encoder it replaces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ingest import onnx_embedding
from ingest.embedding import SentenceTransformerEmbedder
from ingest.onnx_embedding import OnnxInt8Embedder
from service import components
from tests.conftest import SEED_QUESTION, SEEDS, make_settings

pytestmark = pytest.mark.slow

TEXTS = [
    "Which NATO networks would the OpenAI contract cover?",
    "The lyrics were written by Aaron Schroeder and Wally Gold .",
    "`` It 's Now or Never '' is a ballad recorded by Elvis Presley in 1960 . It is one of two popular songs "
    "based on the Italian song of Neapolitan language `` ' O Sole mio '' ( music by Eduardo di Capua ) .",
    "The exact etymology of the nickname is unknown , but most folklore believe its roots come from the fact that "
    "tar , pitch , and turpentine created from the vast pine forests were some of North Carolina 's most "
    "important exports early in the state 's history .",
    "where did the word tar heel come from",
]


@pytest.fixture(scope="session")
def encoder_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("encoders")


@pytest.fixture(scope="session")
def onnx_embedder(encoder_cache: Path) -> OnnxInt8Embedder:
    model = OnnxInt8Embedder(cache_dir=encoder_cache)
    model.embed(["warm up"])
    return model


def test_export_is_made_locally_and_cached(onnx_embedder: OnnxInt8Embedder, encoder_cache: Path) -> None:
    assert onnx_embedder.model_file.is_file()
    assert onnx_embedder.model_file.is_relative_to(encoder_cache)
    assert onnx_embedder.model_file.stat().st_size < 70 * 1024 * 1024  # int8 weights: ~59 MB, against 90 MB
    assert list(encoder_cache.rglob(".export-*")) == []  # the work folder went away


def test_a_second_embedder_reuses_the_export(
    onnx_embedder: OnnxInt8Embedder, encoder_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_export(*args: object) -> None:
        raise AssertionError("exported again although the cache holds the model")

    monkeypatch.setattr(onnx_embedding, "export_int8", no_export)
    again = OnnxInt8Embedder(cache_dir=encoder_cache)
    assert again.model_file == onnx_embedder.model_file
    np.testing.assert_allclose(again.embed(TEXTS[:2]), onnx_embedder.embed(TEXTS[:2]), atol=1e-6)


def test_a_missing_export_is_rebuilt(tmp_path: Path, onnx_embedder: OnnxInt8Embedder) -> None:
    cache = tmp_path / "fresh"
    model = OnnxInt8Embedder(cache_dir=cache)
    assert not model.model_file.exists()
    vectors = model.embed(TEXTS[:2])
    assert model.model_file.is_file()
    np.testing.assert_allclose(vectors, onnx_embedder.embed(TEXTS[:2]), atol=1e-5)


def test_same_interface_as_the_torch_encoder(
    onnx_embedder: OnnxInt8Embedder, torch_embedder: SentenceTransformerEmbedder
) -> None:
    vectors = onnx_embedder.embed(TEXTS)
    assert vectors.shape == (len(TEXTS), 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert onnx_embedder.embed([]).shape == (0, 384)
    assert onnx_embedder.count_tokens(TEXTS) == torch_embedder.count_tokens(TEXTS)
    assert onnx_embedder.dimension == torch_embedder.dimension == 384
    np.testing.assert_allclose(onnx_embedder.embed_cached(TEXTS[:3]), vectors[:3], atol=1e-6)
    # a text gets the same vector alone or among others (dynamic quantisation must not mix batch-mates)
    np.testing.assert_allclose(onnx_embedder.embed([TEXTS[1]])[0], vectors[1], atol=1e-6)
    np.testing.assert_allclose(onnx_embedder.embed(TEXTS[::-1])[::-1], vectors, atol=1e-6)


def test_vectors_are_close_to_the_torch_ones(
    onnx_embedder: OnnxInt8Embedder, torch_embedder: SentenceTransformerEmbedder
) -> None:
    cosine = np.sum(onnx_embedder.embed(TEXTS) * torch_embedder.embed(TEXTS), axis=1)
    assert cosine.min() > 0.97, cosine
    # what retrieval uses: which text is nearest to a question is the same under both
    questions = ["who wrote the lyrics", "which Elvis Presley ballad is based on O Sole mio", TEXTS[4]]
    passages = TEXTS[1:4]
    torch_rank = (torch_embedder.embed(questions) @ torch_embedder.embed(passages).T).argmax(axis=1)
    onnx_rank = (onnx_embedder.embed(questions) @ onnx_embedder.embed(passages).T).argmax(axis=1)
    assert list(onnx_rank) == list(torch_rank) == [0, 1, 2]


def test_long_texts_are_truncated_to_the_window(onnx_embedder: OnnxInt8Embedder) -> None:
    long = " ".join(["word"] * 2000)
    assert onnx_embedder.embed([long]).shape == (1, 384)


def test_the_setting_selects_it_and_answers_cite(tmp_path: Path, encoder_cache: Path,
                                                 onnx_embedder: OnnxInt8Embedder) -> None:
    settings = make_settings(tmp_path / "store", encoder_cache_dir=encoder_cache)
    assert settings.encoder == "onnx-int8"  # the default
    assert isinstance(components.build_embedder(settings), OnnxInt8Embedder)
    torch_settings = make_settings(tmp_path / "s2", encoder="torch")
    assert isinstance(components.build_embedder(torch_settings), SentenceTransformerEmbedder)
    parts = components.build(settings, onnx_embedder)
    report = parts.indexer.ingest(SEEDS, progress=False)
    assert len(report.added) == 1
    result = parts.pipeline.ask(SEED_QUESTION)
    assert not result.refused and result.citations
    assert "unclassified" in result.answer


def test_the_export_is_shared_through_the_user_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert make_settings(tmp_path / "a").encoder_cache_path == tmp_path / "xdg" / "citeqa" / "encoders"
    assert make_settings(tmp_path / "b").encoder_cache_path == make_settings(tmp_path / "a").encoder_cache_path
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert make_settings(tmp_path / "a").encoder_cache_path == Path.home() / ".cache" / "citeqa" / "encoders"


@pytest.mark.parametrize("encoder", ["onnx", "torch"])
def test_sentence_vectors_come_from_the_passage_pass(
    encoder: str, onnx_embedder: OnnxInt8Embedder, torch_embedder: SentenceTransformerEmbedder
) -> None:
    model = onnx_embedder if encoder == "onnx" else torch_embedder
    text = TEXTS[2]
    spans = [(0, 72), (73, len(text)), (5, 5)]  # two sentences and an empty span
    vectors, pooled = model.embed_with_spans([text, TEXTS[0]], [spans, []])
    np.testing.assert_allclose(vectors, model.embed([text, TEXTS[0]]), atol=1e-5)  # the passages' own vectors
    assert pooled[0].shape == (3, 384) and pooled[1].shape == (0, 384)
    np.testing.assert_allclose(np.linalg.norm(pooled[0][:2], axis=1), 1.0, atol=1e-5)
    assert not pooled[0][2].any()  # no token: the zero vector, which matches nothing
    hidden, offsets = model.token_states([text])[0]
    inside = [row for row, (a, b) in enumerate(offsets) if b > a and a < 72]
    manual = hidden[inside].mean(axis=0)
    np.testing.assert_allclose(pooled[0][0], manual / np.linalg.norm(manual), atol=1e-5)
    # in context, a sentence is still nearest to what it says
    questions = model.embed(["which ballad did Elvis Presley record in 1960", "which Italian song is it based on"])
    assert list((questions @ pooled[0][:2].T).argmax(axis=1)) == [0, 1]


def test_the_two_encoders_pool_sentences_alike(onnx_embedder: OnnxInt8Embedder,
                                               torch_embedder: SentenceTransformerEmbedder) -> None:
    text, spans = TEXTS[3], [(0, 150), (150, len(TEXTS[3]))]
    _, (onnx_rows,) = onnx_embedder.embed_with_spans([text], [spans])
    _, (torch_rows,) = torch_embedder.embed_with_spans([text], [spans])
    assert np.sum(onnx_rows * torch_rows, axis=1).min() > 0.97
