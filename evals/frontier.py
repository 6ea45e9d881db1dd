"""How far the judge's two thresholds can carry citation precision and recall (evals/README.md, "Where the targets
stand"): every pair of a sentence threshold and a refusal threshold, and saying each question's k best sentences,
on the held-out folds of ``citeqa train-judge``.

The issue's CLAPnq targets ask for precision >= 0.80 and recall >= 0.60 together. The thresholds choose where on
one curve the answerer sits; this prints the curve, so the question "is there a setting that reaches both?" has
an answer that does not depend on the thresholds ``train-judge`` happened to pick:

    .venv/bin/python evals/frontier.py --cache .citeqa/judge-cache

It reads the examples ``citeqa train-judge --cache`` collected and the readers it kept there (run that once
first; then about 5 minutes), fits each fold's models on the other folds as ``train-judge`` does, and writes
``evals/results/frontier.json`` (per set: every setting's precision, recall and balanced abstention).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "evals"))

from cross_encoder import load  # noqa: E402  (the training sets' questions as train-judge --cache kept them)

from service.evaluation import scores  # noqa: E402
from service.evaluation.training import (  # noqa: E402
    Decision,
    Judged,
    decide,
    judged_out_of_fold,
    read_out_of_fold,
    score_rows,
    withhold_gold,
)

SETS = ("clapnq", "squad2", "docs")
SENTENCE_THRESHOLDS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
REFUSE_THRESHOLDS = tuple(float(t) for t in np.round(np.arange(0.05, 0.951, 0.05), 2))
TOP_K = (1, 2, 3, 4, 6)
METRICS = ("citation_precision", "citation_recall", "abstention_balanced_accuracy")


def summary(items: list[Judged], decisions: list[Decision]) -> dict[str, float]:
    found = scores.summarize(score_rows([item.example for item in items], decisions, text=False))
    return {name: round(float(found[name] or 0.0), 4) for name in METRICS}


def top_k(item: Judged, model: Any, k: int, refuse: bool) -> Decision:
    """The question's k best-rated sentences (of any passage); none when ``refuse`` and the model refuses."""
    order = [int(i) for i in np.argsort(-item.probabilities, kind="stable")[:k]]
    answers = not refuse or model.answers(item.answerable, item.confidence)
    return Decision(item.answerable, item.confidence, sorted(order) if answers else [], order[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, required=True, help="the folder train-judge --cache filled")
    parser.add_argument("--out", type=Path, default=ROOT / "evals" / "results" / "frontier.json")
    args = parser.parse_args()
    recipe = json.loads((ROOT / "service" / "answer" / "judge_model.json").read_text())["recipe"]
    examples, _ = read_out_of_fold(load(args.cache), int(recipe["seed"]), print, args.cache)
    examples += withhold_gold(examples, recipe["withheld_sets"])
    pairs = judged_out_of_fold(examples, recipe, SETS)
    report: dict[str, Any] = {}
    for name in SETS:
        part = [(item, model) for item, model in pairs if item.example.set == name]
        items = [item for item, _ in part]
        grid = [{"sentence_threshold": s, "refuse_threshold": r,
                 **summary(items, [decide(item, model, s, r) for item, model in part])}
                for s in SENTENCE_THRESHOLDS for r in REFUSE_THRESHOLDS]
        fitted = summary(items, [decide(item, model, model.sentence_threshold, model.refuse_threshold)
                                 for item, model in part])
        ks = [{"k": k, "refuse": refuse, **summary(items, [top_k(item, model, k, refuse) for item, model in part])}
              for k in TOP_K for refuse in (True, False)]
        report[name] = {"questions": len(items), "fitted_thresholds": fitted, "grid": grid, "top_k": ks}
        print(f"\n{name} ({len(items)} questions): the fitted thresholds: precision / recall / balanced abstention "
              f"{fitted['citation_precision']:.3f} / {fitted['citation_recall']:.3f} / "
              f"{fitted['abstention_balanced_accuracy']:.3f}")
        print(f"  any thresholds: the highest recall {max(g['citation_recall'] for g in grid):.3f}, the highest "
              f"precision {max(g['citation_precision'] for g in grid):.3f}")
        for floor in (0.3, 0.4, 0.5, 0.6):
            reaching = [g for g in grid if g["citation_recall"] >= floor]
            if reaching:
                best = max(reaching, key=lambda g: g["citation_precision"])
                print(f"  recall >= {floor}: the best precision {best['citation_precision']:.3f} (abstention "
                      f"{best['abstention_balanced_accuracy']:.3f}; thresholds {best['sentence_threshold']} / "
                      f"{best['refuse_threshold']})")
            else:
                print(f"  recall >= {floor}: no setting")
        for row in ks:
            how = "refusing as the model does" if row["refuse"] else "never refusing"
            print(f"  the {row['k']} best sentences, {how}: precision / recall {row['citation_precision']:.3f} / "
                  f"{row['citation_recall']:.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
