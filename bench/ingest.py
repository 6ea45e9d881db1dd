"""Ingestion throughput: the Indexer (what `citeqa ingest` runs) against the raw encoder, side by side.

    .venv/bin/python -m bench.ingest [--quick] [--encoder torch|onnx-int8] [--[no-]sentence-vectors] [--runs N]

On the CLAPnq corpus (596 Wikipedia passages; --quick: the first 30): the chunk texts the Indexer makes are
encoded by the raw encoder (``SentenceTransformer.encode`` with the same batch size, or the onnx session), then
the whole corpus is ingested into a fresh store (load, chunk, embed, upsert into Chroma), then ingested again
unchanged. The runs alternate raw/pipeline order. Targets: pipeline >= 0.90 x raw chunks/s; re-ingest <= 5% of
the first ingest's time.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
from pathlib import Path

from bench import common

QUICK_PASSAGES = 30


def chunk_texts(corpus: Path, embedder: object, max_tokens: int) -> list[str]:
    from ingest.chunking import chunk_document
    from ingest.loaders import load_path

    _, documents = load_path(corpus, [])
    return [c.text for doc in documents for c in chunk_document(doc, embedder.count_tokens, max_tokens)]


def raw_encoder(embedder: object) -> object:
    """The encoder without citeqa around it."""
    if hasattr(embedder, "model") and hasattr(embedder.model, "encode"):
        model = embedder.model
        return lambda texts: model.encode(texts, batch_size=embedder.batch_size, normalize_embeddings=True,
                                          convert_to_numpy=True, show_progress_bar=False)
    return embedder.embed  # onnx-int8: embed() is the session loop itself (tokenize, run, mean-pool, normalise)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_PASSAGES} passages, one run (under a minute)")
    defaults = common.settings(Path("."))
    parser.add_argument("--encoder", default=defaults.encoder, choices=["torch", "onnx-int8"],
                        help=f"default: the setting's default ({defaults.encoder})")
    parser.add_argument("--sentence-vectors", action=argparse.BooleanOptionalAction,
                        default=defaults.sentence_vectors,
                        help="keep sentence vectors (pooled from the chunk's pass) in the store; default: the "
                        f"setting's default ({'on' if defaults.sentence_vectors else 'off'})")
    parser.add_argument("--runs", type=int, default=None, help="side-by-side repetitions (default 2; quick 1)")
    args = parser.parse_args()
    runs = args.runs or (1 if args.quick else 2)
    header = common.machine()
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        run(args, runs, work, header)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, runs: int, work: Path, header: str) -> None:
    from service import components

    corpus = common.write_corpus(work / "clapnq.jsonl", QUICK_PASSAGES if args.quick else None)
    base = common.settings(work / "warm", encoder=args.encoder, encoder_cache_dir=common.CACHE / "encoders")
    embedder = components.build_embedder(base)
    embedder.embed(["warm up"])
    texts = chunk_texts(corpus, embedder, base.chunk_max_tokens)
    encode = raw_encoder(embedder)
    encode(texts[:16])
    raw: list[float] = []
    first: list[float] = []
    again: list[float] = []

    def raw_step(run: int) -> None:
        with common.timed() as t:
            encode(texts)
        raw.append(len(texts) / t[0])
        print(f"run {run + 1}: raw encoder {raw[-1]:.1f} chunks/s", flush=True)

    def pipeline_step(run: int) -> None:
        parts = components.build(common.settings(work / f"store-{run}", encoder=args.encoder,
                                                 encoder_cache_dir=common.CACHE / "encoders",
                                                 sentence_vectors=args.sentence_vectors), embedder)
        parts.store.count_chunks()  # open the store (chromadb's import and client) outside the timing
        with common.timed() as t:
            report = parts.indexer.ingest(corpus, progress=False)
        assert report.chunks_embedded == len(texts), (report.chunks_embedded, len(texts))
        first.append(t[0])
        with common.timed() as t:
            report = parts.indexer.ingest(corpus, progress=False)
        assert report.chunks_embedded == 0 and len(report.unchanged) == len(report.unchanged + report.added)
        again.append(t[0])
        print(f"run {run + 1}: pipeline {len(texts) / first[-1]:.1f} chunks/s; re-ingest {again[-1]:.2f} s "
              f"({again[-1] / first[-1]:.1%} of {first[-1]:.1f} s)", flush=True)

    common.alternate(runs, raw_step, pipeline_step)
    pipe = [len(texts) / seconds for seconds in first]
    ratios = [p / r for p, r in zip(pipe, raw, strict=True)]
    reingest = [a / f for a, f in zip(again, first, strict=True)]
    lines: list[str] = []
    emit = lines.append
    n_docs = sum(1 for _ in corpus.open())
    emit(f"- corpus: CLAPnq, {n_docs} passages -> {len(texts)} chunks; encoder {args.encoder}, "
         f"batch size {embedder.batch_size}; sentence vectors {'on' if args.sentence_vectors else 'off'}; "
         f"{runs} side-by-side run(s)")
    emit(f"- raw encoder: {common.best_and_median(raw)} chunks/s")
    emit(f"- `citeqa ingest` pipeline (Indexer into a fresh embedded Chroma): {common.best_and_median(pipe)} chunks/s")
    emit(f"- **pipeline / raw: {statistics.median(ratios):.2f}** (runs: {', '.join(f'{r:.2f}' for r in ratios)}); "
         f"target >= 0.90: {'reached' if statistics.median(ratios) >= 0.90 else 'NOT reached'}")
    emit(f"- **re-ingest of the unchanged corpus: {statistics.median(reingest):.1%} of the first ingest** "
         f"({', '.join(f'{a:.2f} s' for a in again)}); target <= 5%: "
         f"{'reached' if statistics.median(reingest) <= 0.05 else 'NOT reached'}")
    print("\n".join(lines))
    suffix = f"-{args.encoder}" + ("-sv" if args.sentence_vectors else "")
    common.write_section(f"ingest{suffix}{'-quick' if args.quick else ''}",
                         f"Ingestion throughput ({args.encoder}{', sentence vectors' if args.sentence_vectors else ''}"
                         f"{', quick' if args.quick else ''})", lines, header)


if __name__ == "__main__":
    main()
