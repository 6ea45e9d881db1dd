"""Variants of the judge's reader, side by side on one fold (evals/README.md, "Tried on 2026-11-30 and left out").

The packaged reader (:mod:`service.answer.reader`) aligns each word piece of the question with the pieces of the
candidate sentence alone, over frozen input embeddings. Two variants read more:

- ``context``: a second alignment over the sentence's neighbours in its passage (the previous sentence's last 32
  pieces and the next one's first 32), compared beside the first (is what the question asks about named just
  before the sentence that answers it: "Does get_final_response() run the tool calls?" / "No tool is executed
  automatically.");
- ``conv``: each projected piece mixed with its two neighbours (a residual convolution of width 3, started at
  zero, so it begins as the packaged reader) before aligning: word pieces of one word, and bigrams, read
  together.

Each is trained as ``citeqa train-judge`` trains the reader (:mod:`service.evaluation.reader_training`: same
targets, epochs, batch, learning rate, seed) on the other folds' questions of the ``--cache`` that ``train-judge
--cache`` filled, and "top-1" is the share of the held-out fold's answerable questions whose best-read candidate is
gold, per set; ``base`` is the packaged reader retrained by this script, and the cache's own out-of-fold reader
(same recipe, trained by ``train-judge``) is printed beside it: the two differ by what a retraining moves.

    .venv/bin/python evals/reader_variants.py --cache .citeqa/judge-cache --fold 0 --variant context

Writes ``evals/results/reader-variants/fold<N>-<variant>.json``.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "evals"))

from cross_encoder import load  # noqa: E402  (the training sets' questions as train-judge --cache kept them)

from ingest.chunking import split_sentences  # noqa: E402
from service.evaluation import reader_training  # noqa: E402
from service.evaluation.training import Example, folds, reader_key  # noqa: E402

CONTEXT = 32  # word pieces read of each neighbour
SETS = ("squad2", "clapnq", "docs")


def neighbours(examples: list[Example]) -> dict[str, list[list[int]]]:
    """Per example, per candidate: the word pieces of the end of the sentence before it and the start of the one
    after it, in its passage ([] when it has neither)."""
    tok = reader_training.tokenizer()
    out: dict[str, list[list[int]]] = {}
    for e in examples:
        texts = []
        split = {i: split_sentences(e.passages[i].chunk.text) for i in {c.passage for c in e.candidates.items}}
        for c in e.candidates.items:
            text, spans = e.passages[c.passage].chunk.text, split[c.passage]
            before = text[slice(*spans[c.sentence - 1])] if c.sentence > 0 else ""
            after = text[slice(*spans[c.sentence + 1])] if c.sentence + 1 < len(spans) else ""
            texts += [before, after]
        found = tok.encode_batch(texts, add_special_tokens=False) if texts else []
        out[e.id] = [found[2 * i].ids[-CONTEXT:] + found[2 * i + 1].ids[:CONTEXT] for i in range(len(texts) // 2)]
    return out


def build(variant: str, embeddings: Any, rarity: np.ndarray) -> Any:
    import torch

    hidden = reader_training.HIDDEN
    base = reader_training.build(embeddings, rarity)  # the packaged reader's layers, drawn first for every variant
    if variant == "base":
        return base

    def align(eq: Any, es: Any, q: Any, s: Any, mask: Any) -> tuple[Any, Any]:
        attention = torch.einsum("bqh,bcsh->bcqs", eq, es) / hidden ** 0.5
        attention = torch.softmax(attention.masked_fill(~mask[:, :, None, :], -1e4), -1)
        exact = ((q[:, None, :, None] == s[:, :, None, :]) & mask[:, :, None, :]).float().amax(-1, keepdim=True)
        return torch.einsum("bcqs,bcsh->bcqh", attention, es), exact

    class Variant(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.base = base
            self.none = base.none
            if variant == "context":
                self.compare_1 = torch.nn.Linear(3 * hidden + 4, hidden)  # + aligned in context, exact there, has any
            else:
                self.conv = torch.nn.Conv1d(hidden, hidden, 3, padding=1)
                torch.nn.init.zeros_(self.conv.weight)
                assert self.conv.bias is not None
                torch.nn.init.zeros_(self.conv.bias)

        def mix(self, x: Any, mask: Any) -> Any:
            x = x * mask[..., None]
            return (x + torch.relu(self.conv(x.transpose(1, 2))).transpose(1, 2)) * mask[..., None]

        def forward(self, q: Any, q_mask: Any, s: Any, mask: Any, x: Any, x_mask: Any) -> Any:
            b, relu = self.base, torch.relu
            distinct, where = torch.unique(torch.cat([q.reshape(-1), s.reshape(-1), x.reshape(-1)]),
                                           return_inverse=True)
            table = b.project(b.embeddings[distinct])
            n_q, n_s = q.numel(), q.numel() + s.numel()
            eq, es, ex = (table[where[:n_q].view(q.shape)], table[where[n_q:n_s].view(s.shape)],
                          table[where[n_s:].view(x.shape)])
            if variant == "conv":
                eq = self.mix(eq, q_mask.float())
                batch, candidates, length, _ = es.shape
                es = self.mix(es.reshape(batch * candidates, length, hidden),
                              mask.reshape(batch * candidates, length).float()).view(es.shape)
            aligned, exact = align(eq, es, q, s, mask)
            rarity = (b.rarity[q] * q_mask)[:, None, :, None].expand(-1, s.shape[1], -1, 1)
            own = eq[:, None].expand(-1, s.shape[1], -1, -1)
            parts = [own, aligned - own, exact, rarity / 10]
            compare_1 = b.compare_1
            if variant == "context":
                aligned_x, exact_x = align(eq, ex, q, x, x_mask)
                has = x_mask.any(-1).float()[:, :, None, None].expand(-1, -1, q.shape[1], 1)
                parts += [(aligned_x - own) * has, exact_x * has, has]
                compare_1 = self.compare_1
            h = relu(b.compare_2(relu(compare_1(torch.cat(parts, -1))))) * q_mask[:, None, :, None]
            pooled = torch.cat([(h * rarity).sum(2) / rarity.sum(2).clamp_min(1e-6), h.amax(2)], -1)
            return b.out_2(relu(b.out_1(pooled))).squeeze(-1)

    return Variant()


def padded_context(rows: list[list[list[int]]]) -> tuple[Any, Any]:
    import torch

    width = max(1, max((len(ids) for row in rows for ids in row), default=1))
    x = torch.zeros(len(rows), max(len(row) for row in rows), width, dtype=torch.long)
    x_mask = torch.zeros(x.shape, dtype=torch.bool)
    for i, row in enumerate(rows):
        for j, ids in enumerate(row):
            x[i, j, :len(ids)], x_mask[i, j, :len(ids)] = torch.tensor(ids, dtype=torch.long), True
    return x, x_mask


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, required=True, help="the folder train-judge --cache filled")
    parser.add_argument("--fold", type=int, default=0)
    parser.add_argument("--variant", choices=("base", "context", "conv"), default="context")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import torch

    examples = load(args.cache)
    fold_of = folds(examples)
    found = reader_training.pieces(examples)
    context = neighbours(examples)
    train = [e for e in examples if fold_of[(e.set, e.group)] != args.fold]
    held = [e for e in examples if fold_of[(e.set, e.group)] == args.fold and found.ids[e.id][1]]

    torch.manual_seed(args.seed)
    reader = build(args.variant, found.embeddings, found.rarity)

    def forward(question_rows: list[tuple[list[int], list[list[int]], Any]], contexts: list[list[list[int]]]) -> Any:
        q, q_mask, s, mask, present, wanted = reader_training.padded(question_rows)
        extra = padded_context(contexts) if args.variant != "base" else ()
        return reader(q, q_mask, s, mask, *extra), present, wanted

    optimiser = torch.optim.AdamW(reader.parameters(), lr=reader_training.LEARNING_RATE,
                                  weight_decay=reader_training.WEIGHT_DECAY)
    items = []
    for e in train:
        question, sentences = found.ids[e.id]
        for keep, labels in reader_training.targets(e):
            items.append(((question, [sentences[j] for j in keep], None if labels is None else labels[keep]),
                          [context[e.id][j] for j in keep]))
    started = time.perf_counter()
    for epoch in range(reader_training.EPOCHS):
        order = np.random.RandomState(args.seed + epoch).permutation(len(items))
        for start in range(0, len(order), reader_training.BATCH):
            batch = [items[i] for i in order[start:start + reader_training.BATCH]]
            logits, present, wanted = forward([row for row, _ in batch], [ctx for _, ctx in batch])
            every = torch.cat([logits.masked_fill(~present, -1e4), reader.none.expand(len(batch), 1)], 1)
            loss = -(torch.logsumexp(every.masked_fill(~wanted, -1e4), 1) - torch.logsumexp(every, 1)).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        print(f"epoch {epoch + 1}: {len(items)} questions, {time.perf_counter() - started:.0f} s", flush=True)

    scored: dict[str, np.ndarray] = {}
    reader.eval()
    with torch.no_grad():
        for start in range(0, len(held), reader_training.BATCH):
            part = held[start:start + reader_training.BATCH]
            logits, _, _ = forward([(*found.ids[e.id], None) for e in part], [context[e.id] for e in part])
            for e, row in zip(part, logits.numpy(), strict=True):
                scored[e.id] = row[:len(e.candidates.items)]
    kept = args.cache / f"reader-{reader_key(examples, 0)}.pkl"
    packaged = pickle.loads(kept.read_bytes())["logits"] if kept.is_file() else {}

    figures: dict[str, Any] = {"fold": args.fold, "variant": args.variant, "seed": args.seed,
                               "train_seconds": round(time.perf_counter() - started)}
    for name in SETS:
        answerable = [e for e in held if e.set == name and e.answerable]
        top = [bool(e.labels[int(np.argmax(scored[e.id]))] > 0) for e in answerable]
        figures[name] = {"questions": len(answerable), "top1": round(float(np.mean(top)), 3)}
        if packaged:
            cached = [bool(e.labels[int(np.argmax([packaged[e.id].get(c.text, 0.0) for c in e.candidates.items]))] > 0)
                      for e in answerable]
            figures[name]["top1_cached_reader"] = round(float(np.mean(cached)), 3)
        print(name, json.dumps(figures[name]), flush=True)
    out = ROOT / "evals/results/reader-variants" / f"fold{args.fold}-{args.variant}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
