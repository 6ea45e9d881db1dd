"""Load benchmark (issue 7): N `/ask` requests from C concurrent clients against one `citeqa serve` process.

Reports errors (target 0), latency percentiles, throughput, and the server's RSS when ready, after a warm-up
("start": 200 requests on the first 50 questions, from as many clients as the run) and at the end (target:
growth under 10%), with the RSS after every tenth of the run, to tell a leak (growth that goes on) from caches
filling (growth that stops). The corpus is the CLAPnq passages (596) unless --corpus says otherwise; questions
cycle through the 399 CLAPnq questions, so answers, refusals and cache misses are all exercised. The server runs
with the default settings. Writes its section of RESULTS.md.

    .venv/bin/python -m bench.load            # 10,000 requests, 8 clients
    .venv/bin/python -m bench.load --quick    # 500 requests
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from bench import common

ROOT = Path(__file__).resolve().parent.parent
CLAPNQ = ROOT.parent / "shared" / "eval" / "clapnq"


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


WARM_UP_QUESTIONS = 50
WARM_UP_REQUESTS = 200


def run_clients(url: str, clients: int, asks: list[str],
                on_done: Callable[[int], None] | None = None) -> tuple[list[float], list[str]]:
    """POST each question of ``asks`` to /ask from ``clients`` concurrent clients; (latencies in ms, errors)."""
    latencies: list[float] = []
    errors: list[str] = []
    counter = iter(asks)
    lock = threading.Lock()

    def client_loop() -> None:
        with httpx.Client(timeout=60) as client:
            while True:
                with lock:
                    question = next(counter, None)
                if question is None:
                    return
                started = time.perf_counter()
                try:
                    response = client.post(f"{url}/ask", json={"question": question})
                    ok, detail = response.status_code == 200, f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    ok, detail = False, type(exc).__name__
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    latencies.append(elapsed)
                    if not ok:
                        errors.append(detail)
                    if on_done is not None:
                        on_done(len(latencies))

    threads = [threading.Thread(target=client_loop) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--corpus", type=Path, default=CLAPNQ / "corpus.jsonl")
    parser.add_argument("--questions", type=Path, default=CLAPNQ / "questions.jsonl")
    parser.add_argument("--quick", action="store_true", help="500 requests")
    args = parser.parse_args()
    total = 500 if args.quick else args.requests
    header = common.machine()
    questions = [json.loads(line)["question"] for line in args.questions.read_text().splitlines() if line.strip()]

    workdir = Path(tempfile.mkdtemp(prefix="citeqa-load-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEQA_")}
    env.update(CITEQA_DATA_DIR=str(workdir / "store"), CITEQA_PORT=str(free_port()))
    citeqa = [sys.executable, "-m", "service.cli"]
    subprocess.run([*citeqa, "ingest", "--no-progress", str(args.corpus)], env=env, check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{env['CITEQA_PORT']}"
    server = subprocess.Popen([*citeqa, "serve"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("server did not start")
            time.sleep(0.2)
        rss_ready = rss_mib(server.pid)
        # warm-up: the first questions, asked by as many clients at once as the run uses, so that the server's
        # request threads (and what each keeps: stacks, malloc arenas, Chroma connections) exist before "start"
        run_clients(url, args.clients, [questions[i % WARM_UP_QUESTIONS] for i in range(WARM_UP_REQUESTS)])
        rss_start = rss_mib(server.pid)
        timeline: list[tuple[int, float]] = [(0, rss_start)]
        tenth = max(1, total // 10)

        def checkpoint(done: int) -> None:
            if done % tenth == 0:
                timeline.append((done, rss_mib(server.pid)))

        started = time.perf_counter()
        latencies, errors = run_clients(url, args.clients, [questions[i % len(questions)] for i in range(total)],
                                        checkpoint)
        wall = time.perf_counter() - started
        rss_end = rss_mib(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)

    growth = (rss_end - rss_start) / rss_start * 100
    half = next(rss for done, rss in timeline if done >= total // 2)
    late_growth = (rss_end - half) / half * 100
    figures = {
        "date": common.now(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "command": common.command(),
        "requests": len(latencies), "clients": args.clients, "errors": len(errors),
        "error_kinds": sorted(set(errors)),
        "throughput_rps": round(len(latencies) / wall, 1),
        "latency_ms": {f"p{q}": round(common.percentile(latencies, q), 1) for q in (50, 95, 99)}
        | {"mean": round(statistics.fmean(latencies), 1), "max": round(max(latencies), 1)},
        "rss_mib": {"ready": round(rss_ready, 1), "start": round(rss_start, 1), "end": round(rss_end, 1),
                    "growth_pct": round(growth, 2), "second_half_growth_pct": round(late_growth, 2)},
        "targets": {"errors == 0": not errors, "rss growth < 10%": growth < 10},
    }
    print(json.dumps(figures, indent=2))
    latency = figures["latency_ms"]
    lines = [
        f"- server: `citeqa serve`, default settings (encoder {common.settings(workdir).encoder}, sentence vectors "
        f"{'on' if common.settings(workdir).sentence_vectors else 'off'}), CLAPnq corpus ({args.corpus.name}); "
        f"questions cycling through the {len(questions)} CLAPnq questions; warm-up {WARM_UP_REQUESTS} requests "
        f"(the first {WARM_UP_QUESTIONS} questions) from {args.clients} clients",
        f"- **{len(latencies)} requests from {args.clients} clients in {wall:.0f} s: {len(errors)} errors** "
        f"({', '.join(sorted(set(errors))) or 'none'}); target 0: {'reached' if not errors else 'NOT reached'}",
        f"- throughput {figures['throughput_rps']} requests/s; latency p50 {latency['p50']} ms, p95 {latency['p95']} "
        f"ms, p99 {latency['p99']} ms, max {latency['max']} ms",
        f"- RSS of the server: {rss_ready:.0f} MiB when ready, **{rss_start:.0f} MiB after warm-up, {rss_end:.0f} "
        f"MiB at the end: {growth:+.1f}%** (target < 10%: {'reached' if growth < 10 else 'NOT reached'}); "
        f"second half of the run {late_growth:+.1f}%",
        "- RSS after every tenth of the run (requests: MiB): "
        + ", ".join(f"{done}: {rss:.0f}" for done, rss in timeline),
    ]
    common.write_section("load-quick" if args.quick else "load", "Load: /ask from 8 concurrent clients against "
                         f"one process{' (quick)' if args.quick else ''}", lines, header)


if __name__ == "__main__":
    main()
