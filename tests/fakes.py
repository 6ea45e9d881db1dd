"""A fake embedder for the fast lane: no model, no tokenizer, deterministic.

:class:`HashingEmbedder` is a :class:`~ingest.embedding.LocalEmbedder` whose "model" hashes each word into one of
384 signed dimensions (a bag of words). It implements the encoder hooks (``embed``, ``dimension``,
``token_states``, ``count_tokens``), so everything else is the real code: the text and span caches, and the
sentence vectors pooled from a passage's token rows (``embed_with_spans``), exactly as the retriever, the indexer
and the judge use them. A text's vector is the unit mean of its word rows, so it equals ``embed_with_spans``'s.

Nothing here loads a model or starts a server, and the fixtures the tests build from it (``fake``, ``judge``,
``passages``, ``parts``) are not among ``tests/conftest.SLOW_FIXTURES``: those tests stay in ``make test-fast``.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from ingest.chunking import split_sentences
from ingest.embedding import LocalEmbedder, TokenStates
from ingest.models import Chunk
from service import components
from service.answer.lexical import STOPWORDS
from service.answer.retrieval import Passage
from service.settings import Settings

DIMENSION = 384
_WORD = re.compile(r"\w+")
STOPWORD_WEIGHT = 0.1  # stop words still count, a little, so a text of only stop words has a direction


def _key(word: str) -> str:
    """A crude stem, so 'networks' and 'network' share a dimension."""
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def word_row(word: str) -> np.ndarray:
    """The one-hot (signed, weighted) row of a word: stable across processes (sha256, not ``hash``)."""
    lowered = word.lower()
    digest = hashlib.sha256(_key(lowered).encode()).digest()
    row = np.zeros(DIMENSION, dtype=np.float32)
    row[int.from_bytes(digest[:4], "little") % DIMENSION] = 1.0 if digest[4] & 1 else -1.0
    return row * (STOPWORD_WEIGHT if lowered in STOPWORDS else 1.0)


class HashingEmbedder(LocalEmbedder):
    """A bag-of-words hashing encoder of dimension 384 with unit-length vectors."""

    def __init__(self, query_cache_size: int = 16384) -> None:
        super().__init__(query_cache_size=query_cache_size)  # the packaged model's folder is only located
        self.name = "hashing-bow-384"

    @property
    def dimension(self) -> int:
        return DIMENSION

    def _states(self, text: str) -> TokenStates:
        matches = list(_WORD.finditer(text))
        if not matches:  # like a model's special token: a row with the empty span, pooled into no sentence
            return np.zeros((1, DIMENSION), dtype=np.float32), [(0, 0)]
        return np.vstack([word_row(m.group()) for m in matches]), [m.span() for m in matches]

    def token_states(self, texts: Sequence[str]) -> list[TokenStates]:
        return [self._states(text) for text in texts]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        rows = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        for i, text in enumerate(texts):
            mean = self._states(text)[0].mean(axis=0)
            rows[i] = mean / max(float(np.linalg.norm(mean)), 1e-12)
        return rows

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Words and punctuation marks, a rough stand-in for word-pieces (no tokenizer is loaded)."""
        return [len(re.findall(r"\w+|[^\w\s]", text)) for text in texts]


def make_passage(embedder: LocalEmbedder, text: str, doc_id: str = "doc", start: int = 0, index: int = 0,
                 score: float = 1.0) -> Passage:
    """A retrieved passage built by hand: a chunk of ``text`` at ``start`` of document ``doc_id``, carrying its
    vector and one vector per sentence of ``split_sentences(text)``, as the retriever gives them."""
    chunk = Chunk(id=f"{doc_id}:{start}", doc_id=doc_id, index=index, start=start, end=start + len(text), text=text,
                  title=f"{doc_id} title", source=f"{doc_id}.txt")
    vectors, pooled = embedder.embed_with_spans([text], [split_sentences(text)])
    return Passage(chunk=chunk, score=score, vector=vectors[0], sentence_vectors=pooled[0])


# --- a small corpus: short documents whose questions a bag of words can tell apart ------------------------------
ZEBRAS = ("Zebras are African equines with distinctive black and white striped coats. Each zebra has its own unique "
          "pattern of stripes. Zebras live in herds on the open savanna. Lions and hyenas are the main predators of "
          "zebras.\n")
LIGHTHOUSE = ("The Eddystone Lighthouse stands on dangerous rocks fourteen kilometres south of Plymouth. The current "
              "tower was designed by James Douglass and completed in 1882. Its light can be seen from thirty-five "
              "kilometres away.\n")
BRIDGE = ("The Clifton Suspension Bridge spans the Avon Gorge in Bristol. The bridge was designed by Isambard Kingdom "
          "Brunel and opened in 1864. Its deck hangs seventy-five metres above the river at high tide.\n")
SEED_ARTICLE = Path(__file__).resolve().parent.parent / "seeds" / "000_a0a842ccb2970736.txt"


def write_corpus(folder: Path) -> Path:
    """The corpus as files in ``folder``: the three short documents and the seed article."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in (("zebras.txt", ZEBRAS), ("lighthouse.txt", LIGHTHOUSE), ("bridge.txt", BRIDGE)):
        (folder / name).write_text(text, encoding="utf-8")
    shutil.copy(SEED_ARTICLE, folder / "nato.txt")
    return folder


def fake_components(data_dir: Path, **overrides: object) -> components.Components:
    """Every part as the app builds it (an embedded Chroma store in ``data_dir``, the packaged judge, the answerer
    and condenser the settings pick: extractive and heuristic by default), with a :class:`HashingEmbedder`."""
    settings = Settings(_env_file=None, data_dir=data_dir, **overrides)  # type: ignore[call-arg]
    return components.build(settings, HashingEmbedder())


_CORPUS_STORE: list[Path] = []  # the store built once per test session, copied by each module that asks


def corpus_components(tmp_path_factory: pytest.TempPathFactory, **overrides: object) -> components.Components:
    """:func:`fake_components` over a store of its own holding :func:`write_corpus`'s documents; the judge warmed.

    The store is built (ingested with the fake embedder: about 0.3 s, and chromadb's import, about 1.3 s) once per
    test session and copied for each caller, as ``tests/conftest.seed_store`` does for the seed store."""
    if not _CORPUS_STORE:
        root = tmp_path_factory.mktemp("fake-corpus")
        built = fake_components(root / "store")
        report = built.indexer.ingest(write_corpus(root / "docs"), progress=False)
        assert len(report.added) == 4 and not report.problems, report.summary()
        _CORPUS_STORE.append(root / "store")
    data_dir = tmp_path_factory.mktemp("fake-corpus-copy") / "store"
    shutil.copytree(_CORPUS_STORE[0], data_dir)
    parts = fake_components(data_dir, **overrides)
    parts.judge.warm()
    return parts


def doc_id(parts: components.Components, source: str) -> str:
    """The id the store gave the document ingested from ``source`` (a file name of the corpus)."""
    return next(record.id for record in parts.store.documents() if record.source == source)
