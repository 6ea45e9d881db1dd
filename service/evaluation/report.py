"""Writing an evaluation: ``results.json``, ``questions.jsonl``, ``report.md`` and two charts (``metrics.png``,
``reliability.png``).

``results.json`` holds every metric of every configuration (and of the two fixed halves of the question set),
the reliability bins and expected calibration error, the settings, model, versions and the corpus hash;
``questions.jsonl`` one row per question and configuration (with its confidence, the cited quotes and the gold
sentences); ``report.md`` the table, the charts, the failures worth reading and the metric definitions.
matplotlib (Agg backend) is imported only here, only when a chart is drawn.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

FAILURES_SHOWN = 10
QUOTE_CHARS = 300


@dataclass
class ConfigRun:
    """One configuration (a retrieval mode) over all questions."""

    name: str
    rows: list[dict[str, Any]]
    summary: dict[str, Any]
    halves: dict[str, dict[str, Any]]
    mean_timings_ms: dict[str, float]
    reliability: list[dict[str, Any]] = field(default_factory=list)  # the bins of :func:`reliability`
    ece: float | None = None  # :func:`expected_calibration_error` of those bins

# (key in the summary, label, target or None); the headline metrics come first and are charted
HEADLINE = [
    ("recall@5", "gold-passage recall@5", 0.98),
    ("citation_precision", "citation precision", 0.80),
    ("citation_recall", "citation recall", 0.60),
    ("abstention_balanced_accuracy", "balanced abstention accuracy", 0.85),
]
DETAIL = [
    ("recall@1", "gold-passage recall@1", None),
    ("recall@3", "gold-passage recall@3", None),
    ("recall@10", "gold-passage recall@10", None),
    ("mrr", "MRR", None),
    ("citation_precision_alce", "citation precision, per response (ALCE)", None),
    ("citation_validity", "citation validity", None),
    ("token_f1", "answer token F1", None),
    ("rouge_l", "answer ROUGE-L", None),
    ("refused_unanswerable", "unanswerable refused", None),
    ("answered_answerable", "answerable answered", None),
    ("support", "support", None),
    ("citations_per_answer", "citations per answer", None),
]
ROWS = HEADLINE + DETAIL

DEFINITIONS = """\
- **gold-passage recall@k**: for an answerable question, the share of its gold passages that have a chunk among
  the top k retrieved overlapping one of their gold evidence sentences; averaged over answerable questions.
- **MRR**: 1 / rank of the first retrieved chunk overlapping a gold evidence sentence (0 if none of the top 10).
- **citation precision**: over all citations of answerable questions, the share whose cited span overlaps at
  least one gold evidence sentence. **Per response (ALCE)**: that share per answer, averaged over answers with
  at least one citation.
- **citation recall**: over all gold evidence sentences of answerable questions, the share overlapped by at least
  one cited span (a refusal covers none).
- **citation validity**: the share of the answerer's `[n]` markers that resolved to a retrieved passage (the
  citation checker drops the others).
- **answer token F1 / ROUGE-L**: the answer without its markers against the best gold answer (SQuAD
  normalisation; ROUGE-L is the F1 of the longest common token subsequence); a refusal scores 0.
- **unanswerable refused / answerable answered**: the share of each kind handled right; **balanced abstention
  accuracy** is their mean.
- **support**: the share of the sentences of non-refused answers whose cited spans support them, according to
  the judge named below; a sentence without a citation is unsupported.
- **reliability / ECE**: the answers (not the refusals), answerable or not, in 10 equal-width bins of their
  confidence (the judge's probability that the best source sentence answers the question); per bin, the mean
  confidence against the observed precision: the share of the bin's answers whose citations include at least
  one gold sentence (an answer to an unanswerable question never does). The expected calibration error is the
  mean of |confidence - observed| over the bins, weighted by their answers.
- Spans are character ranges `[start, end)` of a document; two spans match when they overlap in the same
  document. Gold sentences are located in their passage by exact search, then whitespace-normalised search.
"""


def versions() -> dict[str, str]:
    out = {}
    for package in ("citeqa", "sentence-transformers", "torch", "chromadb", "bm25s", "litellm"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "not installed"
    return out


def fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def table(runs: Sequence[ConfigRun], markdown: bool = True) -> str:
    """One row per metric, one column per configuration (a target column when the metric has one)."""
    header = ["metric"] + [run.name for run in runs] + ["target"]
    lines = [[label] + [fmt(run.summary.get(key)) for run in runs] + [_target(runs, key, goal)]
             for key, label, goal in ROWS]
    if markdown:
        out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(line) + " |" for line in lines]
        return "\n".join(out)
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
                     for row in [header, *lines])


def _target(runs: Sequence[ConfigRun], key: str, goal: float | None) -> str:
    if goal is None:
        return ""
    reached = [(run.summary.get(key) or 0.0) >= goal for run in runs]
    status = "reached" if all(reached) else "not reached" if not any(reached) else "reached by some"
    return f">= {goal:.2f} ({status})"


def halves_table(runs: Sequence[ConfigRun]) -> str:
    header = ["metric"] + [f"{run.name} {half}" for run in runs for half in ("A", "B")]
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for key, label, _ in HEADLINE:
        out.append("| " + " | ".join([label] + [fmt(run.halves[h].get(key)) for run in runs for h in ("A", "B")])
                   + " |")
    return "\n".join(out)


def chart(runs: Sequence[ConfigRun], path: Path) -> None:
    """Grouped bars of the headline metrics per configuration, with the targets as ticks."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
    width = 0.8 / len(runs)
    for i, run in enumerate(runs):
        values = [run.summary.get(key) or 0.0 for key, _, _ in HEADLINE]
        xs = [j + (i - (len(runs) - 1) / 2) * width for j in range(len(HEADLINE))]
        bars = ax.bar(xs, values, width, label=run.name)
        ax.bar_label(bars, labels=[f"{v:.2f}" for v in values], fontsize=8)
    for j, (_, _, goal) in enumerate(HEADLINE):
        ax.hlines(goal, j - 0.45, j + 0.45, colors="black", linestyles="dashed", linewidth=1)
    ax.set_xticks(range(len(HEADLINE)), [label.replace(" ", "\n", 1) for _, label, _ in HEADLINE], fontsize=8)
    ax.set_ylim(0, 1.08)
    ax.set_title("citeqa on the evaluation set (dashed: targets)")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    # fixed metadata so that the same figures give the same bytes
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)


def reliability_chart(runs: Sequence[ConfigRun], path: Path) -> None:
    """Observed precision against mean confidence per reliability bin (one line per configuration), the
    diagonal of perfect calibration dashed, each point labelled with its number of answers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 5), dpi=100)
    ax.plot([0, 1], [0, 1], color="grey", linestyle="dashed", linewidth=1, label="calibrated")
    for run in runs:
        xs = [b["confidence"] for b in run.reliability]
        ys = [b["observed"] for b in run.reliability]
        ece = "n/a" if run.ece is None else f"{run.ece:.3f}"
        ax.plot(xs, ys, marker="o", label=f"{run.name} (ECE {ece})")
        for b in run.reliability:
            ax.annotate(str(b["answers"]), (b["confidence"], b["observed"]), textcoords="offset points",
                        xytext=(4, -10), fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.02, 1.05)
    ax.set_xlabel("confidence (mean in the bin)")
    ax.set_ylabel("observed precision (answers citing a gold sentence)")
    ax.set_title("reliability of the answers' confidence\n(labels: answers in the bin)", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)


def reliability_table(runs: Sequence[ConfigRun]) -> str:
    out = ["| configuration | confidence bin | answers | mean confidence | observed precision |",
           "|---|---|---|---|---|"]
    for run in runs:
        for b in run.reliability:
            out.append(f"| {run.name} | {b['lo']:.1f}-{b['hi']:.1f} | {b['answers']} | {b['confidence']:.3f} "
                       f"| {b['observed']:.3f} |")
    if len(out) == 2:
        out.append("| (no answers) | | | | |")
    return "\n".join(out)


# --- failures ------------------------------------------------------------------------------------------------
def answer_precision(row: dict[str, Any]) -> float:
    """The share of an answer's citations that overlap a gold sentence; 0.0 for an answer citing nothing."""
    citations = row.get("citations", [])
    return sum(c["correct"] for c in citations) / len(citations) if citations else 0.0


def worst_answered(rows: Sequence[dict[str, Any]], n: int = FAILURES_SHOWN) -> list[dict[str, Any]]:
    """The ``n`` worst answers to answerable questions (refusals left out): lowest citation precision first,
    and among equals the most confident first (then file order)."""
    answered = [row for row in rows if row["answerable"] and not row["refused"]]
    return sorted(answered, key=lambda row: (answer_precision(row), -row.get("confidence", 0.0)))[:n]


def confident_unanswerable(rows: Sequence[dict[str, Any]], n: int = FAILURES_SHOWN) -> list[dict[str, Any]]:
    """The ``n`` unanswerable questions answered (not refused) with the highest confidence (then file order)."""
    answered = [row for row in rows if not row["answerable"] and not row["refused"]]
    return sorted(answered, key=lambda row: -row.get("confidence", 0.0))[:n]


def held_back(rows: Sequence[dict[str, Any]], n: int = FAILURES_SHOWN) -> list[dict[str, Any]]:
    """The ``n`` answerable questions refused although their closest passage was a gold sentence (the answer the
    refusal held back), the most probable closest passage first (then file order)."""
    held = [row for row in rows if _closest_gold(row)]
    return sorted(held, key=lambda row: -row["closest"].get("probability", 0.0))[:n]


def _closest_gold(row: dict[str, Any]) -> bool:
    """An answerable question refused whose closest passage was a gold sentence."""
    return bool(row["answerable"] and row["refused"] and (row.get("closest") or {}).get("correct"))


def quote(text: str, limit: int = QUOTE_CHARS) -> str:
    """A quote on one line (runs of whitespace made one space), cut to ``limit`` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit - 1].rstrip() + "…"


def _question(i: int, row: dict[str, Any], extra: str = "") -> str:
    return f"{i}. **{row['id']}**: {quote(row['question'])} (confidence {row.get('confidence', 0.0):.3f}{extra})"


def failures(runs: Sequence[ConfigRun]) -> str:
    """The "Failures" section: the worst answers to answerable questions and the most confident answers to
    unanswerable ones, of the first configuration."""
    if not runs:
        return ""
    run = runs[0]
    which = f" Configuration: **{run.name}**" + (" (the first of the comparison)." if len(runs) > 1 else ".")
    out = ["## Failures", "",
           f"What to read first when the figures disappoint.{which} Quotes are cut to {QUOTE_CHARS} characters.",
           "", "### The worst answers to answerable questions", ""]
    worst = worst_answered(run.rows)
    answered = sum(row["answerable"] and not row["refused"] for row in run.rows)
    out += [f"The {len(worst)} worst of the {answered} answers to answerable questions, ranked by the citation "
            "precision of the answer (lowest first), then by confidence (highest first); each cited quote is "
            "marked right (it overlaps a gold sentence) or wrong.", ""]
    if not worst:
        out += ["No answerable question was answered.", ""]
    for i, row in enumerate(worst, start=1):
        out.append(_question(i, row, f", citation precision {answer_precision(row):.2f}"))
        if not row["citations"]:
            out.append("   - cited nothing")
        for c in row["citations"]:
            verdict = "right" if c["correct"] else "wrong"
            out.append(f"   - cited [{c['n']}] **{verdict}** ({c['doc_id']}): {quote(c.get('quote', ''))}")
        for g in row.get("gold", []):
            out.append(f"   - gold ({g['doc_id']}): {quote(g['text'])}")
    confident = confident_unanswerable(run.rows)
    wrong = sum(not row["answerable"] and not row["refused"] for row in run.rows)
    out += ["", "### The most confident answers to unanswerable questions", "",
            f"The {len(confident)} most confident of the {wrong} answers to unanswerable questions (which should "
            "have been refused), ranked by confidence (highest first).", ""]
    if not confident:
        out += ["No unanswerable question was answered.", ""]
    for i, row in enumerate(confident, start=1):
        out.append(_question(i, row))
        if not row["citations"]:
            out.append("   - cited nothing")
        for c in row["citations"]:
            out.append(f"   - cited [{c['n']}] ({c['doc_id']}): {quote(c.get('quote', ''))}")
    kept = held_back(run.rows)
    refused = sum(row["answerable"] and row["refused"] for row in run.rows)
    closest_gold = sum(_closest_gold(row) for row in run.rows)
    out += ["", "### Answers held back: refusals whose closest passage was the answer", "",
            f"Of the {refused} answerable questions refused, {closest_gold} had a gold sentence as the closest "
            f"passage the refusal shows; the {len(kept)} with the most probable closest passage first.", ""]
    if not kept:
        out += ["None.", ""]
    for i, row in enumerate(kept, start=1):
        closest = row["closest"]
        out.append(_question(i, row, f", closest passage {closest.get('probability', 0.0):.2f}"))
        out.append(f"   - closest ({closest['doc_id']}): {quote(closest.get('quote', ''))}")
    return "\n".join(out).rstrip() + "\n"


def write(out: Path, runs: Sequence[ConfigRun], info: dict[str, Any]) -> dict[str, Path]:
    """Write the five files into ``out`` (created if needed); returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    names = ("results.json", "questions.jsonl", "report.md", "metrics.png", "reliability.png")
    paths = {name: out / name for name in names}
    results = {
        **info,
        "versions": versions(),
        "configs": {run.name: {"metrics": run.summary, "halves": run.halves,
                               "mean_timings_ms": run.mean_timings_ms, "reliability": run.reliability,
                               "ece": run.ece} for run in runs},
    }
    paths["results.json"].write_text(json.dumps(results, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    with paths["questions.jsonl"].open("w", encoding="utf-8") as handle:
        for run in runs:
            for row in run.rows:
                handle.write(json.dumps({"config": run.name, **row}, ensure_ascii=False) + "\n")
    chart(runs, paths["metrics.png"])
    reliability_chart(runs, paths["reliability.png"])
    paths["report.md"].write_text(markdown(runs, info), encoding="utf-8")
    return paths


def markdown(runs: Sequence[ConfigRun], info: dict[str, Any]) -> str:
    settings = "\n".join(f"| {key} | {fmt(value)} |" for key, value in info.get("target", {}).items())
    q, corpus = info["questions"], info["corpus"]
    sampled = f", a sample drawn with seed {q['seed']}" if q["limit"] else ""
    return f"""# Evaluation report

- Questions: `{q['path']}`: {q['count']} of {q['in_file']}{sampled} ({q['answerable']} answerable,
  {q['unanswerable']} unanswerable).
- Corpus: `{corpus['path']}`: {corpus['documents']} documents, sha256 `{corpus['hash'][:16]}…`.
- Support judge: {info['judge']}.

![headline metrics](metrics.png)

{table(runs)}

## The two fixed halves of the question set

Each question falls in half A or B by a hash of its id; a figure tuned to one half and not the other would
show here.

{halves_table(runs)}

## Is the confidence calibrated?

Answers (not refusals) binned by their confidence: the mean confidence of a bin against the share of its
answers that cite at least one gold sentence; a calibrated answerer lies on the diagonal. Expected calibration
error: {"; ".join(f"{run.name} {fmt(run.ece)}" for run in runs)}.

![reliability](reliability.png)

{reliability_table(runs)}

{failures(runs)}
## What each metric means

{DEFINITIONS}
## Settings

| setting | value |
|---|---|
{settings}

Mean timings (ms): {"; ".join(f"{run.name}: {run.mean_timings_ms}" for run in runs)}
"""
