"""Training the judge's reader (:mod:`service.answer.reader`) with torch; ``citeqa train-judge`` calls it.

Listwise: per question, a softmax over its candidate sentences and a learnt "none of these" logit. The target is
the gold sentences of an answerable question; "none" for an unanswerable one, and for an answerable question
asked again with the passages that hold its answer withheld (what remains is on topic and does not answer: the
look-alike a similarity model falls for). The question and sentence pieces are all-MiniLM-L6-v2's input
embeddings, frozen, through a learnt projection; the exported table is that projection applied to every piece.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from service.answer.reader import MAX_QUESTION, MAX_SENTENCE, ReaderWeights, tokenizer

HIDDEN = 96
EPOCHS = 3
BATCH = 16
LEARNING_RATE = 1e-3
WEIGHT_DECAY = 1e-4
RECIPE = {"model": "decomposable attention over all-MiniLM-L6-v2 input embeddings (frozen), listwise with none",
          "hidden": HIDDEN, "epochs": EPOCHS, "batch": BATCH, "lr": LEARNING_RATE, "weight_decay": WEIGHT_DECAY,
          "max_question": MAX_QUESTION, "max_sentence": MAX_SENTENCE}


@dataclass
class Pieces:
    """Word-piece ids of each question and of its candidates, the frozen input embeddings and piece rarity."""

    ids: dict[str, tuple[list[int], list[list[int]]]]  # example id -> (question, candidates)
    embeddings: Any  # torch (vocabulary, 384)
    rarity: np.ndarray  # float32 (vocabulary,): log(sentences / sentences holding the piece)


def pieces(examples: Sequence[Any]) -> Pieces:
    """Tokenise every example's question and candidates (:class:`service.evaluation.training.Example`)."""
    import torch
    from safetensors.numpy import load_file

    from ingest.embedding import PACKAGED_MODEL, resolve_model_path

    tok = tokenizer()
    weights = load_file(str(resolve_model_path(PACKAGED_MODEL) / "model.safetensors"))
    table = next(v for k, v in weights.items() if k.endswith("word_embeddings.weight"))
    ids: dict[str, tuple[list[int], list[list[int]]]] = {}
    for e in examples:
        found = tok.encode_batch([e.question, *(c.text for c in e.candidates.items)], add_special_tokens=False)
        ids[e.id] = (found[0].ids[:MAX_QUESTION] or [100], [f.ids[:MAX_SENTENCE] or [100] for f in found[1:]])
    holding = np.ones(len(table))
    total = 1
    for _, sentences in ids.values():
        total += len(sentences)
        for piece in {i for s in sentences for i in s}:
            holding[piece] += 1
    return Pieces(ids, torch.tensor(table), np.log(total / holding).astype(np.float32))


def build(embeddings: Any, rarity: np.ndarray) -> Any:
    """The torch module; its forward reads the questions of :func:`padded` as :func:`service.answer.reader.read`
    reads each one (tests check they agree)."""
    import torch

    class Reader(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embeddings = embeddings
            self.rarity = torch.tensor(rarity)
            self.project = torch.nn.Sequential(torch.nn.Linear(embeddings.shape[1], HIDDEN), torch.nn.ReLU(),
                                               torch.nn.Linear(HIDDEN, HIDDEN))
            self.compare_1 = torch.nn.Linear(2 * HIDDEN + 2, HIDDEN)
            self.compare_2 = torch.nn.Linear(HIDDEN, HIDDEN)
            self.out_1 = torch.nn.Linear(2 * HIDDEN, HIDDEN)
            self.out_2 = torch.nn.Linear(HIDDEN, 1)
            self.none = torch.nn.Parameter(torch.tensor(0.0))

        def forward(self, q: Any, q_mask: Any, s: Any, mask: Any) -> Any:
            """Questions padded together: q (B, Lq) with q_mask; s (B, C, Ls) with mask -> (B, C) logits (a padded
            question piece weighs nothing; a padded candidate's logit is meaningless)."""
            relu = torch.relu
            # each distinct piece projected once: (B, Lq, H), (B, C, Ls, H)
            distinct, where = torch.unique(torch.cat([q.reshape(-1), s.reshape(-1)]), return_inverse=True)
            table = self.project(self.embeddings[distinct])
            eq, es = table[where[:q.numel()].view(q.shape)], table[where[q.numel():].view(s.shape)]
            attention = torch.einsum("bqh,bcsh->bcqs", eq, es) / HIDDEN ** 0.5
            attention = torch.softmax(attention.masked_fill(~mask[:, :, None, :], -1e4), -1)
            aligned = torch.einsum("bcqs,bcsh->bcqh", attention, es)
            exact = ((q[:, None, :, None] == s[:, :, None, :]) & mask[:, :, None, :]).float().amax(-1, keepdim=True)
            rarity = (self.rarity[q] * q_mask)[:, None, :, None].expand(-1, s.shape[1], -1, 1)  # (B, C, Lq, 1)
            own = eq[:, None].expand(-1, s.shape[1], -1, -1)
            x = torch.cat([own, aligned - own, exact, rarity / 10], -1)
            h = relu(self.compare_2(relu(self.compare_1(x)))) * q_mask[:, None, :, None]  # h >= 0: max unharmed
            pooled = torch.cat([(h * rarity).sum(2) / rarity.sum(2).clamp_min(1e-6), h.amax(2)], -1)
            return self.out_2(relu(self.out_1(pooled))).squeeze(-1)

    return Reader()


def padded(rows: Sequence[tuple[list[int], list[list[int]], np.ndarray | None]]) -> tuple[Any, ...]:
    """Questions for the module's forward, each (question pieces, its candidates' pieces, labels or None for "none"):
    q, q_mask, s, mask, the candidates' mask (B, C) and the wanted answers (B, C + 1), "none" last."""
    import torch

    b = len(rows)
    lq = max(len(q) for q, _, _ in rows)
    c = max(len(sentences) for _, sentences, _ in rows)
    ls = max(len(one) for _, sentences, _ in rows for one in sentences)
    q, q_mask = torch.zeros(b, lq, dtype=torch.long), torch.zeros(b, lq, dtype=torch.bool)
    s, mask = torch.zeros(b, c, ls, dtype=torch.long), torch.zeros(b, c, ls, dtype=torch.bool)
    present, wanted = torch.zeros(b, c, dtype=torch.bool), torch.zeros(b, c + 1, dtype=torch.bool)
    for i, (question, sentences, labels) in enumerate(rows):
        q[i, :len(question)], q_mask[i, :len(question)] = torch.tensor(question), True
        for j, ids in enumerate(sentences):
            s[i, j, :len(ids)], mask[i, j, :len(ids)] = torch.tensor(ids), True
        present[i, :len(sentences)] = True
        if labels is None:
            wanted[i, c] = True
        else:
            wanted[i, :len(sentences)] = torch.from_numpy(labels > 0)
    return q, q_mask, s, mask, present, wanted


def targets(example: Any) -> list[tuple[list[int], np.ndarray | None]]:
    """(candidate indices, their labels, or None for "none of these") to learn from one question."""
    everything = list(range(len(example.candidates.items)))
    if not everything:
        return []
    if not example.answerable:
        return [(everything, None)]
    if example.labels.max() <= 0:
        return []
    answering = example.answering_passages()
    kept = [i for i, c in enumerate(example.candidates.items) if c.passage not in answering]
    return [(everything, example.labels)] + ([(kept, None)] if kept else [])


def train(examples: Sequence[Any], found: Pieces, seed: int = 0, epochs: int = EPOCHS,
          echo: Callable[[str], None] | None = None) -> Any:
    """A reader trained on ``examples``, deterministic for a seed (single-threaded reductions aside); the
    questions of a batch are padded into one forward pass."""
    import torch

    torch.manual_seed(seed)
    reader = build(found.embeddings, found.rarity)
    optimiser = torch.optim.AdamW(reader.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    items = []
    for e in examples:
        question, sentences = found.ids[e.id]
        for keep, labels in targets(e):
            items.append((question, [sentences[j] for j in keep], None if labels is None else labels[keep]))
    started = time.perf_counter()
    for epoch in range(epochs):
        order = np.random.RandomState(seed + epoch).permutation(len(items))
        for start in range(0, len(order), BATCH):
            q, q_mask, s, mask, present, wanted = padded([items[i] for i in order[start:start + BATCH]])
            every = torch.cat([reader(q, q_mask, s, mask).masked_fill(~present, -1e4),
                               reader.none.expand(len(q), 1)], 1)
            loss = -(torch.logsumexp(every.masked_fill(~wanted, -1e4), 1) - torch.logsumexp(every, 1)).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        if echo:
            echo(f"  reader epoch {epoch + 1}/{epochs}: {len(items)} questions, {time.perf_counter() - started:.0f} s")
    return reader.eval()


def logits(reader: Any, found: Pieces, examples: Sequence[Any]) -> dict[str, dict[str, float]]:
    """{example id: {candidate text: logit}} for ``examples`` (with the torch reader)."""
    import torch

    out: dict[str, dict[str, float]] = {}
    read = [e for e in examples if found.ids[e.id][1]]
    with torch.no_grad():
        for start in range(0, len(read), BATCH):
            part = read[start:start + BATCH]
            values = reader(*padded([(*found.ids[e.id], None) for e in part])[:4]).numpy()
            for e, row in zip(part, values, strict=True):
                items = e.candidates.items
                out[e.id] = {c.text: float(v) for c, v in zip(items, row[:len(items)], strict=True)}
    return out


def export(reader: Any) -> ReaderWeights:
    """The numpy weights :mod:`service.answer.reader` reads: the projection applied to every word piece."""
    import torch

    with torch.no_grad():
        table = reader.project(reader.embeddings).numpy().astype(np.float32)
        arrays = {"table": table, "rarity": reader.rarity.numpy().astype(np.float32),
                  "none": np.asarray(float(reader.none), dtype=np.float32)}
        for name in ("compare_1", "compare_2", "out_1", "out_2"):
            layer = getattr(reader, name)
            arrays[f"{name}.weight"] = layer.weight.numpy().T.astype(np.float32).copy()
            arrays[f"{name}.bias"] = layer.bias.numpy().astype(np.float32).copy()
    return ReaderWeights(arrays)
