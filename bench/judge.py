"""The judge of answers: sentences judged per second, and POST /ask over HTTP on the CLAPnq corpus.

    .venv/bin/python -m bench.judge [--quick]

1. In process: the 399 CLAPnq questions retrieved as POST /ask does (hybrid, k = 5, vectors read from the
   store), then :meth:`service.answer.judge.Judge.score` alone timed over them, three passes, the median:
   questions and candidate sentences judged per second, ms per question. The judge is light linear models over
   features (a listwise-fitted ranking score, calibrated; logistic models per question), one of which is the
   reader's logit (service/answer/reader.py: a small attention model, numpy, float32
   over a float16-stored table; no encoder pass, so no int8 variant to compare; the cross-encoder of
   evals/reader.py would have one).
2. Over HTTP: `citeqa serve` in its own process on the CLAPnq corpus (ingested once into
   bench/.cache/judge-store), one client asking the 399 questions in turn, each once (p50/p95/p99 of
   the client-side latency), then the same with the judge's work removed from the figure: the server's own
   ``timings_ms.answer`` (judge, answerer and citation check) per request. Targets (issue "Answers people can
   trust"): p50 <= 50 ms, p99 <= 150 ms.
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench import common
from bench.serve import Server


def in_process(questions: list[str], lines: list[str]) -> None:
    from service import components

    settings = common.settings(common.CACHE / "judge-store",
                               encoder_cache_dir=common.CACHE / "encoders")
    parts = components.build(settings)
    parts.indexer.ingest(common.CORPUS, progress=False)  # once; unchanged afterwards
    parts.retriever.bm25.refresh()  # saved, so the server below loads it
    retrieved = []
    for question in questions:
        retrieval = parts.retriever.retrieve(question, settings.top_k)
        retrieved.append((question, retrieval.query_embedding, retrieval.passages))
    passes, sentences = [], 0
    for _ in range(3):
        started = time.perf_counter()
        sentences = sum(len(parts.judge.score(q, v, p).candidates) for q, v, p in retrieved)
        passes.append(time.perf_counter() - started)
    seconds = statistics.median(passes)
    common.emit(lines, f"- in process, {len(retrieved)} questions x 3 passes: **{len(retrieved) / seconds:.0f} "
                       f"questions/s, {sentences / seconds:.0f} sentences/s** ({1000 * seconds / len(retrieved):.2f} "
                       f"ms a question, {sentences / len(retrieved):.1f} candidate sentences a question; passes "
                       f"{', '.join(f'{s:.2f}' for s in passes)} s)")


def over_http(questions: list[str], lines: list[str]) -> None:
    import httpx

    server = Server(common.CACHE / "judge-store", "onnx-int8", sentence_vectors=True)
    try:
        with httpx.Client() as client:
            ready = server.wait_ready(client)
            latencies, answer_ms = [], []
            for question in questions:
                started = time.perf_counter()
                response = client.post(server.url + "/ask", json={"question": question}, timeout=60)
                latencies.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
                answer_ms.append(response.json()["timings_ms"]["answer"])
    finally:
        server.stop()
    p = {q: common.percentile(latencies, q) for q in (50, 95, 99)}
    ok = "reached" if p[50] <= 50 and p[99] <= 150 else "not reached"
    common.emit(lines, f"- over HTTP, `citeqa serve` on the CLAPnq corpus (ready in {ready:.1f} s), one client, "
                       f"{len(latencies)} distinct questions: **p50 {p[50]:.1f} ms, p95 {p[95]:.1f} ms, p99 "
                       f"{p[99]:.1f} ms** (targets p50 <= 50, p99 <= 150: {ok}); the server's `answer` stage (judge, "
                       f"answerer, citations) p50 {common.percentile(answer_ms, 50):.1f} ms, p99 "
                       f"{common.percentile(answer_ms, 99):.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 questions instead of 399")
    args = parser.parse_args()
    questions = [q["question"] for q in common.questions()][: 100 if args.quick else None]
    lines: list[str] = []
    in_process(questions, lines)
    over_http(questions, lines)
    common.write_section("judge", "The judge of answers: speed", lines,
                         "Candidate sentences of the top 5 passages; see bench/judge.py.")


if __name__ == "__main__":
    main()
