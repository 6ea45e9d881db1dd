"""How the extractive answerer's refusal threshold and selection were chosen (``evals/README.md``).

    .venv/bin/python evals/calibrate.py --corpus ../shared/eval/clapnq/corpus.jsonl \
        --questions ../shared/eval/clapnq/questions.jsonl

It retrieves and scores every question once with the real parts (the evaluation collection of ``citeqa eval``,
the real :class:`~service.extractive.ExtractiveAnswerer`), then replays the answerer's own ``select`` over a
small grid of (``extractive_min_score``, ``extractive_margin``, ``extractive_max_sentences``), running each
answer through the citation checker and the metrics exactly as ``citeqa eval`` does.

Two choices, each made the same way on the whole set and, to check that it generalises, on one fixed half
(``service.evaluation.half_of``) and then scored on the other:

1. the refusal thresholds on the plateau of balanced abstention accuracy: each threshold's accuracy is averaged
   with its two neighbours on the grid (a plateau, not a spike), and those within ``PLATEAU`` of the best count
   as equally good. Abstention does not depend on the selection settings.
2. among those thresholds, the threshold, margin and number of sentences with the best min(precision / 0.80,
   recall / 0.60): as close to both citation targets as the answerer gets.
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
PLATEAU = 0.005  # balanced accuracies closer than this differ by one or two of the 399 questions: noise
GRID = {
    "extractive_min_score": [round(0.50 + 0.01 * i, 2) for i in range(15)],
    "extractive_margin": [0.0, 0.05, 0.1, 0.15, 0.2],
    "extractive_max_sentences": [1, 2, 3, 4],
}


def scored_questions(settings: Settings, corpus: Path, questions: Path, cache: Path,
                     limit: int | None = None) -> list[dict[str, Any]]:
    if cache.is_file():
        return pickle.loads(cache.read_bytes())
    qs = evaluation.sample(evaluation.load_questions(questions), limit, seed=0)
    loaded = evaluation.load_corpus(corpus)
    gold = evaluation.locate_gold(qs, loaded)
    print(f"scoring {len(qs)} questions", file=sys.stderr, flush=True)
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


def ratio(summary: dict[str, Any]) -> float:
    return min((summary[key] or 0.0) / goal for key, goal in TARGETS.items() if key != "abstention_balanced_accuracy")


def choose(results: list[tuple[dict, dict]]) -> dict[str, Any]:
    """The thresholds on the plateau of balanced accuracy (smoothed, within PLATEAU of the best), then among them
    the threshold and selection with the best citation ratio."""
    thresholds = GRID["extractive_min_score"]
    balanced = {t: max(s["abstention_balanced_accuracy"] for p, s in results if p["extractive_min_score"] == t)
                for t in thresholds}
    smooth = {t: sum(balanced[u] for u in thresholds[max(0, i - 1) : i + 2]) / len(thresholds[max(0, i - 1) : i + 2])
              for i, t in enumerate(thresholds)}
    plateau = {t for t in thresholds if smooth[t] >= max(smooth.values()) - PLATEAU}
    return max((p for p, _ in results if p["extractive_min_score"] in plateau),
               key=lambda p: (ratio(_summary(results, p)), smooth[p["extractive_min_score"]]))


def _summary(results: list[tuple[dict, dict]], params: dict) -> dict:
    return next(s for p, s in results if p == params)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--questions", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/citeqa-calibration.pkl"),
                        help="Scores of the questions, kept between runs (delete it after changing the answerer)")
    parser.add_argument("--limit", type=int, default=None, help="Only N questions (a quick check).")
    args = parser.parse_args()
    settings = Settings(**({"data_dir": args.data_dir} if args.data_dir else {}))
    items = scored_questions(settings, args.corpus, args.questions, args.cache, args.limit)
    by_part: dict[str, list[tuple[dict, dict]]] = {"all": [], "A": [], "B": []}
    for values in itertools.product(*GRID.values()):
        params = dict(zip(GRID, values, strict=True))
        rows = replay(items, ExtractiveAnswerer(None, settings.model_copy(update=params)))  # type: ignore[arg-type]
        by_part["all"].append((params, metrics.summarize(rows)))
        for half in "AB":
            by_part[half].append((params, metrics.summarize([r for r in rows if evaluation.half_of(r["id"]) == half])))
    print("cross-validation (chosen on one half, scored on the other):")
    for chosen_on, other in (("A", "B"), ("B", "A")):
        params = choose(by_part[chosen_on])
        print(f"  chosen on {chosen_on}: {params}\n    {chosen_on}: {_fmt(_summary(by_part[chosen_on], params))}\n"
              f"    {other}: {_fmt(_summary(by_part[other], params))}")
    params = choose(by_part["all"])
    print(f"\nchosen on the whole set: {params}")
    for part in ("all", "A", "B"):
        print(f"    {part}: {_fmt(_summary(by_part[part], params))}")
    print("\nbalanced abstention accuracy by threshold (all / A / B):")
    for t in GRID["extractive_min_score"]:
        cells = [max(s["abstention_balanced_accuracy"] for p, s in by_part[part] if p["extractive_min_score"] == t)
                 for part in ("all", "A", "B")]
        print(f"    {t:.2f}: " + " / ".join(f"{c:.3f}" for c in cells))
    t = params["extractive_min_score"]
    print(f"\ncitation precision / recall at threshold {t} (all):")
    for p, s in by_part["all"]:
        if p["extractive_min_score"] == t:
            print(f"    margin {p['extractive_margin']:.2f}, max {p['extractive_max_sentences']}: "
                  f"{s['citation_precision']:.3f} / {s['citation_recall']:.3f}")


def _fmt(summary: dict[str, Any]) -> str:
    keys = ("citation_precision", "citation_recall", "abstention_balanced_accuracy", "answered_answerable",
            "refused_unanswerable", "token_f1")
    return " ".join(f"{key.split('_')[-1] if key != 'abstention_balanced_accuracy' else 'balanced'}="
                    f"{summary[key]:.3f}" for key in keys)


if __name__ == "__main__":
    main()
