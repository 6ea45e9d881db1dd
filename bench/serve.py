"""Serving: POST /ask latency and throughput at 10k and 100k chunks, memory, cold start, `citeqa --help`.

    .venv/bin/python -m bench.serve [--quick] [--sizes 10000,100000] [--encoder torch|onnx-int8] [--variants ...]

The stores are synthetic, built once and cached under bench/.cache/stores/: replica 0 is the real CLAPnq
corpus with its real embeddings; replica r >= 1 repeats every passage with "V<r> " put before each of its
sentences (so no two chunks, and no two sentences, share a text: the answerer's sentence cache cannot flatter
the figures) and with the real chunk vector plus Gaussian noise (sigma 0.01 a dimension, renormalised; cosine
~0.98 to the original); the same for the sentence vectors kept for CITEQA_SENTENCE_VECTORS (real ones for
replica 0, pooled from the forward pass of the real chunk that holds the sentence, as ingest makes them). The
query path is the real one: `citeqa serve` in its own process, the real model for each question, hybrid
retrieval, the default (extractive) answerer, over HTTP.

Questions are the 399 CLAPnq questions in four spellings ("q", "q?", "Tell me q", "Q."), each asked once per
run, so the question cache never answers. Each size runs with default settings (sentence vectors on) and with
CITEQA_SENTENCE_VECTORS=false (--variants; --quick: the former only). One client asks them in turn
(p50/p95/p99 of the client-side latency); then 8 clients ask concurrently (requests/s, errors). Peak RSS is
the server's VmHWM at the end. Cold start is from process start to /healthz ready; the server saves its BM25
index under the data dir, so each size first starts once with none saved (the start after an ingest: the
index is built from the store and saved), and every measured start after it loads the saved index.
Targets at 100k: p50 <= 30 ms, p99 <= 120 ms, >= 30 req/s with 8 clients, 0 errors; peak RSS <= 1.5 GiB;
cold start to /healthz ready <= 15 s; `citeqa --help` < 1 s.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench import common

SIGMA = 0.01
STORE_VERSION = "3"  # 3: sentence vectors pooled from their chunk's pass (ingest.embedding.POOLING)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def corpus_vectors(encoder: str) -> tuple[list[Any], list[Any], np.ndarray]:
    """The real CLAPnq documents, their chunks and the chunks' real vectors (cached by chunk texts)."""
    from ingest.loaders import load_path
    from service import components

    settings = common.settings(common.CACHE / "scratch", encoder=encoder, encoder_cache_dir=common.CACHE / "encoders")
    embedder = components.build_embedder(settings)
    indexer = components.build(settings, embedder).indexer
    _, documents = load_path(common.CORPUS, [])
    chunks = [chunk for doc in documents for chunk in indexer.chunk(doc)]
    key = hashlib.sha256("\0".join(c.id for c in chunks).encode()).hexdigest()[:12]
    cache = common.CACHE / f"clapnq-vectors-{encoder}-{key}.npy"
    if cache.is_file():
        vectors = np.load(cache)
    else:
        print(f"embedding {len(chunks)} CLAPnq chunks with {encoder} (cached for later runs)...", flush=True)
        vectors = embedder.embed([c.text for c in chunks])
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, vectors)
    return documents, chunks, vectors


def sentence_vectors(encoder: str, documents: list[Any], chunks: list[Any]) -> dict[str, np.ndarray]:
    """Real vectors of every sentence of every CLAPnq document, by document id (cached): each pooled from the
    forward pass of the first real chunk that holds the sentence, as ingest makes them."""
    from ingest.chunking import split_sentences
    from service import components

    doc_spans = {doc.id: split_sentences(doc.text) for doc in documents}
    key = hashlib.sha256("\0".join(c.id for c in chunks).encode()).hexdigest()[:12]
    cache = common.CACHE / f"clapnq-pooled-sentences-{encoder}-{key}.npz"
    if cache.is_file():
        return dict(np.load(cache))
    print(f"pooling the sentences of {len(chunks)} CLAPnq chunks with {encoder} (cached for later runs)...",
          flush=True)
    settings = common.settings(common.CACHE / "scratch", encoder=encoder, encoder_cache_dir=common.CACHE / "encoders")
    spans = [split_sentences(chunk.text) for chunk in chunks]
    _, pooled = components.build_embedder(settings).embed_with_spans([c.text for c in chunks], spans)
    out = {doc.id: np.zeros((len(doc_spans[doc.id]), 384), dtype=np.float32) for doc in documents}
    filled = {doc.id: [False] * len(doc_spans[doc.id]) for doc in documents}
    for chunk, chunk_spans, rows in zip(chunks, spans, pooled, strict=True):
        index = {start: i for i, (start, _) in enumerate(doc_spans[chunk.doc_id])}
        for (start, _), row in zip(chunk_spans, rows, strict=True):
            i = index.get(chunk.start + start)
            if i is not None and not filled[chunk.doc_id][i]:
                out[chunk.doc_id][i], filled[chunk.doc_id][i] = row, True
    np.savez(cache, **out)
    return out


def chunk_sentence_vectors(replica: Any, chunks: list[Any], doc_vectors: np.ndarray) -> list[np.ndarray] | None:
    """Each chunk's rows of its document's sentence vectors (the replica's sentences match the original's)."""
    from ingest.chunking import split_sentences

    index = {start: i for i, (start, _) in enumerate(split_sentences(replica.text))}
    if len(index) != len(doc_vectors):
        return None
    out = []
    for chunk in chunks:
        rows = [index.get(chunk.start + start) for start, _ in split_sentences(chunk.text)]
        if any(row is None for row in rows):
            return None
        out.append(doc_vectors[rows])
    return out


def replica_document(doc: Any, r: int) -> Any:
    from ingest.chunking import split_sentences
    from ingest.models import Document

    if r == 0:
        return doc
    text, cursor, parts = doc.text, 0, []
    for start, _ in split_sentences(text):
        parts.append(text[cursor:start] + f"V{r} ")
        cursor = start
    parts.append(text[cursor:])
    return Document(id=f"{doc.id}~{r}", title=f"{doc.title} ({r})", source=f"{doc.source}~{r}", text="".join(parts),
                    root=doc.root)


def build_store(size: int, encoder: str) -> Path:
    """A store of ``size`` chunks (see the module docstring), built once and cached."""
    from service import components

    data_dir = common.CACHE / "stores" / f"{size}-{encoder}-v{STORE_VERSION}"
    if (data_dir / "complete").is_file():
        return data_dir
    shutil.rmtree(data_dir, ignore_errors=True)
    documents, chunks, vectors = corpus_vectors(encoder)
    doc_sentences = sentence_vectors(encoder, documents, chunks)
    by_doc: dict[str, list[int]] = {}
    for i, chunk in enumerate(chunks):
        by_doc.setdefault(chunk.doc_id, []).append(i)
    settings = common.settings(data_dir, encoder=encoder, encoder_cache_dir=common.CACHE / "encoders")
    parts = components.build(settings)
    rng = np.random.default_rng(size)
    total, r, started = 0, 0, time.perf_counter()
    print(f"building a {size}-chunk store in {data_dir} (once)...", flush=True)
    while total < size:
        batch_chunks, batch_vectors, records, sentence_ids, sentence_rows = [], [], [], [], []
        for doc in documents:
            if total + len(batch_chunks) >= size:
                break
            replica = replica_document(doc, r)
            new_chunks = parts.indexer.chunk(replica)[: size - total - len(batch_chunks)]
            originals = by_doc[doc.id]
            base = vectors[[originals[min(i, len(originals) - 1)] for i in range(len(new_chunks))]]
            if r:
                base = base + rng.normal(0, SIGMA, base.shape).astype(np.float32)
                base /= np.linalg.norm(base, axis=1, keepdims=True)
            per_chunk = chunk_sentence_vectors(replica, new_chunks, doc_sentences[doc.id])
            if per_chunk is not None:
                for chunk, rows in zip(new_chunks, per_chunk, strict=True):
                    if r and len(rows):
                        rows = rows + rng.normal(0, SIGMA, rows.shape).astype(np.float32)
                        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
                    sentence_ids.append(chunk.id)
                    sentence_rows.append(rows)
            batch_chunks += new_chunks
            batch_vectors.append(base)
            records.append((replica, len(new_chunks)))
        parts.store.upsert_chunks(batch_chunks, np.vstack(batch_vectors).astype(np.float32))
        parts.store.put_sentence_vectors(sentence_ids, sentence_rows)
        parts.store.put_documents(records, parts.indexer.recipe)
        total += len(batch_chunks)
        r += 1
        print(f"  replica {r}: {total} chunks ({time.perf_counter() - started:.0f} s)", flush=True)
    (data_dir / "complete").write_text(json.dumps({"chunks": total, "replicas": r}))
    return data_dir


def question_variants() -> list[str]:
    base = [q["question"].strip() for q in common.questions()]
    variants = [[q, q + "?", "Tell me " + q, q[:1].upper() + q[1:] + "."] for q in base]
    return [v[i] for i in range(4) for v in variants]


class Server:
    """`citeqa serve` in its own process."""

    def __init__(self, data_dir: Path, encoder: str, sentence_vectors: bool) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {key: value for key, value in os.environ.items() if not key.startswith("CITEQA_")}
        env.update(CITEQA_DATA_DIR=str(data_dir), CITEQA_ENCODER=encoder, CITEQA_PORT=str(self.port),
                   CITEQA_ENCODER_CACHE_DIR=str(common.CACHE / "encoders"),
                   CITEQA_SENTENCE_VECTORS=str(sentence_vectors).lower())
        self.log = (common.CACHE / "serve.log").open("w")
        self.started = time.perf_counter()
        self.process = subprocess.Popen([str(common.ROOT / ".venv" / "bin" / "citeqa"), "serve"], env=env,
                                        cwd=common.ROOT, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, client: Any, timeout: float = 180) -> float:
        while time.perf_counter() - self.started < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"citeqa serve exited with {self.process.returncode}; see bench/.cache/serve.log")
            try:
                if client.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return time.perf_counter() - self.started
            except Exception:  # not listening yet
                pass
            time.sleep(0.05)
        raise RuntimeError("citeqa serve was not ready in time")

    def peak_rss_mib(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024  # type: ignore[union-attr]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def ask(client: Any, url: str, question: str) -> tuple[float, int]:
    started = time.perf_counter()
    response = client.post(url + "/ask", json={"question": question}, timeout=60)
    elapsed = time.perf_counter() - started
    if response.status_code == 200:
        body = response.json()
        assert "answer" in body and "citations" in body
    return elapsed, response.status_code


def concurrent(url: str, questions: list[str], clients: int, seconds: float) -> tuple[int, int, float]:
    import httpx

    lock = threading.Lock()
    queue = list(reversed(questions))
    done, errors = [0], [0]
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        with httpx.Client() as client:
            while time.perf_counter() < deadline:
                with lock:
                    if not queue:
                        return
                    question = queue.pop()
                _, status = ask(client, url, question)
                with lock:
                    done[0] += 1
                    errors[0] += status != 200

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return done[0], errors[0], time.perf_counter() - started


def help_seconds() -> list[float]:
    out = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run([str(common.ROOT / ".venv" / "bin" / "citeqa"), "--help"], check=True, capture_output=True)
        out.append(time.perf_counter() - started)
    return out


def first_start(size: int, args: argparse.Namespace, lines: list[str], variant: str) -> None:
    """Start-up with no saved BM25 index (as after an ingest): built from the store and saved for later starts."""
    import httpx

    data_dir = build_store(size, args.encoder)
    shutil.rmtree(data_dir / "bm25", ignore_errors=True)
    server = Server(data_dir, args.encoder, variant != "no-sentence-vectors")
    try:
        with httpx.Client() as client:
            ready = server.wait_ready(client)
        rss = server.peak_rss_mib()
    finally:
        server.stop()
    common.emit(lines, f"- **{size:,} chunks** ({args.encoder}, {variant}), first start with no saved BM25 index "
                       f"(built from the store, then saved): ready in **{ready:.1f} s**, peak RSS {rss:.0f} MiB; "
                       "every start below loads the saved index")


def bench_size(size: int, args: argparse.Namespace, questions: list[str], lines: list[str], variant: str) -> None:
    import httpx

    data_dir = build_store(size, args.encoder)
    server = Server(data_dir, args.encoder, variant != "no-sentence-vectors")
    try:
        with httpx.Client() as client:
            cold = server.wait_ready(client)
            first, status = ask(client, server.url, "warm up: who sang it's now or never")
            assert status == 200, status
            for question in questions[:5]:
                ask(client, server.url, question)
            single_n = 30 if args.quick else 200
            pool = questions[5:]
            single = [ask(client, server.url, q) for q in pool[:single_n]]
            single_errors = sum(status != 200 for _, status in single)
            latencies = [elapsed * 1000 for elapsed, _ in single]
        done, errors, elapsed = concurrent(server.url, pool[single_n:], 8, 8 if args.quick else 40)
        rss = server.peak_rss_mib()
    finally:
        server.stop()
    p50, p95, p99 = (common.percentile(latencies, q) for q in (50, 95, 99))
    rate = done / elapsed
    big = size >= 100_000
    common.emit(lines, f"- **{size:,} chunks** ({args.encoder}, {variant}): cold start to /healthz ready "
                       f"**{cold:.1f} s**; first /ask after it {first * 1000:.0f} ms")
    common.emit(lines, f"  - 1 client, {len(latencies)} questions: p50 **{p50:.0f} ms**, p95 {p95:.0f} ms, "
                       f"p99 **{p99:.0f} ms**, mean {statistics.mean(latencies):.0f} ms, {single_errors} errors"
                       + (f"; targets p50 <= 30 ms: {_ok(p50 <= 30)}, p99 <= 120 ms: {_ok(p99 <= 120)}" if big else ""))
    common.emit(lines, f"  - 8 clients: **{rate:.1f} requests/s** ({done} requests in {elapsed:.1f} s), "
                       f"**{errors} errors**" + (f"; target >= 30 req/s, 0 errors: {_ok(rate >= 30 and not errors)}"
                                               if big else ""))
    common.emit(lines, f"  - peak RSS of the server: **{rss:.0f} MiB**"
                       + (f"; target <= 1536 MiB: {_ok(rss <= 1536)}" if big else "")
                       + (f"; cold start target <= 15 s: {_ok(cold <= 15)}" if big else ""))


def _ok(flag: bool) -> str:
    return "reached" if flag else "NOT reached"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k chunks only, 40 + 10 s of requests")
    parser.add_argument("--sizes", default=None, help="comma-separated chunk counts (default 10000,100000)")
    default_encoder = common.settings(Path(".")).encoder
    parser.add_argument("--encoder", default=default_encoder, choices=["torch", "onnx-int8"],
                        help=f"default: the setting's default ({default_encoder})")
    parser.add_argument("--variants", default=None, help="server settings to run, comma-separated: default "
                        "(sentence vectors on), no-sentence-vectors (CITEQA_SENTENCE_VECTORS=false)")
    args = parser.parse_args()
    args.variants = args.variants or ("default" if args.quick else "default,no-sentence-vectors")
    unknown = set(args.variants.split(",")) - {"default", "no-sentence-vectors"}
    if unknown:
        parser.error(f"unknown variants: {', '.join(sorted(unknown))}")
    sizes = [int(s) for s in (args.sizes or ("10000" if args.quick else "10000,100000")).split(",")]
    header = common.machine()
    lines: list[str] = []
    helps = help_seconds()
    common.emit(lines, f"- `citeqa --help`: **{statistics.median(helps):.2f} s** (median of 3: "
                       f"{', '.join(f'{h:.2f}' for h in helps)}); target < 1 s: {_ok(statistics.median(helps) < 1)}")
    common.emit(lines, "- stores: synthetic, cached (module docstring of bench/serve.py): replicas of the real "
                       "CLAPnq chunks, made unique, with perturbed real embeddings (and sentence vectors); real "
                       "`citeqa serve` process, real model for each question, hybrid retrieval, the default "
                       "(extractive) answerer; 'default' = default settings (sentence vectors on), "
                       "'no-sentence-vectors' = CITEQA_SENTENCE_VECTORS=false")
    questions = question_variants()
    for size in sizes:
        variants = args.variants.split(",")
        first_start(size, args, lines, variants[0])
        for variant in variants:
            bench_size(size, args, questions, lines, variant)
    suffix = "" if args.encoder == "torch" else f"-{args.encoder}"
    common.write_section(f"serve{suffix}{'-quick' if args.quick else ''}",
                         f"Serving: POST /ask, memory, start-up ({args.encoder}{', quick' if args.quick else ''})",
                         lines, header)
    sys.exit(0)


if __name__ == "__main__":
    main()
