"""A peer side by side: LlamaIndex's default pipeline against citeqa, on the same corpus, in the same run.

    .venv/bin/pip install -c <(.venv/bin/pip freeze --exclude-editable) -e '.[bench]'   # once; citeqa never imports it
    .venv/bin/python -m bench.peer [--quick]

LlamaIndex: ``SentenceSplitter()`` (its defaults: 1024-token chunks, 200 overlap), ``HuggingFaceEmbedding`` on the
same local all-MiniLM-L6-v2 folder (torch), a ``ChromaVectorStore`` in an embedded Chroma, built by
``VectorStoreIndex.from_documents``; queries through ``index.as_retriever(similarity_top_k=5)``. citeqa: the
Indexer (what `citeqa ingest` runs) into a fresh store, queries through the Retriever with its defaults (hybrid,
k=5), with each encoder. Every question (the 399 CLAPnq questions; --quick: 40 on 30 passages) is asked once a
side, so no cache answers. The ingest order alternates. Targets: citeqa ingests >= 1.5x faster (corpus wall
time) and answers retrieval queries >= 2x faster (mean latency).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import common

QUICK_PASSAGES = 30


def peer_ingest(corpus: Path, work: Path, embed_model: Any) -> tuple[Any, float, int]:
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from llama_index.core import Document, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.vector_stores.chroma import ChromaVectorStore

    client = chromadb.PersistentClient(path=str(work / "peer-chroma"),
                                       settings=ChromaSettings(anonymized_telemetry=False))
    collection = client.get_or_create_collection("peer", embedding_function=None)
    collection.count()
    started = time.perf_counter()
    documents = [Document(text=r["text"], metadata={"title": r["title"]}, id_=r["id"])
                 for r in common.corpus_records() if r["id"] in _ids(corpus)]
    storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=collection))
    index = VectorStoreIndex.from_documents(documents, storage_context=storage, embed_model=embed_model,
                                            transformations=[SentenceSplitter()])
    return index, time.perf_counter() - started, collection.count()


def _ids(corpus: Path) -> set[str]:
    import json

    return {json.loads(line)["id"] for line in corpus.open()}


def citeqa_ingest(corpus: Path, work: Path, encoder: str, embedder: Any) -> tuple[Any, float, int]:
    from service import components

    parts = components.build(common.settings(work / f"citeqa-{encoder}", encoder=encoder,
                                             encoder_cache_dir=common.CACHE / "encoders"), embedder)
    parts.store.count_chunks()
    started = time.perf_counter()
    report = parts.indexer.ingest(corpus, progress=False)
    return parts, time.perf_counter() - started, report.chunks_embedded


def timed_queries(retrieve: Any, questions: list[dict[str, Any]]) -> tuple[list[float], float]:
    latencies, hits, answerable = [], 0, 0
    for q in questions:
        started = time.perf_counter()
        doc_ids = retrieve(q["question"])
        latencies.append((time.perf_counter() - started) * 1000)
        if q["answerable"]:
            answerable += 1
            hits += bool({e["doc"] for e in q["evidence"]} & set(doc_ids))
    return latencies, hits / max(answerable, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_PASSAGES} passages, 40 questions")
    args = parser.parse_args()
    try:
        import llama_index.core  # noqa: F401
    except ImportError:
        raise SystemExit("LlamaIndex is not installed: .venv/bin/pip install "
                         "-c <(.venv/bin/pip freeze --exclude-editable) -e '.[bench]'") from None
    header = common.machine()
    work = Path(tempfile.mkdtemp(prefix="bench-peer-"))
    try:
        run(args, work, header)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path, header: str) -> None:
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    from ingest.embedding import SentenceTransformerEmbedder, resolve_model_path
    from ingest.onnx_embedding import OnnxInt8Embedder

    corpus = common.write_corpus(work / "clapnq.jsonl", QUICK_PASSAGES if args.quick else None)
    ids = _ids(corpus)
    questions = [q for q in common.questions() if not q["answerable"] or {e["doc"] for e in q["evidence"]} & ids]
    questions = questions[:40] if args.quick else questions
    peer_model = HuggingFaceEmbedding(model_name=str(resolve_model_path("all-MiniLM-L6-v2")), device="cpu")
    peer_model.get_text_embedding("warm up")
    encoders = {"torch": SentenceTransformerEmbedder(),
                "onnx-int8": OnnxInt8Embedder(cache_dir=common.CACHE / "encoders")}
    for encoder in encoders.values():
        encoder.embed(["warm up"])

    results: dict[str, dict[str, Any]] = {}

    def peer_step(_: int) -> None:
        index, seconds, chunks = peer_ingest(corpus, work, peer_model)
        results["LlamaIndex"] = {"ingest": seconds, "chunks": chunks, "index": index}
        print(f"LlamaIndex ingest {seconds:.1f} s, {chunks} chunks", flush=True)

    def citeqa_step(name: str) -> Any:
        def step(_: int) -> None:
            parts, seconds, chunks = citeqa_ingest(corpus, work, name, encoders[name])
            results[f"citeqa {name}"] = {"ingest": seconds, "chunks": chunks, "parts": parts}
            print(f"citeqa {name} ingest {seconds:.1f} s, {chunks} chunks", flush=True)
        return step

    common.alternate(1, citeqa_step("torch"), peer_step, citeqa_step("onnx-int8"))
    retriever = results["LlamaIndex"]["index"].as_retriever(similarity_top_k=5)
    retrieve_peer = lambda q: [n.node.ref_doc_id for n in retriever.retrieve(q)]  # noqa: E731
    for name in ("torch", "onnx-int8"):
        parts = results[f"citeqa {name}"]["parts"]
        results[f"citeqa {name}"]["queries"] = timed_queries(
            lambda q, parts=parts: [p.chunk.doc_id for p in parts.retriever.retrieve(q, 5).passages], questions)
    results["LlamaIndex"]["queries"] = timed_queries(retrieve_peer, questions)

    lines: list[str] = []
    peer = results["LlamaIndex"]
    lines.append(f"- corpus: CLAPnq, {len(ids)} passages; {len(questions)} questions, each asked once a side; "
                 "same model (all-MiniLM-L6-v2, local), same embedded Chroma")
    lines.append("- LlamaIndex 0.14.25 defaults: SentenceSplitter (1024-token chunks, 200 overlap; the model reads "
                 "256 word-pieces, so longer chunks are cut short), HuggingFaceEmbedding (torch, batch 10), "
                 "ChromaVectorStore, dense top-5")
    lines.append("| pipeline | chunks | ingest s | ingest speed-up vs LlamaIndex | query mean ms | p50 | p95 | "
                 "query speed-up vs LlamaIndex | gold-passage recall@5 |")
    lines.append("|---|---|---|---|---|---|---|---|---|")
    peer_mean = statistics.mean(peer["queries"][0])
    for name, r in results.items():
        lat, recall = r["queries"]
        mean = statistics.mean(lat)
        lines.append(f"| {name} | {r['chunks']} | {r['ingest']:.1f} | {peer['ingest'] / r['ingest']:.2f}x | "
                     f"{mean:.1f} | {common.percentile(lat, 50):.1f} | {common.percentile(lat, 95):.1f} | "
                     f"{peer_mean / mean:.2f}x | {recall:.3f} |")
    for name in ("torch", "onnx-int8"):
        r = results[f"citeqa {name}"]
        ingest_ratio = peer["ingest"] / r["ingest"]
        query_ratio = peer_mean / statistics.mean(r["queries"][0])
        lines.append(f"- citeqa ({name}) vs LlamaIndex: ingest **{ingest_ratio:.2f}x** (target >= 1.5x: "
                     f"{'reached' if ingest_ratio >= 1.5 else 'NOT reached'}), "
                     f"retrieval queries **{query_ratio:.2f}x** "
                     f"(target >= 2x: {'reached' if query_ratio >= 2 else 'NOT reached'})")
    print("\n".join(lines))
    common.write_section(f"peer{'-quick' if args.quick else ''}",
                         f"Peer: LlamaIndex default pipeline vs citeqa{' (quick)' if args.quick else ''}", lines,
                         header)


if __name__ == "__main__":
    main()
