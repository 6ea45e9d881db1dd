"""ONNX int8 against torch float32: throughput side by side, and gold-passage recall@5 on CLAPnq.

    .venv/bin/python -m bench.encoder [--quick] [--runs N] [--eval]

Both encoders live in one process and encode the same chunk texts (the CLAPnq corpus as the Indexer chunks
it; --quick: the first 30 passages), alternating which goes first. The vectors of the last run fill one store
per encoder (the vectors each encoder made, written with the store's own upsert), and each store answers the
199 answerable CLAPnq questions with the real Retriever, with its own encoder for the question.

recall@5 = share of answerable questions with a gold passage (``evidence[].doc``) among the 5 retrieved
passages, in ``dense`` mode (the encoder alone) and the default ``hybrid`` mode. Targets: int8 >= 2x the
float32 throughput; recall@5 within 0.01 of float32. (--quick keeps only the questions whose gold passage is
in its 30 passages, so its recall figures are not comparable to the full run's.) With --eval, `citeqa eval
--compare` also runs once per encoder, each ingesting the corpus itself, and its figures are set side by side.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from bench import common
from bench.ingest import chunk_texts

QUICK_PASSAGES = 30


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_PASSAGES} passages, one run")
    parser.add_argument("--runs", type=int, default=None, help="side-by-side repetitions (default 2; quick 1)")
    parser.add_argument("--eval", action="store_true",
                        help="also run `citeqa eval --compare` on CLAPnq with each encoder (minutes each)")
    args = parser.parse_args()
    header = common.machine()
    work = Path(tempfile.mkdtemp(prefix="bench-encoder-"))
    try:
        run(args, args.runs or (1 if args.quick else 2), work, header)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def build_store(settings: Any, embedder: Any, corpus: Path, vectors: np.ndarray) -> Any:
    """A store holding the corpus's chunks with ``vectors`` (made by ``embedder`` in the timed run)."""
    from ingest.loaders import load_path
    from service import components

    parts = components.build(settings, embedder)
    _, documents = load_path(corpus, [])
    chunks = [chunk for doc in documents for chunk in parts.indexer.chunk(doc)]
    assert len(chunks) == len(vectors)
    parts.store.upsert_chunks(chunks, vectors)
    parts.store.put_documents([(doc, len(parts.indexer.chunk(doc))) for doc in documents])
    return parts


def recall_at_5(parts: Any, questions: list[dict[str, Any]], mode: str) -> float:
    hits = 0
    for q in questions:
        gold = {e["doc"] for e in q["evidence"]}
        passages = parts.retriever.retrieve(q["question"], 5, mode=mode).passages
        hits += any(p.chunk.doc_id in gold for p in passages)
    return hits / len(questions)


EVAL_METRICS = [
    ("recall@5", "gold-passage recall@5"), ("citation_precision", "citation precision"),
    ("citation_recall", "citation recall"), ("abstention_balanced_accuracy", "balanced abstention accuracy"),
]


def citeqa_eval(encoder: str) -> dict[str, Any]:
    """`citeqa eval --compare` on CLAPnq with ``encoder``, in a fresh store; its results.json."""
    import json
    import os
    import subprocess

    out = common.CACHE / f"eval-{encoder}"
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(common.CACHE / f"eval-store-{encoder}", ignore_errors=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith("CITEQA_")}
    env.update(CITEQA_ENCODER=encoder, CITEQA_ENCODER_CACHE_DIR=str(common.CACHE / "encoders"))
    subprocess.run([str(common.ROOT / ".venv" / "bin" / "citeqa"), "eval", "--corpus", str(common.CORPUS),
                    "--questions", str(common.QUESTIONS), "--out", str(out), "--compare", "--no-progress",
                    "--data-dir", str(common.CACHE / f"eval-store-{encoder}")], env=env, check=True, cwd=common.ROOT)
    return json.loads((out / "results.json").read_text())


def eval_lines() -> list[str]:
    results = {encoder: citeqa_eval(encoder) for encoder in ("torch", "onnx-int8")}
    lines = ["- `citeqa eval --compare` on all 399 CLAPnq questions, each encoder ingesting the corpus itself "
             "(int8 - float32):", "", "| metric | mode | float32 | int8 | difference |", "|---|---|---|---|---|"]
    for key, label in EVAL_METRICS:
        for mode in ("dense", "bm25", "hybrid"):
            f32 = results["torch"]["configs"][mode]["metrics"].get(key)
            i8 = results["onnx-int8"]["configs"][mode]["metrics"].get(key)
            if f32 is not None and i8 is not None:
                lines.append(f"| {label} | {mode} | {f32:.3f} | {i8:.3f} | {i8 - f32:+.3f} |")
    return lines


def run(args: argparse.Namespace, runs: int, work: Path, header: str) -> None:
    from ingest.embedding import SentenceTransformerEmbedder
    from ingest.loaders import load_path
    from ingest.onnx_embedding import OnnxInt8Embedder

    corpus = common.write_corpus(work / "clapnq.jsonl", QUICK_PASSAGES if args.quick else None)
    encoders = {
        "torch float32": SentenceTransformerEmbedder(),
        "onnx int8": OnnxInt8Embedder(cache_dir=common.CACHE / "encoders"),
    }
    for encoder in encoders.values():
        encoder.embed(["warm up"])
    texts = chunk_texts(corpus, encoders["torch float32"], 200)
    speed: dict[str, list[float]] = {name: [] for name in encoders}
    vectors: dict[str, np.ndarray] = {}

    def step(name: str) -> Any:
        def timed_run(run: int) -> None:
            with common.timed() as t:
                vectors[name] = encoders[name].embed(texts)
            speed[name].append(len(texts) / t[0])
            print(f"run {run + 1}: {name} {speed[name][-1]:.1f} chunks/s", flush=True)
        return timed_run

    common.alternate(runs, *(step(name) for name in encoders))
    ratios = [o / t for o, t in zip(speed["onnx int8"], speed["torch float32"], strict=True)]
    cosine = np.sum(vectors["onnx int8"] * vectors["torch float32"], axis=1)

    _, documents = load_path(corpus, [])
    present = {doc.id.split("#")[-1] for doc in documents} | {doc.id for doc in documents}
    answerable = [q for q in common.questions() if q["answerable"] and {e["doc"] for e in q["evidence"]} & present]
    recall: dict[str, dict[str, float]] = {}
    for name, encoder in encoders.items():
        key = "onnx-int8" if "onnx" in name else "torch"
        parts = build_store(common.settings(work / f"store-{key}", encoder=key,
                                            encoder_cache_dir=common.CACHE / "encoders"), encoder, corpus,
                            vectors[name])
        recall[name] = {mode: recall_at_5(parts, answerable, mode) for mode in ("dense", "hybrid")}
        print(f"{name}: recall@5 {recall[name]}", flush=True)

    lines: list[str] = []
    lines.append(f"- corpus: CLAPnq, {len(documents)} passages -> {len(texts)} chunks; {runs} side-by-side run(s)")
    for name in encoders:
        lines.append(f"- {name}: {common.best_and_median(speed[name])} chunks/s")
    ratio = statistics.median(ratios)
    lines.append(f"- **int8 / float32 throughput: {ratio:.2f}x** (runs: {', '.join(f'{r:.2f}' for r in ratios)}); "
                 f"target >= 2x: {'reached' if ratio >= 2 else 'NOT reached'}")
    lines.append(f"- cosine(int8 vector, float32 vector) over the chunks: mean {cosine.mean():.4f}, "
                 f"min {cosine.min():.4f}")
    lines.append(f"- gold-passage recall@5 on {len(answerable)} answerable CLAPnq questions (this script: the "
                 "Retriever on stores holding the vectors timed above):")
    for mode in ("dense", "hybrid"):
        f32, i8 = recall["torch float32"][mode], recall["onnx int8"][mode]
        lines.append(f"  - {mode}: float32 {f32:.3f}, int8 {i8:.3f}, **difference {i8 - f32:+.3f}**; target within "
                     f"0.01: {'reached' if abs(i8 - f32) <= 0.01 + 1e-9 else 'NOT reached'}")
    if args.eval:
        lines.extend(eval_lines())
    print("\n".join(lines))
    common.write_section(f"encoder{'-quick' if args.quick else ''}",
                         f"Encoders: onnx int8 vs torch float32{' (quick)' if args.quick else ''}", lines, header)


if __name__ == "__main__":
    main()
