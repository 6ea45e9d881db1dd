"""Load benchmark (issue 7): N `/ask` requests from C concurrent clients against one `citeqa serve` process.

Reports errors (target 0), latency percentiles, throughput, and the server's RSS after warm-up and at the end
(target: growth under 10%). The corpus is the CLAPnq passages (596) unless --corpus says otherwise; questions
cycle through the CLAPnq questions, so answers, refusals and cache misses are all exercised.

    .venv/bin/python bench/load.py            # 10,000 requests, 8 clients
    .venv/bin/python bench/load.py --quick    # 500 requests
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
from pathlib import Path

import httpx

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


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--corpus", type=Path, default=CLAPNQ / "corpus.jsonl")
    parser.add_argument("--questions", type=Path, default=CLAPNQ / "questions.jsonl")
    parser.add_argument("--quick", action="store_true", help="500 requests")
    args = parser.parse_args()
    total = 500 if args.quick else args.requests
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
        with httpx.Client(timeout=60) as client:  # warm up: BM25 index, caches, allocator
            for question in questions[:50]:
                client.post(f"{url}/ask", json={"question": question})
        rss_start = rss_mib(server.pid)

        latencies: list[float] = []
        errors: list[str] = []
        counter = iter(range(total))
        lock = threading.Lock()

        def client_loop() -> None:
            with httpx.Client(timeout=60) as client:
                while True:
                    with lock:
                        index = next(counter, None)
                    if index is None:
                        return
                    started = time.perf_counter()
                    try:
                        response = client.post(f"{url}/ask", json={"question": questions[index % len(questions)]})
                        ok = response.status_code == 200
                        detail = f"HTTP {response.status_code}"
                    except httpx.HTTPError as exc:
                        ok, detail = False, type(exc).__name__
                    elapsed = (time.perf_counter() - started) * 1000
                    with lock:
                        latencies.append(elapsed)
                        if not ok:
                            errors.append(detail)

        started = time.perf_counter()
        threads = [threading.Thread(target=client_loop) for _ in range(args.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
        rss_end = rss_mib(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)

    growth = (rss_end - rss_start) / rss_start * 100
    figures = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "command": " ".join(["bench/load.py", *sys.argv[1:]]),
        "requests": len(latencies), "clients": args.clients, "errors": len(errors),
        "error_kinds": sorted(set(errors)),
        "throughput_rps": round(len(latencies) / wall, 1),
        "latency_ms": {f"p{q}": round(percentile(latencies, q), 1) for q in (50, 95, 99)}
        | {"mean": round(statistics.fmean(latencies), 1), "max": round(max(latencies), 1)},
        "rss_mib": {"start": round(rss_start, 1), "end": round(rss_end, 1), "growth_pct": round(growth, 2)},
        "targets": {"errors == 0": not errors, "rss growth < 10%": growth < 10},
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
