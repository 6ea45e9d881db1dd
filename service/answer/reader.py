"""The judge's reader: how well each candidate sentence answers the question, read word piece by word piece.

A decomposable-attention model (Parikh et al., 2016) over all-MiniLM-L6-v2's word pieces: each piece of the
question attends over the sentence's pieces, is compared with what it aligned to (and whether the same piece is
there, and how rare it is), and the comparisons, pooled (rarity-weighted mean and max), give one logit per
sentence. Trained listwise with a "none of these" option (:mod:`service.evaluation.reader_training`), so a
logit says "answers" rather than "is about the same thing", which is what the sentence cosine cannot say. Its
logit and its gap to the question's best are two of the judge's features (:mod:`service.answer.judge`).

Numpy only, no encoder pass: the input embeddings are already projected into one table (a row per word piece,
stored in float16), so reading a question's 20 candidates is a few small matrix products (well under 1 ms).
The weights live beside the judge's model (``service/answer/judge_model.reader.npz``: ``judge.reader_file``),
written by ``citeqa train-judge`` and loaded with it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

MAX_QUESTION = 32  # word pieces read of a question
MAX_SENTENCE = 96  # of a sentence (at 64, 8% of the answering sentences of CLAPnq and SQuAD were cut short)
SENTENCE_CACHE = 20_000  # sentences whose word pieces a Reader keeps (~1 KB each with its text: ~20-50 MiB)
LAYERS = ("compare_1", "compare_2", "out_1", "out_2")


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


@dataclass(frozen=True)
class ReaderWeights:
    """The arrays of a trained reader: ``table`` (one projected row per word piece), ``rarity`` (per piece),
    ``none`` (the "none of these" logit) and, per layer of :data:`LAYERS`, ``<layer>.weight`` (in, out) and
    ``<layer>.bias``."""

    arrays: dict[str, np.ndarray]

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]

    @property
    def none(self) -> float:
        return float(self.arrays["none"])

    def save(self, path: Path) -> None:
        """Compressed, the table in float16 (half the size; the logits move by ~1e-3)."""
        arrays: dict[str, Any] = {**self.arrays, "table": self.arrays["table"].astype(np.float16)}
        np.savez_compressed(path, **arrays)

    @classmethod
    def load(cls, path: Path) -> ReaderWeights:
        with np.load(path) as data:
            arrays = {name: data[name] for name in data.files}
        arrays["table"] = arrays["table"].astype(np.float32)
        return cls(arrays)


def read(weights: ReaderWeights, question: Sequence[int], sentences: Sequence[Sequence[int]]) -> np.ndarray:
    """The logit of each sentence (word-piece ids) for the question (word-piece ids)."""
    if not sentences:
        return np.zeros(0, dtype=np.float32)
    q = np.asarray(question or [100], dtype=np.int64)  # [UNK] for an empty question
    width = max(1, max(len(s) for s in sentences))
    s = np.zeros((len(sentences), width), dtype=np.int64)
    mask = np.zeros((len(sentences), width), dtype=bool)
    for i, ids in enumerate(sentences):
        s[i, :len(ids)] = ids
        mask[i, :len(ids)] = True
    table, rarity = weights["table"], weights["rarity"]
    hidden = table.shape[1]
    eq, es = table[q], table[s]  # (Lq, H), (C, Ls, H)
    attention = np.einsum("qh,csh->cqs", eq, es) / np.sqrt(hidden)
    attention = np.where(mask[:, None, :], attention, -1e4)
    attention = np.exp(attention - attention.max(axis=-1, keepdims=True))
    attention /= attention.sum(axis=-1, keepdims=True)
    aligned = attention @ es  # (C, Lq, H)
    exact = ((q[None, :, None] == s[:, None, :]) & mask[:, None, :]).any(axis=-1, keepdims=True)
    # the first compare layer over [eq, aligned - eq, exact, rarity / 10], by parts: the question's part once
    w1 = weights["compare_1.weight"]
    own = eq @ w1[:hidden] + (rarity[q] / 10)[:, None] * w1[2 * hidden + 1] + weights["compare_1.bias"]
    h = _relu((aligned - eq[None]) @ w1[hidden:2 * hidden] + exact.astype(np.float32) * w1[2 * hidden] + own[None])
    h = _relu(h @ weights["compare_2.weight"] + weights["compare_2.bias"])
    w = rarity[q][None, :, None]
    pooled = np.concatenate([(h * w).sum(axis=1) / w.sum(axis=1), h.max(axis=1)], axis=-1)
    out = _relu(pooled @ weights["out_1.weight"] + weights["out_1.bias"])
    return (out @ weights["out_2.weight"] + weights["out_2.bias"])[:, 0].astype(np.float32)


class Reader:
    """Reads questions against sentences with ``weights``; the tokenizer loads on first use. The word pieces of
    the last ``cache_size`` sentences are kept (by text): the passages of a collection come back question after
    question, and tokenising them is half of the reader's time."""

    def __init__(self, weights: ReaderWeights, cache_size: int = SENTENCE_CACHE) -> None:
        self.weights = weights
        self.cache_size = cache_size
        self._tokenizer: Any = None
        self._lock = threading.Lock()
        self._pieces: OrderedDict[str, list[int]] = OrderedDict()

    def warm(self) -> Any:
        with self._lock:
            if self._tokenizer is None:
                self._tokenizer = tokenizer()
        return self._tokenizer

    def sentence_pieces(self, sentences: Sequence[str]) -> list[list[int]]:
        """The word pieces read of each sentence (at most ``MAX_SENTENCE``), tokenising only those not kept."""
        with self._lock:
            known = {s: self._pieces[s] for s in sentences if s in self._pieces}
            for s in known:
                self._pieces.move_to_end(s)
        missing = list(dict.fromkeys(s for s in sentences if s not in known))
        if missing:
            found = (self._tokenizer or self.warm()).encode_batch(missing, add_special_tokens=False)
            fresh = {s: f.ids[:MAX_SENTENCE] for s, f in zip(missing, found, strict=True)}
            known.update(fresh)
            with self._lock:
                self._pieces.update(fresh)
                while len(self._pieces) > self.cache_size:
                    self._pieces.popitem(last=False)
        return [known[s] for s in sentences]

    def __call__(self, question: str, sentences: Sequence[str]) -> np.ndarray:
        asked = (self._tokenizer or self.warm()).encode(question, add_special_tokens=False)
        return read(self.weights, asked.ids[:MAX_QUESTION], self.sentence_pieces(sentences))


def tokenizer() -> Any:
    """The word-piece tokenizer of the packaged all-MiniLM-L6-v2, whose vocabulary the reader's table is of."""
    from tokenizers import Tokenizer

    from ingest.embedding import PACKAGED_MODEL, resolve_model_path

    tok = Tokenizer.from_file(str(resolve_model_path(PACKAGED_MODEL) / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    return tok
