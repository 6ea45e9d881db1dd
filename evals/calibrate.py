"""How the extractive answerer's refusal threshold and selection were chosen (``evals/README.md``).

    .venv/bin/python evals/calibrate.py --corpus ../shared/eval/clapnq/corpus.jsonl \
        --questions ../shared/eval/clapnq/questions.jsonl

It retrieves and scores every question once with the real parts (the evaluation collection of ``citeqa eval``,
the real :class:`~service.extractive.ExtractiveAnswerer`), then replays the answerer's own ``select`` over a
small grid of (``extractive_min_score``, ``extractive_margin``, ``extractive_max_sentences``), running each
answer through the citation checker and the metrics exactly as ``citeqa eval`` does.

For each setting it prints the four target metrics on the whole set and on the two fixed halves, and it
cross-validates the choice: the setting best on half A is scored on half B and vice versa. "Best" is the
setting whose worst metric, relative to its target, is highest (precision / 0.80, recall / 0.60, balanced
abstention accuracy / 0.80).
"""

from __future__ import annotations

import argparse
import itertools
import pickle
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service import evaluation, metrics  # noqa: E402
from service.citations import check_citations  # noqa: E402
from service.extractive import ExtractiveAnswerer, pieces  # noqa: E402
from service.prompts import REFUSAL  # noqa: E402
from service.settings import Settings  # noqa: E402

TARGETS = {"citation_precision": 0.80, "citation_recall": 0.60, "abstention_balanced_accuracy": 0.80}
GRID = {
    "extractive_min_score": [round(0.50 + 0.01 * i, 2) for i in range(15)],
    "extractive_margin": [0.0, 0.05, 0.1, 0.15, 0.2],
    "extractive_max_sentences": [1, 2, 3, 4],
}


def scored_questions(settings: Settings, corpus: Path, questions: Path, cache: Path) -> list[dict[str, Any]]:
    if cache.is_file():
        return pickle.loads(cache.read_bytes())
    qs = evaluation.load_questions(questions)
    loaded = evaluation.load_corpus(corpus)
    gold = evaluation.locate_gold(qs, loaded)
    target = evaluation.LocalTarget(settings, loaded, None, progress=True)
    answerer = target.parts.answerer
    assert isinstance(answerer, ExtractiveAnswerer)
    out = []
    for n, q in enumerate(qs, start=1):
        passages = target.parts.retriever.retrieve(q.question, settings.top_k).passages
        chunks = [p.chunk for p in passages]
        out.append({"q": q, "gold": gold[q.id], "chunks": chunks, "scored": answerer.score(q.question, chunks)})
        if n % 50 == 0:
            print(f"scored {n}/{len(qs)}", file=sys.stderr, flush=True)
    cache.write_bytes(pickle.dumps(out))
    return out


def replay(items: list[dict[str, Any]], answerer: ExtractiveAnswerer) -> list[dict[str, Any]]:
    rows = []
    for item in items:
        chosen = answerer.select(item["scored"])
        answer = "".join(pieces(chosen)) if chosen else REFUSAL
        refused = not chosen
        checked = check_citations(answer, item["chunks"]) if not refused else None
        cited = [(c.doc_id, c.start, c.end) for c in checked.citations] if checked else []
        q = item["q"]
        rows.append(metrics.score_question(
            answerable=q.answerable, refused=refused, gold=item["gold"], answers=q.answers,
            retrieved=[(c.doc_id, c.start, c.end) for c in item["chunks"]], cited=cited,
            answer=checked.text if checked else answer, markers_resolved=len(cited), markers_dropped=0,
            sentences_supported=[],
        ) | {"id": q.id})
    return rows


def worst(summary: dict[str, Any]) -> float:
    return min((summary[key] or 0.0) / goal for key, goal in TARGETS.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--questions", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/citeqa-calibration.pkl"))
    args = parser.parse_args()
    settings = Settings(**({"data_dir": args.data_dir} if args.data_dir else {}))
    items = scored_questions(settings, args.corpus, args.questions, args.cache)
    results = []
    for values in itertools.product(*GRID.values()):
        params = dict(zip(GRID, values, strict=True))
        rows = replay(items, ExtractiveAnswerer(None, settings.model_copy(update=params)))  # type: ignore[arg-type]
        by_half = {h: metrics.summarize([r for r in rows if evaluation.half_of(r["id"]) == h]) for h in "AB"}
        results.append((params, metrics.summarize(rows), by_half))
    best = {h: max(results, key=lambda r, h=h: worst(r[2][h])) for h in "AB"}
    print("cross-validation (chosen on one half, scored on the other):")
    for chosen_on, other in (("A", "B"), ("B", "A")):
        params, _, halves = best[chosen_on]
        print(f"  best on {chosen_on}: {params}\n    {chosen_on}: {_fmt(halves[chosen_on])}\n"
              f"    {other}: {_fmt(halves[other])}")
    print("\nbest settings on the whole set:")
    for params, summary, halves in sorted(results, key=lambda r: -worst(r[1]))[:10]:
        print(f"  {params}\n    all: {_fmt(summary)}\n    A: {_fmt(halves['A'])}\n    B: {_fmt(halves['B'])}")


def _fmt(summary: dict[str, Any]) -> str:
    keys = ("citation_precision", "citation_recall", "abstention_balanced_accuracy", "answered_answerable",
            "refused_unanswerable", "token_f1")
    return " ".join(f"{key.split('_')[-1] if key != 'abstention_balanced_accuracy' else 'balanced'}="
                    f"{summary[key]:.3f}" for key in keys)


if __name__ == "__main__":
    main()
